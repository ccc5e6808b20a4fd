/**
 * The one place where the addon's shapes become the library's: failures, table entries,
 * discovered devices and NAT-PMP/PCP answers (as rolldown's `bindingify-*` and oxc's
 * `wrap.js` do for theirs).
 */
import { UPNPError, type UPNPErrorInfo, UPNPResult } from '../errors.ts'
import type { PortMappingEntry, Via } from '../types.ts'
import type * as native from './index.ts'

/** A failure as the addon reports it, or null for SUCCESS. */
export function failureInfo(failure: native.NativeFailure | undefined | null, result: number): UPNPErrorInfo | null {
  if (result === UPNPResult.SUCCESS) return null
  if (!failure) return { result, description: UPNPResult[result] ?? 'unknown error' }
  const info: UPNPErrorInfo = { result: failure.result, description: failure.description }
  if (failure.upnpCode != null) info.upnpCode = failure.upnpCode
  if (failure.httpStatus != null) info.httpStatus = failure.httpStatus
  return info
}

/** A rejected native promise means a bug (a caught panic): reported as a result, never thrown. */
export function internalError(error: unknown): native.ActionResult & { entries?: native.PortMapping[] } {
  const message = error instanceof Error ? error.message : String(error)
  return {
    result: UPNPResult.UNKNOWN_ERROR,
    error: { result: UPNPResult.UNKNOWN_ERROR, description: `internal error: ${message}` },
  }
}

export function toEntry(e: native.PortMapping): PortMappingEntry {
  return { ...e, protocol: e.protocol === 'TCP' ? 'TCP' : 'UDP' }
}

/** A NAT-PMP/PCP answer that was not a success, as the error PortMapper throws. */
export function pxpError(r: native.NativePmpResult, via: Exclude<Via, 'upnp'>, context: string): UPNPError {
  const info: ConstructorParameters<typeof UPNPError>[0] = {
    result: r.upnpResult,
    via,
    description: r.error ? `${r.meaning}: ${r.error}` : r.meaning,
  }
  if (r.resultCode != null) info.resultCode = r.resultCode
  return new UPNPError(info, context)
}
