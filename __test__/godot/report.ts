// Prints a scenario's rows as a table and the run's summary. Values come from routers:
// control characters are escaped and long values shortened before they reach the terminal.
import type { Verdict } from './verdicts.ts'

const WIDTH = { label: 46, value: 42 }

/** Printable, bounded text: control characters as \xNN, the schema prefix dropped. */
export function printable(text: string, width: number): string {
  const clean = text
    .replace(/urn:schemas-upnp-org:/g, '')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  const chars = [...clean]
  return chars.length <= width ? clean.padEnd(width + clean.length - chars.length) : `${chars.slice(0, width - 1).join('')}…`
}

const mark = (v: Verdict): string => {
  if (v.kind === 'agree') return '✓'
  if (v.kind === 'deliberate') return `≠ ${v.deviation.id}`
  return '✗ UNEXPLAINED'
}

export function printScenario(id: string, title: string, engine: string, verdicts: Verdict[]): void {
  const lines = [
    '',
    `━━ ${id}: ${title}`,
    `   ${'call / observation'.padEnd(WIDTH.label)} ${`Godot ${engine}`.padEnd(WIDTH.value)} ${'upnp-native'.padEnd(WIDTH.value)}`,
  ]
  for (const v of verdicts) {
    const r = v.row
    lines.push(`   ${printable(r.label, WIDTH.label)} ${printable(r.godot, WIDTH.value)} ${printable(r.ours, WIDTH.value)} ${mark(v)}`)
  }
  console.log(lines.join('\n'))
}
