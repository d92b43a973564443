/**
 * What the model changed since the journal last wrote: the names and ids of apps, machines and volumes touched
 * (created, modified or removed). The journal writes those entities as they are now, or their removal, so a
 * write's cost follows what changed, not the size of the state.
 */
export class Changes {
  readonly apps = new Set<string>()
  readonly machines = new Set<string>()
  readonly volumes = new Set<string>()
  /** Apps whose pruned machines' ledger grew. */
  readonly retired = new Set<string>()

  get empty(): boolean {
    return (
      this.apps.size === 0 && this.machines.size === 0 && this.volumes.size === 0 && this.retired.size === 0
    )
  }

  clear(): void {
    this.apps.clear()
    this.machines.clear()
    this.volumes.clear()
    this.retired.clear()
  }
}
