/**
 * upnp-native: Godot's `UPNP` and `UPNPDevice` for Node.js and Electron.
 *
 * Same names (camelCase), same defaults, same `UPNPResult` numbers and the same order of
 * argument checks as Godot 4; every network call is a Promise whose work runs in the Rust
 * addon on tokio, so the JS thread never waits on the network. This file is the whole
 * JavaScript surface: validation in Godot's order and bookkeeping. Protocol work lives in
 * `crate/` and reaches us through the generated `binding.js`.
 */
import * as native from './native.js'

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
}

/** A failed call of the high-level API (PortMapper): Godot's result plus what the router said. */
export class UPNPError extends Error {
  readonly result: UPNPResult
  /** UPnP `errorCode` of the router's SOAP fault. */
  readonly upnpCode?: number
  /** NAT-PMP / PCP: the raw result code of the router's answer. */
  readonly resultCode?: number
  /** Which protocol said it. */
  readonly via?: 'upnp' | 'pcp' | 'natpmp'
  readonly description: string
  readonly httpStatus?: number

  constructor(info: UPNPErrorInfo & { resultCode?: number; via?: 'upnp' | 'pcp' | 'natpmp' }, context?: string) {
    const code = info.upnpCode != null ? ` (UPnP ${info.upnpCode})` : info.resultCode != null ? ` (${info.via ?? ''} result ${info.resultCode})` : ''
    super(`${context ? `${context}: ` : ''}${UPNPResult[info.result] ?? info.result}${code}: ${info.description}`)
    this.name = 'UPNPError'
    this.result = info.result
    if (info.upnpCode != null) this.upnpCode = info.upnpCode
    if (info.resultCode != null) this.resultCode = info.resultCode
    if (info.via != null) this.via = info.via
    this.description = info.description
    if (info.httpStatus != null) this.httpStatus = info.httpStatus
  }
}

export type Protocol = 'UDP' | 'TCP'

/** One row of a router's port-mapping table. */
export interface PortMappingEntry {
  remoteHost: string
  externalPort: number
  protocol: Protocol
  internalPort: number
  internalClient: string
  enabled: boolean
  description: string
  /** Seconds left on the lease as the router reports it; 0 = permanent. */
  leaseDuration: number
}

/** Default cap, in milliseconds, on one request to a device (connect + reply). */
export const DEFAULT_REQUEST_TIMEOUT = 3000

const MAX_UINT32 = 0xffff_ffff

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

function clientError(result: UPNPResult, description: string): UPNPErrorInfo {
  return { result, description }
}

function fromNative(failure: native.NativeFailure | undefined | null, result: number): UPNPErrorInfo | null {
  if (result === UPNPResult.SUCCESS) return null
  if (!failure) return { result, description: UPNPResult[result] ?? 'unknown error' }
  const info: UPNPErrorInfo = { result: failure.result, description: failure.description }
  if (failure.upnpCode != null) info.upnpCode = failure.upnpCode
  if (failure.httpStatus != null) info.httpStatus = failure.httpStatus
  return info
}

/** A rejected native promise means a bug (a caught panic): report it, never throw it. */
function internalError(error: unknown): native.ActionResult & { entries?: native.PortMapping[] } {
  const message = error instanceof Error ? error.message : String(error)
  return {
    result: UPNPResult.UNKNOWN_ERROR,
    error: { result: UPNPResult.UNKNOWN_ERROR, description: `internal error: ${message}` },
  }
}

function toEntry(e: native.PortMapping): PortMappingEntry {
  return { ...e, protocol: e.protocol === 'TCP' ? 'TCP' : 'UDP' }
}

function warnIgnored(code: string, message: string): void {
  // Godot prints an engine error for these and carries on; a warning is Node's equivalent.
  process.emitWarning(message, { type: 'UPNPWarning', code })
}

/** Godot's `UPNPDevice`: one UPnP device, usable as a gateway when `igdStatus` is OK. */
export class UPNPDevice {
  descriptionUrl = ''
  serviceType = ''
  igdControlUrl = ''
  igdServiceType = ''
  igdOurAddr = ''
  igdStatus: IGDStatus = IGDStatus.UNKNOWN_ERROR

  /**
   * Connected, but the external address is private or shared (10/8, 100.64/10, ...):
   * another NAT sits upstream (double NAT / CGNAT). Godot calls such a gateway
   * "disconnected"; here it stays usable and says so.
   */
  doubleNat = false
  /** External address the gateway reported when it was discovered ("" if unknown). */
  externalAddress = ''
  friendlyName = ''
  manufacturer = ''
  modelName = ''
  /** SSDP `SERVER` header of the reply that found the device. */
  server = ''
  /** SSDP `BOOTID.UPNP.ORG`; changes when the router reboots. */
  bootId: number | null = null
  /** Cap, in milliseconds, on each request to this device. */
  requestTimeout = DEFAULT_REQUEST_TIMEOUT
  /** Why the last call on this device failed; `null` after a success. */
  lastError: UPNPErrorInfo | null = null

