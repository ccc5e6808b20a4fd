// Judges each row: equal values agree; a difference is deliberate only when deviations.ts
// lists it (scenario, row, and the values where the entry pins them); anything else is
// unexplained. A listed deviation that no row shows any more is stale: the list must say
// what really differs, so both fail the run.
import type { Row } from './compare.ts'
import { type Deviation, DEVIATIONS } from './deviations.ts'

export type Verdict =
  { kind: 'agree'; row: Row } | { kind: 'deliberate'; row: Row; deviation: Deviation } | { kind: 'unexplained'; row: Row }

const matches = (pattern: string | RegExp, text: string): boolean => (typeof pattern === 'string' ? pattern === text : pattern.test(text))

function explains(d: Deviation, scenario: string, row: Row): boolean {
  return d.where.some(
    (w) =>
      matches(w.scenario, scenario) &&
      matches(w.row, row.label) &&
      (w.godot === undefined || matches(w.godot, row.godot)) &&
      (w.ours === undefined || matches(w.ours, row.ours)),
  )
}

export function judge(scenario: string, rows: Row[], used: Set<string>, deviations: Deviation[] = DEVIATIONS): Verdict[] {
  return rows.map((row) => {
    if (row.same) return { kind: 'agree', row }
    const deviation = deviations.find((d) => explains(d, scenario, row))
    if (!deviation) return { kind: 'unexplained', row }
    used.add(deviation.id)
    return { kind: 'deliberate', row, deviation }
  })
}

/** Deviations that apply to the scenarios run but explained no row. */
export function staleDeviations(scenariosRun: string[], used: Set<string>, deviations: Deviation[] = DEVIATIONS): Deviation[] {
  return deviations.filter((d) => !used.has(d.id) && d.where.some((w) => scenariosRun.some((s) => matches(w.scenario, s))))
}
