/** Godot's `UPNP`: discovery and the device list, forwarding to the first valid gateway. */
import { DEVICE_FILTER, DISCOVER_MIN_WINDOW_MS, DISCOVER_TIMEOUT_MS, DISCOVER_TTL, REQUEST_TIMEOUT_MS } from '../defaults.ts'
import { asUpnpError, IGDStatus, UPNPResult, type UPNPErrorInfo } from '../errors.ts'
import * as native from '../native/index.ts'
import { failureInfo, internalError, resultOf } from '../native/convert.ts'
import type { CallOptions, Protocol } from '../types.ts'
import { badSignal, isIntegerIn, MAX_UINT32, readOptions, readSignal, show } from '../validate.ts'
import type { Logger } from '../log/records.ts'
import { note, traced } from '../log/trace.ts'
import { shown } from '../log/visible.ts'
import { isDevice, UPNPDevice } from './device.ts'
import { type DeviceFromUrlOptions, deviceFromUrl } from './from-url.ts'
import { warnIgnored } from './warnings.ts'

/** The `upnp.discovered` record: what discovery found and which device `getGateway()` uses. */
function discovered(devices: UPNPDevice[], replies: number, took: number): { message: string; detail: string } {
  const gateway = devices.find((d) => d.isValidGateway())
  const list = devices.map((d) => `${shown(d.descriptionUrl)} ${IGDStatus[d.igdStatus] ?? d.igdStatus}`).join(', ')
  return {
    message:
      `discovery: ${replies} search replies, ${devices.length} device${devices.length === 1 ? '' : 's'} in ${took} ms` +
      (devices.length ? ` (${list})` : '') +
      `; gateway: ${gateway ? `${shown(gateway.descriptionUrl)} (${shown(gateway.friendlyName)})` : 'none'}`,
    detail: gateway ? gateway.descriptionUrl : '',
  }
}

const DISCOVER_KEYS = ['timeout', 'ttl', 'deviceFilter', 'untilGateway', 'signal'] as const

/** The options form of `UPNP.discover()`. */
export interface DiscoverOptions {
  /** Milliseconds to wait for replies (Godot default 2000; below 1000 counts as 1000, as in
   *  Godot). The promise never settles later. */
  timeout?: number
  /** Multicast TTL / hop limit, 0..255 (Godot default 2). */
  ttl?: number
  /** Keep replies whose ST contains this (case-sensitive); "" keeps all. */
  deviceFilter?: string
  /** Resolve as soon as one device is confirmed as a working gateway. */
  untilGateway?: boolean
  /** Cancels the search: the promise rejects with `signal.reason`, the device list is kept. */
  signal?: AbortSignal
}

/** Options of `new UPNP()` (Godot's takes none). */
export interface UPNPOptions {
  /** Receives a record of every exchange and decision of this object's calls and of the
   *  devices it finds (see docs/troubleshooting.md, "Logging"). */
  logger?: Logger | null
}

/** Godot's `UPNP`: discovers devices and forwards to the first valid gateway. */
export class UPNP {
  /** Interface name or address for multicast ("" = system default). */
  discoverMulticastIf = ''
  /** Local port for the search socket: 0 = ephemeral, 1 = 1900, otherwise that port. */
  discoverLocalPort = 0
  /** Search over IPv6 (ff02::c and ff05::c) instead of IPv4. */
  discoverIpv6 = false
  /** Per-request cap, in milliseconds, given to every discovered device. */
  requestTimeout = REQUEST_TIMEOUT_MS
  /** Why the last failed call on this object failed; `null` after a success. */
  lastError: UPNPErrorInfo | null = null
  /** Extra (not in Godot): receives a record of every exchange and decision; given to the
   *  devices discovery finds. `null`: only `NODE_DEBUG` and `diagnostics_channel`. */
  logger: Logger | null

  private devices: UPNPDevice[] = []

  constructor(options?: UPNPOptions) {
    // Read without running the caller's code twice, and never throw (Godot's takes nothing).
    const { values, problem } = readOptions(options, ['logger'])
    const logger = values?.logger ?? null
    if (problem || (logger !== null && typeof logger !== 'function')) {
      warnIgnored('UPNP_INVALID_OPTION', `new UPNP(): ${problem ?? `logger ${show(logger)} is not a function`}; no logger`)
      this.logger = null
    } else this.logger = logger as Logger | null
  }