  /** Godot: `igd_status == IGD_STATUS_OK`, nothing else. */
  isValidGateway(): boolean {
    return this.igdStatus === IGDStatus.OK
  }

  private target(): native.SoapTarget {
    const timeout = isIntegerIn(this.requestTimeout, 1, MAX_UINT32) ? this.requestTimeout : DEFAULT_REQUEST_TIMEOUT
    return {
      controlUrl: String(this.igdControlUrl ?? ''),
      serviceType: String(this.igdServiceType ?? ''),
      timeoutMs: timeout,
    }
  }

  private settle(outcome: { result: number; error?: native.NativeFailure | null }): UPNPResult {
    this.lastError = fromNative(outcome.error, outcome.result)
    return outcome.result
  }

  private reject(result: UPNPResult, description: string): UPNPResult {
    this.lastError = clientError(result, description)
    return result
  }

  /** The gateway's external address; "" when this is not a valid gateway or on any failure. */
  async queryExternalAddress(): Promise<string> {
    if (!this.isValidGateway()) {
      this.reject(UPNPResult.INVALID_GATEWAY, 'not a valid gateway (igdStatus is not OK)')
      return ''
    }
    const outcome = await native.getExternalIpAddress(this.target()).catch(internalError)
    if (this.settle(outcome) !== UPNPResult.SUCCESS) return ''
    return outcome.value ?? ''
  }

  /**
   * Godot's `add_port_mapping`. Checks, in Godot's order: valid gateway, `port` 1..65535,
   * `portInternal` 0..65535 (0 = same as `port`), `proto` exactly "UDP" or "TCP",
   * `duration` >= 0 seconds (0 = permanent).
   */
  async addPortMapping(
    port: number,
    portInternal: number = 0,
    desc: string = '',
    proto: Protocol = 'UDP',
    duration: number = 0,
  ): Promise<UPNPResult> {
    if (!this.isValidGateway()) return this.reject(UPNPResult.INVALID_GATEWAY, 'not a valid gateway (igdStatus is not OK)')
    if (!isIntegerIn(port, 1, 65535)) return this.reject(UPNPResult.INVALID_PORT, `port ${String(port)} is not an integer 1..65535`)
    if (!isIntegerIn(portInternal, 0, 65535)) {
      return this.reject(UPNPResult.INVALID_PORT, `internal port ${String(portInternal)} is not an integer 0..65535`)
    }
    if (proto !== 'UDP' && proto !== 'TCP') {
      return this.reject(UPNPResult.INVALID_PROTOCOL, `protocol ${JSON.stringify(proto)} is not "UDP" or "TCP"`)
    }
    if (typeof duration !== 'number' || Number.isNaN(duration) || duration < 0) {
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${String(duration)} is not >= 0`)
    }
    // Godot enforces no upper bound, but the SOAP argument is a ui4: beyond it no router
    // could store the lease, so say so here instead of sending a number it would misread.
    if (!Number.isInteger(duration) || duration > MAX_UINT32) {
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${duration} is not a whole number of seconds <= ${MAX_UINT32}`)
    }
    if (typeof desc !== 'string') return this.reject(UPNPResult.INVALID_ARGS, 'description must be a string')
    const outcome = await native
      .addPortMapping(this.target(), {
        remoteHost: '',
        externalPort: port,
        protocol: proto,
        internalPort: portInternal === 0 ? port : portInternal,
        // Godot sends igd_our_addr; a hand-built device without one gets the address of the
        // connection that reaches the router, which is what igd_our_addr means.
        internalClient: String(this.igdOurAddr ?? ''),
        enabled: true,
        description: desc,
        leaseDuration: duration,
      })
      .catch(internalError)
    return this.settle(outcome)
  }

  /** Godot's `delete_port_mapping`: `port` 1..65535, `proto` "UDP" or "TCP". */
  async deletePortMapping(port: number, proto: Protocol = 'UDP'): Promise<UPNPResult> {
    if (!isIntegerIn(port, 1, 65535)) return this.reject(UPNPResult.INVALID_PORT, `port ${String(port)} is not an integer 1..65535`)
    if (proto !== 'UDP' && proto !== 'TCP') {
      return this.reject(UPNPResult.INVALID_PROTOCOL, `protocol ${JSON.stringify(proto)} is not "UDP" or "TCP"`)
    }
    const outcome = await native
      .deletePortMapping(this.target(), { remoteHost: '', externalPort: port, protocol: proto })
      .catch(internalError)
    return this.settle(outcome)
  }

  /**
   * Extra (not in Godot): the router's entry for `port`/`proto` (GetSpecificPortMappingEntry),
   * or `null` when it has none (`lastError.result` is then NO_SUCH_ENTRY_IN_ARRAY) or could
   * not be asked (any other `lastError`).
   */
  async getPortMapping(port: number, proto: Protocol = 'UDP'): Promise<PortMappingEntry | null> {
    if (!isIntegerIn(port, 1, 65535)) {
      this.reject(UPNPResult.INVALID_PORT, `port ${String(port)} is not an integer 1..65535`)
      return null
    }
    if (proto !== 'UDP' && proto !== 'TCP') {
      this.reject(UPNPResult.INVALID_PROTOCOL, `protocol ${JSON.stringify(proto)} is not "UDP" or "TCP"`)
      return null
    }
    const outcome = await native
      .getSpecificPortMappingEntry(this.target(), { remoteHost: '', externalPort: port, protocol: proto })
      .catch(internalError)
    this.settle(outcome)
    const entry = outcome.entries?.[0]
    return entry ? toEntry(entry) : null
  }

  /** Extra (not in Godot): the router's whole mapping table, up to `max` entries. */
  async listPortMappings(max: number = 1024): Promise<PortMappingEntry[]> {
    if (!isIntegerIn(max, 0, MAX_UINT32)) {
      this.reject(UPNPResult.INVALID_PARAM, `max ${String(max)} is not a whole number >= 0`)
      return []
    }
    const outcome = await native.listPortMappings(this.target(), max).catch(internalError)
    this.settle(outcome)
    return (outcome.entries ?? []).map(toEntry)
  }

  /** @internal Builds a device from what the addon learned during discovery. */
  static fromNative(found: native.NativeDevice, requestTimeout: number): UPNPDevice {
    const device = new UPNPDevice()
    device.descriptionUrl = found.descriptionUrl
    device.serviceType = found.serviceType
    device.igdControlUrl = found.igdControlUrl
    device.igdServiceType = found.igdServiceType
    device.igdOurAddr = found.igdOurAddr
    device.igdStatus = found.igdStatus
    device.doubleNat = found.doubleNat
    device.externalAddress = found.externalAddress
    device.friendlyName = found.friendlyName
    device.manufacturer = found.manufacturer
    device.modelName = found.modelName
    device.server = found.server
    device.bootId = found.bootId ?? null
    device.requestTimeout = requestTimeout
    device.lastError = found.lastError ? fromNative(found.lastError, found.lastError.result) : null
    return device
  }
}

