/** Seeded randomness for trace generation (mulberry32 + the usual transforms): one seed, one trace. */
export interface Random {
  readonly next: () => number
  readonly exponential: (mean: number) => number
  readonly normal: () => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

export const make = (seed: number): Random => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const positive = () => {
    let u = next()
    while (u === 0) u = next()
    return u
  }
  return {
    next,
    exponential: (mean) => -Math.log(positive()) * mean,
    normal: () => Math.sqrt(-2 * Math.log(positive())) * Math.cos(2 * Math.PI * next()),
    pick: (items) => items[Math.floor(next() * items.length)] as never
  }
}
