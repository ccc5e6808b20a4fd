/** Godot's result numbers, and the failure shape every call of the library reports. */
import type { Via } from './types.ts'

/** Godot's `UPNP.UPNPResult`, same names (without the `UPNP_RESULT_` prefix) and numbers. */
export enum UPNPResult {
  /** The call or discovery succeeded. */
  SUCCESS = 0,
  /** The router refused: its UPnP policy forbids this (UPnP 606, HTTP 403; also UPnP switched to read-only). */
  NOT_AUTHORIZED = 1,
  /** No mapping exists for this port and protocol on the device. */
  PORT_MAPPING_NOT_FOUND = 2,
  /** The router found the arguments inconsistent with each other (UPnP 733). */
  INCONSISTENT_PARAMETERS = 3,
  /** No such entry: the port and protocol are not mapped, or a table index is past the end (UPnP 714). */
  NO_SUCH_ENTRY_IN_ARRAY = 4,
  /** The router could not do the action (UPnP 501). */
  ACTION_FAILED = 5,
  /** The router does not accept a wildcard remote host (UPnP 715). */
  SRC_IP_WILDCARD_NOT_PERMITTED = 6,
  /** The router does not accept a wildcard external port (UPnP 716). */
  EXT_PORT_WILDCARD_NOT_PERMITTED = 7,
  /** The router does not accept a wildcard internal port (UPnP 732). */
  INT_PORT_WILDCARD_NOT_PERMITTED = 8,
  /** The router takes only a wildcard (empty) remote host (UPnP 726). */
  REMOTE_HOST_MUST_BE_WILDCARD = 9,
  /** The router takes only a wildcard external port (UPnP 727). */
  EXT_PORT_MUST_BE_WILDCARD = 10,
  /** The router has no room for another mapping, or maps no ports at all (UPnP 728). */
  NO_PORT_MAPS_AVAILABLE = 11,
  /** The port is used by another mechanism on the router, such as a static forward (UPnP 729). */
  CONFLICT_WITH_OTHER_MECHANISM = 12,
  /** The external port is already mapped to another client (UPnP 718). */
  CONFLICT_WITH_OTHER_MAPPING = 13,
  /** The router maps only an external port equal to the internal one (UPnP 724). */
  SAME_PORT_VALUES_REQUIRED = 14,
  /** The router takes only permanent mappings: use a duration of 0 (UPnP 725). */
  ONLY_PERMANENT_LEASE_SUPPORTED = 15,
  /** The device is not a valid gateway (checked before anything is sent). */
  INVALID_GATEWAY = 16,
  /** A port is not a whole number in its range (checked before anything is sent). */
  INVALID_PORT = 17,
  /** The protocol is not exactly "UDP" or "TCP" (checked before anything is sent). */
  INVALID_PROTOCOL = 18,
  /** The duration is negative or too large (checked before anything is sent). */
  INVALID_DURATION = 19,
  /** The router rejected the arguments (UPnP 402), or an argument cannot be sent (control characters). */
  INVALID_ARGS = 20,
  /** The reply is not a SOAP response the action expects, or is over the size cap. */
  INVALID_RESPONSE = 21,
  /** An argument is invalid: a refused description URL, an unknown option value. */
  INVALID_PARAM = 22,
  /** No usable HTTP answer: connection refused or reset, timeout, an error status or an empty reply. */
  HTTP_ERROR = 23,
  /** A socket could not be opened or used. */
  SOCKET_ERROR = 24,
  /** Kept for Godot’s numbering; upnp-native does not report it. */
  MEM_ALLOC_ERROR = 25,
  /** No valid gateway: call `discover()` first, or none of the devices found is a working gateway. */
  NO_GATEWAY = 26,
  /** No devices: call `discover()` first, or discovery found none. */
  NO_DEVICES = 27,
  /** Anything else: a UPnP code with no name here (raw code in `lastError.upnpCode`), an unknown interface, a contained panic. */
  UNKNOWN_ERROR = 28,
}

/** Godot's `UPNPDevice.IGDStatus`. */
export enum IGDStatus {
  /** A working gateway: connected, with a connection service to call. */
  OK = 0,
  /** The description could not be fetched (connection, timeout, HTTP status, size cap). */
  HTTP_ERROR = 1,
  /** The description was an empty reply. */
  HTTP_EMPTY = 2,
  /** Kept for Godot’s numbering; upnp-native does not report it. */
  NO_URLS = 3,
  /** The reply is not a device description (not XML, or no device in it). */
  NO_IGD = 4,
  /** An IGD whose WAN connection is not connected. */
  DISCONNECTED = 5,
  /** A UPnP device, but not an Internet gateway. */
  UNKNOWN_DEVICE = 6,
  /** An IGD without a connection service, or whose status or external-address call fails. */
  INVALID_CONTROL = 7,
  /** Kept for Godot’s numbering; upnp-native does not report it. */
  MALLOC_ERROR = 8,
  /** Not classified yet (a fresh device, or one still being described when discovery ended). */
  UNKNOWN_ERROR = 9,
}

