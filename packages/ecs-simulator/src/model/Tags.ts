/** ECS resource tags (`{ key, value }`), merged by key. */
export interface Tag {
  readonly key: string
  readonly value: string
}

export const merge = (target: Array<Tag>, tags: ReadonlyArray<Tag>): void => {
  for (const tag of tags) {
    const existing = target.findIndex((t) => t.key === tag.key)
    if (existing >= 0) target.splice(existing, 1)
    target.push(tag)
  }
}
