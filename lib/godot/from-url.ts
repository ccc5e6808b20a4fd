/**
 * A `UPNPDevice` from a known description URL, without a search (Godot's open PR
 * godotengine/godot#68276, `add_device_from_url`; libp2p's `getGateway(url)`). The addon
 * checks the URL (http, an IP literal that can be a gateway, bounded) before anything is sent,
 * then classifies the device exactly as discovery classifies a search reply.
 */
import { REQUEST_TIMEOUT_MS } from '../defaults.ts'
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import * as native from '../native/index.ts'
import { failureInfo, internalError } from '../native/convert.ts'
import { abortable } from '../signal.ts'
import { badSignal, checkedOptions, isIntegerIn, MAX_UINT32, show } from '../validate.ts'
import type { Logger } from '../log/records.ts'
import { traced } from '../log/trace.ts'
import { UPNPDevice } from './device.ts'

/** Options of `UPNP.deviceFromUrl()`. */
export interface DeviceFromUrlOptions {
  /** Cap in ms on the whole check (description, GetStatusInfo, GetExternalIPAddress), then on
   *  each request to the device. Default 3000. */
  requestTimeout?: number
  /** Stops waiting: the promise rejects with `signal.reason` (the check itself is bounded by
   *  `requestTimeout` and ends on its own). */
  signal?: AbortSignal
  /** Receives a record of every exchange (see `UPNP`'s `logger`); the device keeps it. */
  logger?: Logger | null
}

/**
 * The device at `url`, whatever its status (`igdStatus`, `lastError` say why it is not a
 * valid gateway). Throws a `UPNPError` with `INVALID_PARAM` for a URL that is refused before
 * anything is sent: not `http://`, a host name instead of an address, a loopback, unspecified,
 * multicast or broadcast address, credentials, control characters, or over 2048 bytes.
 */
export async function deviceFromUrl(url: string, options?: DeviceFromUrlOptions): Promise<UPNPDevice> {
  if (typeof url !== 'string') throw clientError(UPNPResult.INVALID_PARAM, `the description URL ${show(url)} is not a string`)
  const given = checkedOptions(options, ['requestTimeout', 'signal', 'logger'], 'options', UPNPResult.INVALID_PARAM)
  const { requestTimeout = REQUEST_TIMEOUT_MS, signal, logger = null } = given
  if (!isIntegerIn(requestTimeout, 1, MAX_UINT32)) {
    throw clientError(UPNPResult.INVALID_PARAM, `requestTimeout ${show(requestTimeout)} is not a whole number of ms >= 1`)
  }
  const badAbort = badSignal(signal)
  if (badAbort) throw clientError(UPNPResult.INVALID_PARAM, badAbort)
  if (logger !== null && typeof logger !== 'function')
    throw clientError(UPNPResult.INVALID_PARAM, `logger ${show(logger)} is not a function`)
  const outcome = await abortable(signal as AbortSignal | undefined, () =>
    traced(logger as Logger | null, (trace) => native.deviceFromUrl(url, requestTimeout, trace)).catch((error: unknown) => ({
      failure: internalError(error).failure,
      device: null,
    })),
  )
  if (!outcome.device) {
    const info = failureInfo(outcome.failure) ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'no device' }
    throw new UPNPError(info, 'opening a gateway from its description URL')
  }
  return UPNPDevice.fromNative(outcome.device, requestTimeout, logger as Logger | null)
}
