/**
 * A record as lines of text for a terminal or a log file: its message, then (for the wire
 * records) the head and body as they went over the wire, indented with `| `. Every line is
 * escaped and capped (`shown`), so a device's bytes can neither control the terminal nor
 * flood it; what is left out is said.
 */
import type { LogRecord } from './records.ts'
import { shown } from './visible.ts'

/** A printed line of a head or body, and a printed body, at most (the record holds all). */
const MAX_LINE_CHARS = 512
const MAX_BODY_CHARS = 16 * 1024

function wireLines(text: string, maxChars: number): string[] {
  const cut = text.length > maxChars
  const lines = (cut ? text.slice(0, maxChars) : text).replace(/(\r?\n)+$/, '').split(/\r?\n/)
  const out = lines.map((line) => `  | ${shown(line, MAX_LINE_CHARS)}`)
  if (cut) out.push(`  | … (${text.length - maxChars} more characters)`)
  return out
}

/** The record's message, then its head and body (if it carries them). */
export function transcript(record: LogRecord): string[] {
  const lines = [record.message]
  if (record.head) lines.push(...wireLines(record.head, MAX_BODY_CHARS))
  if (record.body) {
    if (record.bodyEncoding === 'hex') lines.push(`  | ${record.body.replace(/(.{8})/g, '$1 ').trim()}`)
    else {
      if (record.head && !record.head.endsWith('\n\n') && record.event !== 'ssdp.sent') lines.push('  |')
      lines.push(...wireLines(record.body, MAX_BODY_CHARS))
    }
  }
  return lines
}
