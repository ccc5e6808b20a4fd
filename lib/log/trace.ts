/**
 * Where records go, and when they are made at all. A record is built only when someone
 * listens: a `logger` (given to `UPNP`, `UPNPDevice` or `PortMapper`, or in effect for the
 * work a `PortMapper` does), `NODE_DEBUG=upnp-native` (or one section,
 * `NODE_DEBUG=upnp-native:http`), or a `diagnostics_channel` subscriber of the section.
 * Otherwise a native call runs exactly as before (no trace id, nothing built in Rust) and a
 * decision the library notes costs one check.
 *
 * A traced native call gets an id from the addon (`traceCall()`); its records queue up in
 * Rust and are taken here when the addon says some are waiting, and once more right after
 * the call settles, so every record of a call is delivered before its result is used.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import diagnosticsChannel from 'node:diagnostics_channel'
import { debuglog } from 'node:util'
import * as native from '../native/index.ts'
import { describe } from './describe.ts'
import { channelName, LOG_SECTIONS, type LogRecord, type Logger, type LogSection } from './records.ts'
import { transcript } from './transcript.ts'

/** The sections whose records the addon makes. */
const NATIVE_SECTIONS: readonly LogSection[] = ['ssdp', 'http', 'soap', 'pxp', 'upnp']

const channels = Object.fromEntries(LOG_SECTIONS.map((s) => [s, diagnosticsChannel.channel(channelName(s))])) as Record<
  LogSection,
  diagnosticsChannel.Channel
>

/** NODE_DEBUG is read once, when the process starts: the printer of each section, if any. */
const printers = (() => {
  const all = debuglog('upnp-native')
  return Object.fromEntries(
    LOG_SECTIONS.map((s) => {
      const own = debuglog(`upnp-native:${s}`)
      const print = own.enabled ? own : all.enabled ? all : null
      const prefix = own.enabled ? '' : `${s}: `
      return [s, print && ((record: LogRecord) => print('%s', prefix + transcript(record).join('\n')))]
    }),
  ) as Record<LogSection, ((record: LogRecord) => void) | null>
})()

/** Whether anything but a logger listens to `section`. */
function listened(section: LogSection): boolean {
  return printers[section] !== null || channels[section].hasSubscribers
}

// ---- the logger in effect ----------------------------------------------------------------

/** Created on first use: until a PortMapper has a logger, no async context is tracked. */
let context: AsyncLocalStorage<Logger> | null = null

/** Runs `work` with `logger` in effect for the library calls it makes (a PortMapper's). */
export function withLogger<T>(logger: Logger | null | undefined, work: () => T): T {
  if (!logger) return work()
  context ??= new AsyncLocalStorage()
  return context.run(logger, work)
}

function inEffect(own: Logger | null | undefined): Logger | null {
  return own ?? context?.getStore() ?? null
}

// ---- delivery ------------------------------------------------------------------------------

let warned = false

/** One record to its logger, the debug output and the section's channel. */
function deliver(record: LogRecord, logger: Logger | null): void {
  Object.freeze(record)
  if (logger) {
    try {
      logger(record)
    } catch (error) {
      if (!warned) {
        warned = true
        process.emitWarning(`an upnp-native logger threw (reported once): ${(error as Error)?.message ?? String(error)}`, {
          type: 'UPNPWarning',
          code: 'UPNP_LOGGER',
        })
      }
    }
  }
  printers[record.section]?.(record)
  const channel = channels[record.section]
  if (channel.hasSubscribers) channel.publish(record)
}

/**
 * A decision of the library (`section` `upnp` or `mapper`), reported when someone listens;
 * `build` makes the record's message and fields only then.
 */
export function note(
  own: Logger | null | undefined,
  section: LogSection,
  event: string,
  build: () => Omit<LogRecord, 'section' | 'event' | 'time'>,
): void {
  const logger = inEffect(own)
  if (!logger && !listened(section)) return
  deliver({ section, event, time: Date.now(), ...build() }, logger)
}

// ---- traced native calls -----------------------------------------------------------------

/** Open calls' loggers, and a few ended ones (a cleanup may report after its call settled). */
const routes = new Map<number, Logger | null>()
const ended: number[] = []
const KEEP_ENDED = 64
let listening = false

function drain(endedCall?: number): void {
  let records: native.TraceRecord[]
  try {
    records = native.traceDrain(endedCall)
  } catch {
    return // the environment is going away
  }
  for (const r of records) deliver(describe(r), routes.get(r.call) ?? null)
  if (endedCall === undefined) return
  ended.push(endedCall)
  if (ended.length > KEEP_ENDED) routes.delete(ended.shift()!)
}

/**
 * Runs a native call, traced when someone listens: `run` gets the trace id to pass as the
 * call's `trace` option, or `undefined` (nobody listens: the call runs as it always did).
 */
export function traced<T>(own: Logger | null | undefined, run: (trace: number | undefined) => Promise<T>): Promise<T> {
  const logger = inEffect(own)
  if (!logger && !NATIVE_SECTIONS.some(listened)) return run(undefined)
  return tracedCall(logger, run)
}

async function tracedCall<T>(logger: Logger | null, run: (trace: number) => Promise<T>): Promise<T> {
  if (!listening) {
    native.traceListen(() => drain())
    listening = true
  }
  const id = native.traceCall()
  routes.set(id, logger)
  try {
    return await run(id)
  } finally {
    drain(id)
  }
}