/** The options form of `UPNP.discover()`. */
export interface DiscoverOptions {
  /** Milliseconds to wait for replies (Godot default 2000). The promise never settles later. */
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

/** Godot's `UPNP`: discovers devices and forwards to the first valid gateway. */
export class UPNP {
  /** Interface name or address for multicast ("" = system default). */
  discoverMulticastIf = ''
  /** Local port for the search socket: 0 = ephemeral, 1 = 1900, otherwise that port. */
  discoverLocalPort = 0
  /** Search over IPv6 (ff02::c and ff05::c) instead of IPv4. */
  discoverIpv6 = false
  /** Per-request cap, in milliseconds, given to every discovered device. */
  requestTimeout = DEFAULT_REQUEST_TIMEOUT
  /** Why the last failed call on this object failed; `null` after a success. */
  lastError: UPNPErrorInfo | null = null

  private devices: UPNPDevice[] = []

  /**
   * Godot's `discover(timeout = 2000, ttl = 2, device_filter = "InternetGatewayDevice")`.
   * Replaces the device list when it settles (a rejected or cancelled call keeps it).
   */
  discover(timeout?: number, ttl?: number, deviceFilter?: string): Promise<UPNPResult>
  discover(options: DiscoverOptions): Promise<UPNPResult>
  async discover(
    timeoutOrOptions: number | DiscoverOptions = 2000,
    ttlArg: number = 2,
    filterArg: string = 'InternetGatewayDevice',
  ): Promise<UPNPResult> {
    const options: DiscoverOptions =
      typeof timeoutOrOptions === 'object' && timeoutOrOptions !== null
        ? timeoutOrOptions
        : { timeout: timeoutOrOptions, ttl: ttlArg, deviceFilter: filterArg }
    const { timeout = 2000, ttl = 2, deviceFilter = 'InternetGatewayDevice', untilGateway = false, signal } = options

    // Godot checks these before touching the device list, so a rejected call keeps it.
    if (!isIntegerIn(timeout, 0, MAX_UINT32)) return this.reject(UPNPResult.INVALID_PARAM, `timeout ${String(timeout)} is not a whole number of milliseconds >= 0`)
    if (!isIntegerIn(ttl, 0, 255)) return this.reject(UPNPResult.INVALID_PARAM, `ttl ${String(ttl)} is not an integer 0..255`)
    if (typeof deviceFilter !== 'string') return this.reject(UPNPResult.INVALID_PARAM, 'deviceFilter must be a string')
    if (!isIntegerIn(this.discoverLocalPort, 0, 65535)) {
      return this.reject(UPNPResult.INVALID_PARAM, `discoverLocalPort ${String(this.discoverLocalPort)} is not 0..65535`)
    }
    if (typeof this.discoverMulticastIf !== 'string') return this.reject(UPNPResult.INVALID_PARAM, 'discoverMulticastIf must be a string')
    signal?.throwIfAborted()

    const requestTimeout = isIntegerIn(this.requestTimeout, 1, MAX_UINT32) ? this.requestTimeout : DEFAULT_REQUEST_TIMEOUT
    const search = new native.Discovery({
      timeoutMs: timeout,
      ttl,
      deviceFilter,
      multicastIf: this.discoverMulticastIf,
      localPort: this.discoverLocalPort,
      ipv6: Boolean(this.discoverIpv6),
      untilGateway: Boolean(untilGateway),
      requestTimeoutMs: requestTimeout,
    })
    const onAbort = (): void => search.cancel()
    signal?.addEventListener('abort', onAbort, { once: true })
    let outcome: native.DiscoverResult | null
    try {
      outcome = await search.run()
    } catch (error) {
      const failed = internalError(error)
      return this.reject(failed.result, failed.error?.description ?? 'internal error')
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    if (outcome === null) {
      signal?.throwIfAborted()
      throw new Error('discovery was cancelled')
    }
    this.devices = outcome.devices.map((found) => UPNPDevice.fromNative(found, requestTimeout))
    this.lastError = fromNative(outcome.error, outcome.result)
    return outcome.result
  }

  getDeviceCount(): number {
    return this.devices.length
  }

  /** The device at `index`, or `null` (with a warning) for a bad index. */
  getDevice(index: number): UPNPDevice | null {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `getDevice(${String(index)}): index out of range 0..${this.devices.length - 1}`)
      return null
    }
    return this.devices[index] ?? null
  }

