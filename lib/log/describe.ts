/**
 * The addon's trace records (`crate/src/trace.rs`, `napi/trace.rs`) in the library's words:
 * a `LogRecord` with its section and a one-line message. Everything a device sent goes
 * through `shown()` (escaped, capped) before it is part of a message.
 */
import type * as native from '../native/index.ts'
import type { LogRecord, LogSection } from './records.ts'
import { shown } from './visible.ts'

/** How much of a device's text a message quotes. */
const QUOTED_CHARS = 160

const ms = (elapsed?: number | null): string => (elapsed == null ? '' : `${elapsed < 10 ? elapsed.toFixed(1) : Math.round(elapsed)} ms`)
const quoted = (text?: string | null): string => shown(text ?? '', QUOTED_CHARS)
const bytes = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`

/** A header's value in an HTTP-like head (SSDP datagrams, HTTP heads), "" when absent. */
export function headerValue(head: string, name: string): string {
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim()
  }
  return ''
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Bytes as text: UTF-8 when they are valid UTF-8, else one character per byte. */
export function bytesAsText(body: Buffer): { body: string; bodyEncoding: 'utf8' | 'latin1' } {
  try {
    return { body: decoder.decode(body), bodyEncoding: 'utf8' }
  } catch {
    return { body: body.toString('latin1'), bodyEncoding: 'latin1' }
  }
}

/** NAT-PMP (version 0) or PCP (version 2), and the opcode's name, from a message's bytes. */
export function pxpKind(message: Buffer): string {
  const version = message[0]
  const op = (message[1] ?? 0) & 0x7f
  if (version === 0) return `NAT-PMP ${['external address', 'map UDP', 'map TCP'][op] ?? `opcode ${op}`}`
  if (version === 2) return `PCP ${['ANNOUNCE', 'MAP', 'PEER'][op] ?? `opcode ${op}`}`
  return `version ${version ?? '?'} message`
}

function sectionOf(event: string): LogSection {
  const prefix = event.slice(0, event.indexOf('.'))
  return prefix === 'ssdp' || prefix === 'http' || prefix === 'soap' || prefix === 'pxp' ? prefix : 'upnp'
}

function message(r: native.TraceRecord, text: string): string {
  const peer = r.peer ?? '?'
  const took = ms(r.elapsedMs)
  switch (r.event) {
    case 'ssdp.sent':
      return `M-SEARCH for ${quoted(headerValue(r.head ?? '', 'ST'))} to ${peer}: ${quoted(r.detail)}`
    case 'ssdp.received': {
      const first = text.split(/\r?\n/, 1)[0] ?? ''
      const location = headerValue(text, 'LOCATION')
      const st = headerValue(text, 'ST')
      return `from ${peer}: ${quoted(first)}${st ? ` ST ${quoted(st)}` : ''}${location ? ` LOCATION ${quoted(location)}` : ''}: ${quoted(r.detail)}`
    }
    case 'http.connection':
      return `${peer}: connection ${quoted(r.detail)}${took ? ` in ${took}` : ''}`
    case 'http.request':
      return `${r.action ?? '?'} http://${peer}${quoted(r.url)}${r.body?.length ? ` (${bytes(r.body.length)})` : ''}`
    case 'http.response':
      return `${peer}: HTTP ${r.status ?? '?'} after ${took} (${bytes(r.body?.length ?? 0)})`
    case 'http.failed':
      return `${peer}: ${quoted(r.detail)}${took ? ` after ${took}` : ''}`
    case 'soap.result':
      return `${quoted(r.action)} at ${quoted(r.url)}: ${quoted(r.detail)}`
    case 'upnp.described':
      return `described ${quoted(r.url)}: ${shown(r.detail ?? '', 400)}`
    case 'pxp.sent':
      return `${r.body ? pxpKind(r.body) : '?'} to ${peer} (attempt ${r.attempt ?? 1}, ${bytes(r.body?.length ?? 0)})`
    case 'pxp.received':
      return `${r.body ? pxpKind(r.body) : '?'} from ${peer} after ${took}: ${quoted(r.detail)}`
    case 'pxp.failed':
      return `${peer}: ${quoted(r.detail)}`
    default:
      return quoted(r.detail)
  }
}

/** One addon record as the library reports it. */
export function describe(r: native.TraceRecord): LogRecord {
  const record: LogRecord = { section: sectionOf(r.event), event: r.event, time: r.time, message: '', call: r.call }
  let text = ''
  if (r.body) {
    if (r.event.startsWith('pxp.')) {
      record.body = r.body.toString('hex')
      record.bodyEncoding = 'hex'
    } else {
      Object.assign(record, bytesAsText(r.body))
      text = record.body ?? ''
    }
  }
  for (const key of ['peer', 'local', 'url', 'action', 'status', 'code', 'attempt', 'elapsedMs', 'exchange', 'head', 'detail'] as const) {
    const value = r[key]
    if (value != null) (record as unknown as Record<string, unknown>)[key] = value
  }
  record.message = message(r, text)
  return record
}
