/**
 * The one place where the addon's shapes become the library's: failures, table entries,
 * discovered devices and NAT-PMP/PCP answers (as rolldown's `bindingify-*` and oxc's
 * `wrap.js` do for theirs). Every native call reports a failure the same way
 * (`NativeFailure`, absent on success), whichever protocol it spoke.
 */
import { messageOf, UPNPError, type UPNPErrorInfo, UPNPResult } from '../errors.ts'
import type { PortMappingEntry } from '../types.ts'
import type * as native from './index.ts'

/** Godot's result of a native outcome: its failure's, or SUCCESS. */
export function resultOf(outcome: { failure?: native.NativeFailure | null }): UPNPResult {
  return outcome.failure ? outcome.failure.result : UPNPResult.SUCCESS
}

/** A native failure in the library's words, or null for none. The router's raw code is
 *  `upnpCode` for UPnP (with the HTTP status), `resultCode` + `via` for NAT-PMP and PCP. */
export function failureInfo(failure: CaughtFailure | undefined | null): UPNPErrorInfo | null {
  if (!failure) return null
  const info: UPNPErrorInfo = { result: failure.result, description: failure.description }
  if (failure.cause !== undefined) info.cause = failure.cause
  if (failure.via === 'upnp') {
    if (failure.code != null) info.upnpCode = failure.code
    if (failure.httpStatus != null) info.httpStatus = failure.httpStatus
  } else {
    info.via = failure.via
    if (failure.code != null) info.resultCode = failure.code
  }
  return info
}

/** A native failure as the error PortMapper throws. */
export function failureError(failure: CaughtFailure, context: string): UPNPError {
  return new UPNPError(failureInfo(failure)!, context)
}

/** A native failure, or one made on this side from a caught exception (kept as `cause`). */
export type CaughtFailure = native.NativeFailure & { cause?: unknown }

/** A rejected native promise means a bug (a caught panic): reported as a result, never thrown;
 *  the rejection is kept as the failure's `cause`. */
export function internalError(error: unknown): { failure: CaughtFailure; value?: string; entries?: native.PortMapping[] } {
  return {
    failure: {
      result: UPNPResult.UNKNOWN_ERROR,
      via: 'upnp',
      meaning: 'UNKNOWN_ERROR',
      description: `internal error: ${messageOf(error)}`,
      cause: error,
    },
  }
}

export function toEntry(e: native.PortMapping): PortMappingEntry {
  return { ...e, protocol: e.protocol === 'TCP' ? 'TCP' : 'UDP' }
}
