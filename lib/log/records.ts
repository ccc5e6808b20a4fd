/**
 * What the library reports when someone listens: one `LogRecord` per exchange on the wire or
 * decision taken, in sections. The same records reach a `logger` option, `NODE_DEBUG` and the
 * `diagnostics_channel` channels (docs/troubleshooting.md, "Logging").
 */

/**
 * Where a record comes from:
 * - `ssdp`: search datagrams sent and received;
 * - `http`: connections, request and reply heads and bodies (descriptions and SOAP);
 * - `soap`: each UPnP action's outcome (its values, or the fault);
 * - `pxp`: NAT-PMP and PCP datagrams and timeouts;
 * - `upnp`: discovery's decisions (a device described, a deadline that cut one short);
 * - `mapper`: what a `PortMapper` decided (mapped, renewed, lost, restored, fallbacks).
 */
export type LogSection = 'ssdp' | 'http' | 'soap' | 'pxp' | 'upnp' | 'mapper'

/** Every section, in data-flow order. */
export const LOG_SECTIONS: readonly LogSection[] = ['ssdp', 'http', 'soap', 'pxp', 'upnp', 'mapper']

/**
 * One thing that happened. `message` is safe to print (what a device sent is escaped and
 * capped); the other strings are bounded by the library's size caps but are the raw text a
 * device sent: escape them before showing them on a terminal.
 */
export interface LogRecord {
  /** Which part of the library made it (and the `diagnostics_channel` it is published on). */
  section: LogSection
  /** What happened: `ssdp.sent`, `ssdp.received`, `http.connection`, `http.request`,
   *  `http.response`, `http.failed`, `soap.result`, `pxp.sent`, `pxp.received`,
   *  `pxp.failed`, `upnp.described`, `upnp.deadline`, `upnp.discovered`, `mapper.*`,
   *  `trace.dropped` (records a busy listener could not hold). */
  event: string
  /** Milliseconds since the Unix epoch. */
  time: number
  /** One line for people: what happened, escaped and capped. */
  message: string
  /** The library call the record belongs to (the same number for all records of one call). */
  call?: number
  /** The other end (`192.168.1.1:5000`). */
  peer?: string
  /** Our end of the exchange (`192.168.1.10:50123`). */
  local?: string
  /** A description or control URL, or a request's path. */
  url?: string
  /** The SOAP action, or the HTTP method. */
  action?: string
  /** HTTP status. */
  status?: number
  /** A UPnP fault's code, a NAT-PMP/PCP result code, or an `IGDStatus` (`upnp.described`). */
  code?: number
  /** Retransmission count of a NAT-PMP/PCP request (1 = first send). */
  attempt?: number
  /** Time the exchange took so far, in milliseconds. */
  elapsedMs?: number
  /** The HTTP exchange a request and its reply (or failure) share. */
  exchange?: number
  /** An HTTP head (request or reply) or an M-SEARCH as sent. */
  head?: string
  /** Bytes as they went over the wire, as text (`bodyEncoding`). */
  body?: string
  /** `utf8` (the bytes were valid UTF-8), `latin1` (one character per byte) or `hex`
   *  (NAT-PMP and PCP datagrams). */
  bodyEncoding?: 'utf8' | 'latin1' | 'hex'
  /** The outcome or the error in the library's words, with what the device said. */
  detail?: string
}

/** A function receiving records (pino's `logger.debug.bind(logger)`, Electron's log, ...).
 *  It is called synchronously; what it throws is reported once as a process warning. */
export type Logger = (record: LogRecord) => void

/** The `diagnostics_channel` name of each section: `upnp-native:ssdp`, `upnp-native:http`, ... */
export function channelName(section: LogSection): string {
  return `upnp-native:${section}`
}
