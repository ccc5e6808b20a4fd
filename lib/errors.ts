/** Godot's result numbers, and the failure shape every call of the library reports. */
import type { Via } from './types.ts'

/** Godot's `UPNP.UPNPResult`, same names (without the `UPNP_RESULT_` prefix) and numbers. */
export enum UPNPResult {
  SUCCESS = 0,
  NOT_AUTHORIZED = 1,
  PORT_MAPPING_NOT_FOUND = 2,
  INCONSISTENT_PARAMETERS = 3,
  NO_SUCH_ENTRY_IN_ARRAY = 4,
  ACTION_FAILED = 5,
  SRC_IP_WILDCARD_NOT_PERMITTED = 6,
  EXT_PORT_WILDCARD_NOT_PERMITTED = 7,
  INT_PORT_WILDCARD_NOT_PERMITTED = 8,
  REMOTE_HOST_MUST_BE_WILDCARD = 9,
  EXT_PORT_MUST_BE_WILDCARD = 10,
  NO_PORT_MAPS_AVAILABLE = 11,
  CONFLICT_WITH_OTHER_MECHANISM = 12,
  CONFLICT_WITH_OTHER_MAPPING = 13,
  SAME_PORT_VALUES_REQUIRED = 14,
  ONLY_PERMANENT_LEASE_SUPPORTED = 15,
  INVALID_GATEWAY = 16,
  INVALID_PORT = 17,
  INVALID_PROTOCOL = 18,
  INVALID_DURATION = 19,
  INVALID_ARGS = 20,
  INVALID_RESPONSE = 21,
  INVALID_PARAM = 22,
  HTTP_ERROR = 23,
  SOCKET_ERROR = 24,
  MEM_ALLOC_ERROR = 25,
  NO_GATEWAY = 26,
  NO_DEVICES = 27,
  UNKNOWN_ERROR = 28,
}

/** Godot's `UPNPDevice.IGDStatus`. */
export enum IGDStatus {
  OK = 0,
  HTTP_ERROR = 1,
  HTTP_EMPTY = 2,
  NO_URLS = 3,
  NO_IGD = 4,
  DISCONNECTED = 5,
  UNKNOWN_DEVICE = 6,
  INVALID_CONTROL = 7,
  MALLOC_ERROR = 8,
  UNKNOWN_ERROR = 9,
}

/** What went wrong in the last failed call: Godot's number plus what the router said. */
export interface UPNPErrorInfo {
  result: UPNPResult
  /** The router's UPnP `errorCode` (e.g. 718), when it sent a SOAP fault. */
  upnpCode?: number
  /** The router's `errorDescription`, or what went wrong on this side. */
  description: string
  /** HTTP status of the router's reply, when there was one. */
  httpStatus?: number
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
  readonly result: UPNPResult
  /** `'UPNP_' + UPNPResult[result]`, e.g. `'UPNP_CONFLICT_WITH_OTHER_MAPPING'`. */
  readonly code: UPNPErrorCode
  /** UPnP `errorCode` of the router's SOAP fault. */
  readonly upnpCode?: number
  /** NAT-PMP / PCP: the raw result code of the router's answer. */
  readonly resultCode?: number
  /** Which protocol said it. */
  readonly via?: Via
  readonly description: string
  readonly httpStatus?: number

  /**
   * `info` may be another `UPNPError` (re-thrown with `context`): it becomes the `cause`.
   * Otherwise the cause is `options.cause`, else `info.cause`.
   */
  constructor(info: UPNPErrorInfo & { resultCode?: number; via?: Via }, context?: string, options?: { cause?: unknown }) {
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