  addDevice(device: UPNPDevice | null | undefined): void {
    if (!(device instanceof UPNPDevice)) {
      warnIgnored('UPNP_INVALID_DEVICE', 'addDevice(): not a UPNPDevice; ignored')
      return
    }
    this.devices.push(device)
  }

  setDevice(index: number, device: UPNPDevice | null | undefined): void {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `setDevice(${String(index)}): index out of range; ignored`)
      return
    }
    if (!(device instanceof UPNPDevice)) {
      warnIgnored('UPNP_INVALID_DEVICE', 'setDevice(): not a UPNPDevice; ignored')
      return
    }
    this.devices[index] = device
  }

  removeDevice(index: number): void {
    if (!this.isIndex(index)) {
      warnIgnored('UPNP_INVALID_INDEX', `removeDevice(${String(index)}): index out of range; ignored`)
      return
    }
    this.devices.splice(index, 1)
  }

  clearDevices(): void {
    this.devices = []
  }

  /** The first device, in list order, that is a valid gateway; else `null`. */
  getGateway(): UPNPDevice | null {
    return this.devices.find((device) => device.isValidGateway()) ?? null
  }

  /** The gateway's external address; "" when there is no gateway or the query fails. */
  async queryExternalAddress(): Promise<string> {
    const gateway = this.getGateway()
    if (!gateway) {
      this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
      return ''
    }
    const address = await gateway.queryExternalAddress()
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
  ): Promise<UPNPResult> {
    const gateway = this.getGateway()
    if (!gateway) return this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
    const result = await gateway.addPortMapping(port, portInternal, desc, proto, duration)
    this.lastError = gateway.lastError
    return result
  }

  /** Godot's `delete_port_mapping` on the gateway. */
  async deletePortMapping(port: number, proto: Protocol = 'UDP'): Promise<UPNPResult> {
    const gateway = this.getGateway()
    if (!gateway) return this.reject(UPNPResult.NO_GATEWAY, 'no valid gateway among the discovered devices')
    const result = await gateway.deletePortMapping(port, proto)
    this.lastError = gateway.lastError
    return result
  }

  private isIndex(index: number): boolean {
    return isIntegerIn(index, 0, this.devices.length - 1)
  }

  private reject(result: UPNPResult, description: string): UPNPResult {
    this.lastError = clientError(result, description)
    return result
  }
}

// The high-level API beside the Godot surface. Re-exported last: portmapper.ts builds on the
// classes above, which must exist before it loads.
export { Mapping, PortMapper } from './portmapper.ts'
export type { CallOptions, MapRequest, PortMapperEvents, PortMapperOptions } from './portmapper.ts'
export { defaultGateway, invalidateProbe, PREFERENCE, probe } from './probe.ts'
export type { DefaultGateway, ProbeOptions, ProbeReport, ProtocolReport, Via } from './probe.ts'