/** What went wrong in a failed call, whichever protocol it spoke: Godot's number plus what the
 *  router said. The one failure shape of the library: `lastError`, what `UPNPError` is made
 *  from and carries, what `explainFailure()` takes. */
export interface UPNPErrorInfo {
  /** Godot's result for the failure. */
  result: UPNPResult
  /** The router's UPnP `errorCode` (e.g. 718), when it sent a SOAP fault. */
  upnpCode?: number
  /** The router's `errorDescription`, or what went wrong on this side. */
  description: string
  /** HTTP status of the router's reply, when there was one. */
  httpStatus?: number
  /** Which protocol said it: absent for UPnP (and for a failure made on this side). */
  via?: Via
  /** NAT-PMP / PCP: the raw result code of the router's answer. */
  resultCode?: number
  /** The exception behind it, when one was caught on this side (a caught panic of the addon,
   *  an error of the caller's code). Carried into `UPNPError.cause`. */
  cause?: unknown
}

/** `UPNPError.code` of each result: `'UPNP_' + UPNPResult[result]`, e.g. `'UPNP_NOT_AUTHORIZED'`. */
export type UPNPErrorCode = `UPNP_${keyof typeof UPNPResult}`

/** The stable string code of a result (`'UPNP_' + name`); an unknown number is `UNKNOWN_ERROR`'s. */
export function errorCode(result: UPNPResult): UPNPErrorCode {
  const name = typeof result === 'number' ? UPNPResult[result] : undefined
  return `UPNP_${(name ?? 'UNKNOWN_ERROR') as keyof typeof UPNPResult}`
}

/**
 * A failed call of the high-level API (PortMapper, the adapters, `deviceFromUrl`, `probe`):
 * Godot's result plus what the router said. `code` is the result as a stable string
 * (`'UPNP_' + UPNPResult name`, Node's convention for `error.code`); `cause` is the error it
 * was made from, when it was made from one (a wrapped `UPNPError`, a caught exception).
 */
export class UPNPError extends Error {
  /** Godot's result for the failure. */
  readonly result: UPNPResult
  /** `'UPNP_' + UPNPResult[result]`, e.g. `'UPNP_CONFLICT_WITH_OTHER_MAPPING'`. */
  readonly code: UPNPErrorCode
  /** UPnP `errorCode` of the router's SOAP fault. */
  readonly upnpCode?: number
  /** NAT-PMP / PCP: the raw result code of the router's answer. */
  readonly resultCode?: number
  /** Which protocol said it. */
  readonly via?: Via
  /** The router's own words (`errorDescription`, a NAT-PMP/PCP result name), or what went
   *  wrong on this side. */
  readonly description: string
  /** HTTP status of the router's reply, when there was one. */
  readonly httpStatus?: number

  /**
   * `info` may be another `UPNPError` (re-thrown with `context`): it becomes the `cause`.
   * Otherwise the cause is `options.cause`, else `info.cause`.
   * @param context - what was being done, put before the message ("map UDP 7777").
   */
  constructor(info: UPNPErrorInfo, context?: string, options?: { cause?: unknown }) {
    const code =
      info.upnpCode != null ? ` (UPnP ${info.upnpCode})` : info.resultCode != null ? ` (${info.via ?? ''} result ${info.resultCode})` : ''
    const cause = options && 'cause' in options ? options.cause : info instanceof Error ? info : info.cause
    super(
      `${context ? `${context}: ` : ''}${UPNPResult[info.result] ?? info.result}${code}: ${info.description}`,
      cause === undefined ? undefined : { cause },
    )
    this.name = 'UPNPError'
    this.result = info.result
    this.code = errorCode(info.result)
    if (info.upnpCode != null) this.upnpCode = info.upnpCode
    if (info.resultCode != null) this.resultCode = info.resultCode
    if (info.via != null) this.via = info.via
    this.description = info.description
    if (info.httpStatus != null) this.httpStatus = info.httpStatus
  }
}

/** A UPNPError made on this side (bad argument, closed mapper, ...). */
export function clientError(result: UPNPResult, description: string): UPNPError {
  return new UPNPError({ result, description })
}

/** Anything thrown, as a UPNPError (a foreign error becomes UNKNOWN_ERROR with its message,
 *  and is its `cause`). */
export function asUpnpError(error: unknown): UPNPError {
  if (error instanceof UPNPError) return error
  return new UPNPError({ result: UPNPResult.UNKNOWN_ERROR, description: messageOf(error) }, undefined, { cause: error })
}

/** What an exception says, without anything that could throw again (a Proxy, a getter, a
 *  null-prototype object, a Symbol as the thrown value). */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message)
    if (typeof error === 'string') return error
  } catch {
    // fall through
  }
  return `a thrown ${error === null ? 'null' : typeof error}`
}