  /**
   * Godot's `discover(timeout = 2000, ttl = 2, device_filter = "InternetGatewayDevice")`, with
   * a trailing `{ signal }`. Replaces the device list when it settles (a rejected, cancelled
   * or refused call keeps it). Bad arguments are INVALID_PARAM (Godot's result here), never a
   * throw; an aborted signal rejects with its reason.
   */
  discover(timeout?: number, ttl?: number, deviceFilter?: string, options?: CallOptions): Promise<UPNPResult>
  discover(options: DiscoverOptions): Promise<UPNPResult>
  async discover(
    timeoutOrOptions: number | DiscoverOptions = DISCOVER_TIMEOUT_MS,
    ttlArg: number = DISCOVER_TTL,
    filterArg: string = DEVICE_FILTER,
    callOptions?: CallOptions,
  ): Promise<UPNPResult> {
    const optionsForm = typeof timeoutOrOptions === 'object' && timeoutOrOptions !== null
    const read = readOptions(optionsForm ? timeoutOrOptions : callOptions, DISCOVER_KEYS)
    if (!read.values) return this.reject(UPNPResult.INVALID_PARAM, read.problem)
    const given: Partial<Record<(typeof DISCOVER_KEYS)[number], unknown>> = optionsForm
      ? read.values
      : { timeout: timeoutOrOptions, ttl: ttlArg, deviceFilter: filterArg, signal: read.values.signal }
    const { timeout = DISCOVER_TIMEOUT_MS, ttl = DISCOVER_TTL, deviceFilter = DEVICE_FILTER, untilGateway = false, signal } = given

    // Godot checks these before touching the device list, so a rejected call keeps it.
    if (!isIntegerIn(timeout, 0, MAX_UINT32))
      return this.reject(UPNPResult.INVALID_PARAM, `timeout ${show(timeout)} is not a whole number of milliseconds >= 0`)
    if (!isIntegerIn(ttl, 0, 255)) return this.reject(UPNPResult.INVALID_PARAM, `ttl ${show(ttl)} is not an integer 0..255`)
    if (typeof deviceFilter !== 'string') return this.reject(UPNPResult.INVALID_PARAM, `deviceFilter ${show(deviceFilter)} is not a string`)
    const badAbort = badSignal(signal)
    if (badAbort) return this.reject(UPNPResult.INVALID_PARAM, badAbort)
    if (!isIntegerIn(this.discoverLocalPort, 0, 65535)) {
      return this.reject(UPNPResult.INVALID_PARAM, `discoverLocalPort ${show(this.discoverLocalPort)} is not 0..65535`)
    }
    if (typeof this.discoverMulticastIf !== 'string') {
      return this.reject(UPNPResult.INVALID_PARAM, `discoverMulticastIf ${show(this.discoverMulticastIf)} is not a string`)
    }
    const abort = signal as AbortSignal | undefined
    abort?.throwIfAborted()

    const requestTimeout = isIntegerIn(this.requestTimeout, 1, MAX_UINT32) ? this.requestTimeout : REQUEST_TIMEOUT_MS
    const started = Date.now()
    let outcome: native.DiscoverResult | null
    try {
      outcome = await traced(this.logger, (trace) => {
        const search = new native.Discovery({
          timeoutMs: Math.max(timeout, DISCOVER_MIN_WINDOW_MS),
          ttl,
          deviceFilter,
          multicastIf: this.discoverMulticastIf,
          localPort: this.discoverLocalPort,
          ipv6: Boolean(this.discoverIpv6),
          untilGateway: Boolean(untilGateway),
          requestTimeoutMs: requestTimeout,
          trace,
        })
        const onAbort = (): void => search.cancel()
        abort?.addEventListener('abort', onAbort, { once: true })
        return search.run().finally(() => abort?.removeEventListener('abort', onAbort))
      })
    } catch (error) {
      const { failure } = internalError(error)
      return this.reject(failure.result, failure.description)
    }
    if (outcome === null) {
      abort?.throwIfAborted()
      throw new Error('discovery was cancelled')
    }
    this.devices = outcome.devices.map((found) => UPNPDevice.fromNative(found, requestTimeout, this.logger))
    this.lastError = failureInfo(outcome.failure)
    note(this.logger, 'upnp', 'upnp.discovered', () => discovered(this.devices, outcome.replies, Date.now() - started))
    return resultOf(outcome)
  }

  /** A device from its description URL, classified as discovery would, without a search.
   *  Rejects with a `UPNPError` (`INVALID_PARAM`) for a refused URL; see `from-url.ts`. */
  static deviceFromUrl(url: string, options?: DeviceFromUrlOptions): Promise<UPNPDevice> {
    return deviceFromUrl(url, options)
  }

