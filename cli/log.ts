/**
 * --verbose and --log-http: the library's records (`lib/log/`) on stderr as they happen, for
 * every command. The CLI subscribes to the `diagnostics_channel` channels, so the library
 * traces every call while the command runs and nothing else has to pass a logger around.
 *   --verbose   what the library decided, one line each: discovery and probe results, each
 *               device described, each UPnP action's outcome, NAT-PMP/PCP answers and
 *               failures, a PortMapper's events
 *   --log-http  the whole wire transcript: every datagram, connection, head and body
 * Every line is escaped (`transcript`, `terminalSafe`); stdout and --json are untouched.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { channelName, LOG_SECTIONS, type LogRecord } from '../lib/log/records.ts'
import { transcript } from '../lib/log/transcript.ts'
import type { Globals } from './command.ts'
import type { Output } from './output.ts'

/** The records --verbose shows: decisions and outcomes, not the wire. */
function decision(record: LogRecord): boolean {
  if (record.section === 'upnp' || record.section === 'mapper' || record.section === 'soap') return true
  return (
    record.event === 'pxp.failed' || record.event === 'http.failed' || (record.event === 'pxp.received' && record.detail === 'the answer')
  )
}

/** Starts printing records as `g` asks; returns the function that stops it. */
export function showRecords(out: Output, g: Pick<Globals, 'verbose' | 'logHttp'>): () => void {
  if (!g.verbose && !g.logHttp) return () => undefined
  const started = performance.now()
  const style = out.err
  const print = (message: unknown): void => {
    const record = message as LogRecord
    if (!g.logHttp && !decision(record)) return
    const at = style.dim(`+${((performance.now() - started) / 1000).toFixed(3)}s`)
    const [first = '', ...wire] = g.logHttp ? transcript(record) : [record.message]
    out.diagnostic([`${at} ${style.cyan(record.section.padEnd(6))} ${first}`, ...wire.map((line) => style.dim(line))])
  }
  for (const section of LOG_SECTIONS) diagnosticsChannel.subscribe(channelName(section), print)
  return () => {
    for (const section of LOG_SECTIONS) diagnosticsChannel.unsubscribe(channelName(section), print)
  }
}
