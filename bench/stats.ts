// Small statistics for the bench: every figure is a set of repetitions, summarized as the
// median with its spread (min–max and the interquartile range).

export interface Summary {
  n: number
  median: number
  min: number
  max: number
  q1: number
  q3: number
  values: number[]
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export function summarize(values: number[]): Summary {
  const clean = values.filter((v) => Number.isFinite(v))
  const sorted = [...clean].sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    values: clean.map((v) => round(v, 4)),
  }
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Adds every count of `from` into `into` (error messages counted over runs). */
export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n
}

/** Percentile of an unsorted sample (0..100). */
export function percentile(values: number[], p: number): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    p / 100,
  )
}

/** A number with sensible precision for tables: 3 significant digits, no exponent. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–'
  const a = Math.abs(v)
  if (a >= 100) return String(Math.round(v))
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}

/** "median [min–max]" */
export function fmtSummary(s: Summary | undefined, unit = ''): string {
  if (!s || s.n === 0) return '–'
  const u = unit ? ` ${unit}` : ''
  if (s.n === 1) return `${fmt(s.median)}${u}`
  return `${fmt(s.median)}${u} [${fmt(s.min)}–${fmt(s.max)}]`
}
