/** The repository's one statistics helper: nearest-rank percentiles and means of samples. */

/** The nearest-rank `p`-th percentile (p in [0, 1]) of `values`; 0 for no values. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0
}

/** The arithmetic mean of `values`; 0 for no values. */
export const mean = (values: ReadonlyArray<number>): number =>
  values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length