  /**
   * Godot's proposed `add_device_from_url` (PR #68276): opens the gateway whose description is
   * at `url` (e.g. a saved `getGateway().descriptionUrl`) without a search. SUCCESS adds it to
   * the device list; anything else leaves the list as it was and says why (`INVALID_PARAM`
   * for a refused URL, `HTTP_ERROR`, `INVALID_GATEWAY`, ...), so the caller can `discover()`.
   * An aborted `options.signal` rejects with its reason and leaves the list as it was.
   */
  async addDeviceFromUrl(url: string, options?: CallOptions): Promise<UPNPResult> {
    const requestTimeout = isIntegerIn(this.requestTimeout, 1, MAX_UINT32) ? this.requestTimeout : REQUEST_TIMEOUT_MS
    const { signal, problem } = readSignal(options)
    if (problem) return this.reject(UPNPResult.INVALID_ARGS, problem)
    let device: UPNPDevice
    try {
      device = await deviceFromUrl(url, { requestTimeout, logger: this.logger, ...(signal ? { signal } : {}) })
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error
      const failed = asUpnpError(error)
      return this.reject(failed.result, failed.description)
    }
    if (!device.isValidGateway()) {
      const why = device.lastError ?? { result: UPNPResult.INVALID_GATEWAY, description: `igdStatus is ${IGDStatus[device.igdStatus]}` }
      this.lastError = why
      return why.result
    }
    this.devices.push(device)
    this.lastError = null
    return UPNPResult.SUCCESS
  }

  /** How many devices the list holds. */
  getDeviceCount(): number {
    return this.devices.length
  }

  /** The device at `index`, or `null` (with a warning) for a bad index. */
  getDevice(index: number): UPNPDevice | null {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `getDevice(${show(index)}): index out of range 0..${this.devices.length - 1}`)
      return null
    }
    return this.devices[index] ?? null
  }

  /** Appends `device` to the list (anything else is ignored with a `UPNP_INVALID_DEVICE` warning). */
  addDevice(device: UPNPDevice | null | undefined): void {
    if (!isDevice(device)) {
      warnIgnored('UPNP_INVALID_DEVICE', 'addDevice(): not a UPNPDevice; ignored')
      return
    }
    this.devices.push(device)
  }

  /** Replaces the device at `index` (a bad index or a non-device is ignored with a warning). */
  setDevice(index: number, device: UPNPDevice | null | undefined): void {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `setDevice(${show(index)}): index out of range; ignored`)
      return
    }
    if (!isDevice(device)) {
      warnIgnored('UPNP_INVALID_DEVICE', 'setDevice(): not a UPNPDevice; ignored')
      return
    }
    this.devices[index] = device
  }

  /** Removes the device at `index` (a bad index is ignored with a `UPNP_INVALID_INDEX` warning). */
  removeDevice(index: number): void {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `removeDevice(${show(index)}): index out of range; ignored`)
      return
    }
    this.devices.splice(index, 1)
  }

  /** Empties the device list. */
  clearDevices(): void {
    this.devices = []
  }

  /** The first device, in list order, that is a valid gateway; else `null`. */
  getGateway(): UPNPDevice | null {
    return this.devices.find((device) => device.isValidGateway()) ?? null
  }

  /** The gateway's external address; "" when there is no gateway or the query fails. */
  async queryExternalAddress(options?: CallOptions): Promise<string> {
    const gateway = this.getGateway()
    if (!gateway) {
      this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
      return ''
    }
    const address = await gateway.queryExternalAddress(options)
    this.lastError = gateway.lastError
    return address
  }

  /** Godot's `add_port_mapping` on the gateway: NO_GATEWAY first, then the device's checks. */
  async addPortMapping(
    port: number,
    portInternal: number = 0,
    desc: string = '',
    proto: Protocol = 'UDP',
    duration: number = 0,
    options?: CallOptions,
  ): Promise<UPNPResult> {
    const gateway = this.getGateway()
    if (!gateway) return this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
    const result = await gateway.addPortMapping(port, portInternal, desc, proto, duration, options)
    this.lastError = gateway.lastError
    return result
  }

  /** Godot's `delete_port_mapping` on the gateway. */
  async deletePortMapping(port: number, proto: Protocol = 'UDP', options?: CallOptions): Promise<UPNPResult> {
    const gateway = this.getGateway()
    if (!gateway) return this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
    const result = await gateway.deletePortMapping(port, proto, options)
    this.lastError = gateway.lastError
    return result
  }

  private isIndex(index: number): boolean {
    return isIntegerIn(index, 0, this.devices.length - 1)
  }

  private reject(result: UPNPResult, description: string): UPNPResult {
    this.lastError = { result, description }
    return result
  }
}
