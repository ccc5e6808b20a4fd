/** Godot's `UPNPDevice`: one device, its checks in Godot's order, its actions as Promises. */
import net from 'node:net'
import { types } from 'node:util'
import { LIST_MAX_ENTRIES, MAPPING_DESCRIPTION, PINHOLE_LEASE_S, PINHOLE_MAX_LEASE_S, REQUEST_TIMEOUT_MS } from '../defaults.ts'
import { IGDStatus, UPNPResult, type UPNPErrorInfo } from '../errors.ts'
import * as native from '../native/index.ts'
import { failureInfo, internalError, resultOf, toEntry } from '../native/convert.ts'
import type { Logger } from '../log/records.ts'
import { traced } from '../log/trace.ts'
import { abortable, cancellable } from '../signal.ts'
import type { CallOptions, FirewallStatus, PortMappingEntry, Protocol } from '../types.ts'
import { badPort, badProtocol, isIntegerIn, isProtocol, MAX_UINT32, notText, readSignal, show } from '../validate.ts'
import { warnIgnored } from './warnings.ts'

/**
 * Extra (not in Godot): one WAN connection service of a gateway. A router with several WAN
 * links lists one per link; they are asked in order and the first that is connected and has
 * an external address is the one the device uses (`igdControlUrl`, `igdServiceType`).
 */
export interface UPNPConnection {
  /** The service's type, e.g. `urn:schemas-upnp-org:service:WANIPConnection:2`. */
  serviceType: string
  /** Where its SOAP actions are sent. */
  controlUrl: string
  /** OK when usable, DISCONNECTED or INVALID_CONTROL when not, UNKNOWN_ERROR when it was not
   *  asked (an earlier connection is used). */
  igdStatus: IGDStatus
  /** `NewConnectionStatus` as the router wrote it ("" if not asked or not answered). */
  connectionStatus: string
  /** The external address this connection reported ("" if not asked or not answered). */
  externalAddress: string
  /** Connected, but behind another NAT: its external address is private or shared. */
  doubleNat: boolean
  /** Why asking this connection failed; `null` when it answered or was not asked. */
  lastError: UPNPErrorInfo | null
}

/** An AddPinhole aborted after it was sent may still open the pinhole (the router had read it):
 *  when its answer names one, it is closed again, as an aborted add of a port mapping is undone
 *  (`crate/src/upnp/leftovers.rs`); else the router would keep it for its whole lease. */
function closeOnceOpened(target: native.SoapTarget, adding: Promise<{ uniqueId?: number | null } | object>): void {
  void adding
    .then((r) => ('uniqueId' in r && typeof r.uniqueId === 'number' ? native.deletePinhole(target, r.uniqueId) : null))
    .catch(() => null)
}

const badPinholeLease = (lease: unknown) => `lease ${show(lease)} is not whole seconds 1..${PINHOLE_MAX_LEASE_S}`

/**
 * The fields calls read, each with why a value is refused (null: taken). A refused value is
 * not stored (the field keeps its value) and a `UPNPWarning` (`UPNP_INVALID_FIELD`) names the
 * field, as Godot prints an error for a value of the wrong type: so a bad value can never
 * break a later call.
 */
const CHECKED_FIELDS = {
  descriptionUrl: (v: unknown) => notText('descriptionUrl', v),
  serviceType: (v: unknown) => notText('serviceType', v),
  igdControlUrl: (v: unknown) => notText('igdControlUrl', v),
  igdServiceType: (v: unknown) => notText('igdServiceType', v),
  igdOurAddr: (v: unknown) => notText('igdOurAddr', v),
  igdStatus: (v: unknown) => (Number.isSafeInteger(v) ? null : `igdStatus ${show(v)} is not an integer (an IGDStatus)`),
  requestTimeout: (v: unknown) =>
    isIntegerIn(v, 1, MAX_UINT32) ? null : `requestTimeout ${show(v)} is not a whole number of milliseconds 1..${MAX_UINT32}`,
  firewallControlUrl: (v: unknown) => notText('firewallControlUrl', v),
  firewallServiceType: (v: unknown) => notText('firewallServiceType', v),
  firewallSourceAddress: (v: unknown) =>
    v === '' || (typeof v === 'string' && net.isIP(v) !== 0) ? null : `firewallSourceAddress ${show(v)} is not "" or an IP address`,
  logger: (v: unknown) => (v === null || typeof v === 'function' ? null : `logger ${show(v)} is not a function or null`),
} as const
type CheckedField = keyof typeof CHECKED_FIELDS

/** Own enumerable accessors (so `Object.assign` and spreading copy them as before), each
 *  checked when set. */
function defineCheckedFields(device: UPNPDevice, initial: Record<CheckedField, unknown>): void {
  for (const name of Object.keys(CHECKED_FIELDS) as CheckedField[]) {
    let value = initial[name]
    Object.defineProperty(device, name, {
      enumerable: true,
      get: () => value,
      set: (next: unknown) => {
        const refused = CHECKED_FIELDS[name](next)
        if (refused === null) value = next
        else warnIgnored('UPNP_INVALID_FIELD', `UPNPDevice.${refused}; it keeps ${show(value)}`)
      },
    })
  }
}

/**
 * Godot's `UPNPDevice`: one UPnP device, usable as a gateway when `igdStatus` is OK. The
 * fields its calls read are checked when set: a value of the wrong type is refused with a
 * `UPNPWarning` (`UPNP_INVALID_FIELD`) and the field keeps its value.
 */
export class UPNPDevice {
  /** Godot's `description_url`: where the device's description was read. */
  declare descriptionUrl: string
  /** Godot's `service_type`: the search target the device answered with. */
  declare serviceType: string
  /** Godot's `igd_control_url`: the connection service's control URL. */
  declare igdControlUrl: string
  /** Godot's `igd_service_type`: the connection service's type. */
  declare igdServiceType: string
  /** Godot's `igd_our_addr`: this host's address towards the device (sent as the internal client). */
  declare igdOurAddr: string
  /** Godot's `igd_status` (any integer; `OK` makes it a valid gateway). */
  declare igdStatus: IGDStatus

  /**
   * Connected, but the external address is private or shared (10/8, 100.64/10, ...):
   * another NAT sits upstream (double NAT / CGNAT). Godot calls such a gateway
   * "disconnected"; here it stays usable and says so.
   */
  doubleNat = false
  /** External address the gateway reported when it was discovered ("" if unknown). */
  externalAddress = ''
  /** The description's `friendlyName` (network text: sanitise before showing it). */
  friendlyName = ''
  /** The description's `manufacturer` (network text). */
  manufacturer = ''
  /** The description's `modelName` (network text). */
  modelName = ''
  /** SSDP `SERVER` header of the reply that found the device. */
  server = ''
  /** SSDP `BOOTID.UPNP.ORG`; changes when the router reboots. */
  bootId: number | null = null
  /** Reboots of this device seen by this process when it was found (BOOTID changes, judged by
   *  the addon for every search reply and announcement). */
  reboots = 0
  /** Every WAN connection service of the description, in order (empty for a device built
   *  by hand or not classified). */
  connections: readonly UPNPConnection[] = []
  /** Cap, in milliseconds, on each request to this device (1..2^32-1). */
  declare requestTimeout: number
  /** Why the last call on this device failed; `null` after a success. */
  lastError: UPNPErrorInfo | null = null
  /** Extra (not in Godot): the IPv6 pinhole service (`WANIPv6FirewallControl`) found in the
   *  same description, "" when the device has none. */
  declare firewallControlUrl: string
  /** The pinhole service's type ("" when the device has none). */
  declare firewallServiceType: string
  /**
   * Extra (not in Godot): the address of this host that IPv6 pinhole actions are sent from,
   * "" (the default) for the system's choice towards the router. Routers take a pinhole
   * action only from the pinhole's own address, and an `addPinhole` without `internalClient`
   * opens it for the address the request came from: set this to open pinholes for this host's
   * global address when the router is reached over a unique-local or link-local one
   * (PortMapper does).
   */
  declare firewallSourceAddress: string
  /** Extra (not in Godot): receives a record of every exchange of this device's calls (see
   *  docs/troubleshooting.md, "Logging"); a device found by `UPNP.discover()`
   *  gets the `UPNP`'s logger. `null`: only `NODE_DEBUG` and `diagnostics_channel`. */
  declare logger: Logger | null

  constructor() {
    defineCheckedFields(this, {
      descriptionUrl: '',
      serviceType: '',
      igdControlUrl: '',
      igdServiceType: '',
      igdOurAddr: '',
      igdStatus: IGDStatus.UNKNOWN_ERROR,
      requestTimeout: REQUEST_TIMEOUT_MS,
      firewallControlUrl: '',
      firewallServiceType: '',
      firewallSourceAddress: '',
      logger: null,
    })
  }

  /** Godot: `igd_status == IGD_STATUS_OK`, nothing else. */
  isValidGateway(): boolean {
    return this.igdStatus === IGDStatus.OK
  }

  private target(): native.SoapTarget {
    return { controlUrl: this.igdControlUrl, serviceType: this.igdServiceType, timeoutMs: this.requestTimeout }
  }

  /** The call's signal, or null after rejecting a bad options argument (INVALID_ARGS). */
  private signalOf(options: unknown): { signal?: AbortSignal } | null {
    const { signal, problem } = readSignal(options)
    if (problem) {
      this.reject(UPNPResult.INVALID_ARGS, problem)
      return null
    }
    return signal ? { signal } : {}
  }

  /** The addon's prepared connection service for add and delete, made again only when the
   *  target's fields have changed (the control URL is parsed once per service, not per call). */
  #service: { target: native.SoapTarget; native: native.SoapService } | null = null
  private service(): native.SoapService {
    const target = this.target()
    const held = this.#service?.target
    if (!held || held.controlUrl !== target.controlUrl || held.serviceType !== target.serviceType || held.timeoutMs !== target.timeoutMs) {
      this.#service = { target, native: new native.SoapService(target) }
    }
    return this.#service!.native
  }

  private settle(outcome: { failure?: native.NativeFailure | null }): UPNPResult {
    this.lastError = failureInfo(outcome.failure)
    return resultOf(outcome)
  }

  private reject(result: UPNPResult, description: string): UPNPResult {
    this.lastError = { result, description }
    return result
  }

  /** The gateway's external address; "" when this is not a valid gateway or on any failure.
   *  `options.signal` cancels (the promise rejects with its reason). */
  async queryExternalAddress(options?: CallOptions): Promise<string> {
    if (!this.isValidGateway()) {
      this.reject(UPNPResult.INVALID_GATEWAY, 'not a valid gateway (igdStatus is not OK)')
      return ''
    }
    const call = this.signalOf(options)
    if (!call) return ''
    const target = this.target()
    const outcome = await traced(this.logger, (trace) =>
      cancellable(call.signal, (cancel) => native.getExternalIpAddress(target, cancel, trace).catch(internalError)),
    )
    if (this.settle(outcome) !== UPNPResult.SUCCESS) return ''
    return outcome.value ?? ''
  }

  /**
   * Godot's `add_port_mapping`. Checks, in Godot's order: valid gateway, `port` 1..65535,
   * `portInternal` 0..65535 (0 = same as `port`), `proto` exactly "UDP" or "TCP",
   * `duration` >= 0 seconds (0 = permanent). An empty `desc` is sent as "upnp-native", as
   * Godot's miniupnpc sends "libminiupnpc". `options.signal` cancels: the promise rejects with
   * its reason at once, and a mapping the router may have made already is deleted again.
   */
  async addPortMapping(
    port: number,
    portInternal: number = 0,
    desc: string = '',
    proto: Protocol = 'UDP',
    duration: number = 0,
    options?: CallOptions,
  ): Promise<UPNPResult> {
    if (!this.isValidGateway()) return this.reject(UPNPResult.INVALID_GATEWAY, 'not a valid gateway (igdStatus is not OK)')
    if (!isIntegerIn(port, 1, 65535)) return this.reject(UPNPResult.INVALID_PORT, badPort('port', port))
    if (!isIntegerIn(portInternal, 0, 65535)) {
      return this.reject(UPNPResult.INVALID_PORT, badPort('internal port', portInternal, 0))
    }
    if (!isProtocol(proto)) {
      return this.reject(UPNPResult.INVALID_PROTOCOL, badProtocol(proto))
    }
    if (typeof duration !== 'number' || Number.isNaN(duration) || duration < 0) {
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${show(duration)} is not >= 0`)
    }
    // Godot enforces no upper bound, but the SOAP argument is a ui4: beyond it no router
    // could store the lease, so say so here instead of sending a number it would misread.
    if (!Number.isInteger(duration) || duration > MAX_UINT32) {
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${duration} is not a whole number of seconds <= ${MAX_UINT32}`)
    }
    const badDesc = notText('description', desc)
    if (badDesc) return this.reject(UPNPResult.INVALID_ARGS, badDesc)
    const call = this.signalOf(options)
    if (!call) return UPNPResult.INVALID_ARGS
    const service = this.service()
    const failure = await traced(this.logger, (trace) =>
      cancellable(call.signal, (cancel) =>
        service
          .addPortMapping(
            '',
            port,
            proto,
            portInternal === 0 ? port : portInternal,
            // Godot sends igd_our_addr; a hand-built device without one gets the address of the
            // connection that reaches the router, which is what igd_our_addr means.
            this.igdOurAddr,
            true,
            desc === '' ? MAPPING_DESCRIPTION : desc,
            duration,
            cancel,
            trace,
          )
          .catch((e) => internalError(e).failure),
      ),
    )
    return this.settle({ failure })
  }

  /** Godot's `delete_port_mapping`: `port` 1..65535, `proto` "UDP" or "TCP". `options.signal`
   *  cancels: the promise rejects with its reason at once; a delete already sent is finished. */
  async deletePortMapping(port: number, proto: Protocol = 'UDP', options?: CallOptions): Promise<UPNPResult> {
    if (!isIntegerIn(port, 1, 65535)) return this.reject(UPNPResult.INVALID_PORT, badPort('port', port))
    if (!isProtocol(proto)) {
      return this.reject(UPNPResult.INVALID_PROTOCOL, badProtocol(proto))
    }
    const call = this.signalOf(options)
    if (!call) return UPNPResult.INVALID_ARGS
    const service = this.service()
    const failure = await traced(this.logger, (trace) =>
      cancellable(call.signal, (cancel) =>
        service.deletePortMapping('', port, proto, cancel, trace).catch((e) => internalError(e).failure),
      ),
    )
    return this.settle({ failure })
  }

  /**
   * Extra (not in Godot): the router's entry for `port`/`proto` (GetSpecificPortMappingEntry),
   * or `null` when it has none (`lastError.result` is then NO_SUCH_ENTRY_IN_ARRAY) or could
   * not be asked (any other `lastError`).
   */
  async getPortMapping(port: number, proto: Protocol = 'UDP', options?: CallOptions): Promise<PortMappingEntry | null> {
    if (!isIntegerIn(port, 1, 65535)) {
      this.reject(UPNPResult.INVALID_PORT, badPort('port', port))
      return null
    }
    if (!isProtocol(proto)) {
      this.reject(UPNPResult.INVALID_PROTOCOL, badProtocol(proto))
      return null
    }
    const call = this.signalOf(options)
    if (!call) return null
    const target = this.target()
    const key = { remoteHost: '', externalPort: port, protocol: proto }
    const outcome = await traced(this.logger, (trace) =>
      cancellable(call.signal, (cancel) => native.getSpecificPortMappingEntry(target, key, cancel, trace).catch(internalError)),
    )
    this.settle(outcome)
    const entry = outcome.entries?.[0]
    return entry ? toEntry(entry) : null
  }

  /** Extra (not in Godot): the router's whole mapping table, up to `max` entries. */
  async listPortMappings(max: number = LIST_MAX_ENTRIES, options?: CallOptions): Promise<PortMappingEntry[]> {
    if (!isIntegerIn(max, 0, MAX_UINT32)) {
      this.reject(UPNPResult.INVALID_PARAM, `max ${show(max)} is not a whole number >= 0`)
      return []
    }
    const call = this.signalOf(options)
    if (!call) return []
    const target = this.target()
    const outcome = await traced(this.logger, (trace) =>
      cancellable(call.signal, (cancel) => native.listPortMappings(target, max, cancel, trace).catch(internalError)),
    )
    this.settle(outcome)
    return (outcome.entries ?? []).map(toEntry)
  }

  // ---- IPv6 pinholes (WANIPv6FirewallControl:1), extras beyond Godot -----------------
  // Checks in the same style: the service first, then each argument in order; a value the
  // router could not take is refused here with the result it would mean. A signal that aborts
  // settles the call at once; a pinhole the router may have opened meanwhile ends with its
  // lease (at most `leaseTime`), as one whose reply timed out does.

  private firewall(): native.SoapTarget | null {
    if (!this.firewallControlUrl) {
      this.reject(UPNPResult.INVALID_GATEWAY, 'this device has no WANIPv6FirewallControl service (IPv6 pinholes)')
      return null
    }
    const source = this.firewallSourceAddress
    const target = { ...this.target(), controlUrl: this.firewallControlUrl, serviceType: this.firewallServiceType }
    return source ? { ...target, localAddress: source } : target
  }

  private badPinholeId(uniqueId: number): boolean {
    if (isIntegerIn(uniqueId, 0, 65535)) return false
    this.reject(UPNPResult.INVALID_PARAM, `pinhole id ${show(uniqueId)} is not an integer 0..65535`)
    return true
  }

  /** The pinhole arguments, or null after rejecting the first bad one. */
  private pinholeSpec(
    internalPort: number,
    proto: Protocol,
    leaseTime: number,
    remoteHost: string,
    remotePort: number,
    internalClient: string,
  ): native.PinholeSpec | null {
    const problem: [UPNPResult, string] | null = !isIntegerIn(internalPort, 1, 65535)
      ? [UPNPResult.INVALID_PORT, badPort('internal port', internalPort)]
      : !isProtocol(proto)
        ? [UPNPResult.INVALID_PROTOCOL, badProtocol(proto)]
        : !isIntegerIn(leaseTime, 1, PINHOLE_MAX_LEASE_S)
          ? [UPNPResult.INVALID_DURATION, badPinholeLease(leaseTime)]
          : typeof remoteHost !== 'string'
            ? [UPNPResult.INVALID_ARGS, `remote host ${show(remoteHost)} is not a string`]
            : !isIntegerIn(remotePort, 0, 65535)
              ? [UPNPResult.INVALID_PORT, badPort('remote port', remotePort, 0)]
              : typeof internalClient !== 'string'
                ? [UPNPResult.INVALID_ARGS, `internal client ${show(internalClient)} is not a string`]
                : null
    if (problem) {
      this.reject(...problem)
      return null
    }
    return { remoteHost, remotePort, internalClient, internalPort, protocol: proto, leaseTime }
  }

  /** Whether the router's IPv6 firewall is on and lets programs open pinholes; `null` on
   *  failure (`lastError`). Unlike the other pinhole actions it may be asked over IPv4. */
  async getFirewallStatus(options?: CallOptions): Promise<FirewallStatus | null> {
    const target = this.firewall()
    const call = target && this.signalOf(options)
    if (!target || !call) return null
    const outcome = await traced(this.logger, (trace) =>
      abortable(call.signal, () => native.getFirewallStatus(target, trace).catch(internalError)),
    )
    if (this.settle(outcome) !== UPNPResult.SUCCESS || !('firewallEnabled' in outcome)) return null
    return { firewallEnabled: outcome.firewallEnabled, inboundPinholeAllowed: outcome.inboundPinholeAllowed }
  }

  /**
   * Opens an IPv6 pinhole: inbound `proto` traffic to `internalPort` of this host (or of
   * `internalClient`, an IPv6 address) is let through for `leaseTime` seconds (1..86400),
   * from `remoteHost`/`remotePort` only when given ("" / 0 = anyone). Resolves with the
   * pinhole's id, or `null` on failure (`lastError`). Repeating an open pinhole's arguments
   * extends it and gives its id again. Routers take it only over IPv6 from the host itself:
   * discover with `discoverIpv6`.
   */
  async addPinhole(
    internalPort: number,
    proto: Protocol = 'UDP',
    leaseTime: number = PINHOLE_LEASE_S,
    remoteHost: string = '',
    remotePort: number = 0,
    internalClient: string = '',
    options?: CallOptions,
  ): Promise<number | null> {
    const target = this.firewall()
    const spec = target && this.pinholeSpec(internalPort, proto, leaseTime, remoteHost, remotePort, internalClient)
    const call = spec && this.signalOf(options)
    if (!target || !spec || !call) return null
    const outcome = await traced(this.logger, (trace) => {
      let adding: Promise<native.PinholeResult | ReturnType<typeof internalError>> | undefined
      const add = () => (adding = native.addPinhole(target, spec, trace).catch(internalError))
      return abortable(call.signal, add, () => adding && closeOnceOpened(target, adding))
    })
    if (this.settle(outcome) !== UPNPResult.SUCCESS || !('uniqueId' in outcome)) return null
    return outcome.uniqueId ?? null
  }

  /** A new lease (1..86400 s) for pinhole `uniqueId`. */
  async updatePinhole(uniqueId: number, leaseTime: number, options?: CallOptions): Promise<UPNPResult> {
    const target = this.firewall()
    if (!target) return this.lastError?.result ?? UPNPResult.INVALID_GATEWAY
    if (this.badPinholeId(uniqueId)) return UPNPResult.INVALID_PARAM
    if (!isIntegerIn(leaseTime, 1, PINHOLE_MAX_LEASE_S)) {
      return this.reject(UPNPResult.INVALID_DURATION, badPinholeLease(leaseTime))
    }
    const call = this.signalOf(options)
    if (!call) return UPNPResult.INVALID_ARGS
    return this.settle(
      await traced(this.logger, (trace) =>
        abortable(call.signal, () => native.updatePinhole(target, uniqueId, leaseTime, trace).catch(internalError)),
      ),
    )
  }

  /** Closes pinhole `uniqueId`. */
  async deletePinhole(uniqueId: number, options?: CallOptions): Promise<UPNPResult> {
    const target = this.firewall()
    if (!target) return this.lastError?.result ?? UPNPResult.INVALID_GATEWAY
    if (this.badPinholeId(uniqueId)) return UPNPResult.INVALID_PARAM
    const call = this.signalOf(options)
    if (!call) return UPNPResult.INVALID_ARGS
    return this.settle(
      await traced(this.logger, (trace) =>
        abortable(call.signal, () => native.deletePinhole(target, uniqueId, trace).catch(internalError)),
      ),
    )
  }

  /** How many packets went through pinhole `uniqueId`; `null` on failure. */
  async getPinholePackets(uniqueId: number, options?: CallOptions): Promise<number | null> {
    const target = this.firewall()
    const call = target && !this.badPinholeId(uniqueId) && this.signalOf(options)
    if (!target || !call) return null
    const outcome = await traced(this.logger, (trace) =>
      abortable(call.signal, () => native.getPinholePackets(target, uniqueId, trace).catch(internalError)),
    )
    return this.settle(outcome) === UPNPResult.SUCCESS ? Number(outcome.value) : null
  }

  /** Whether traffic went through pinhole `uniqueId` (false until some did); `null` on failure. */
  async checkPinholeWorking(uniqueId: number, options?: CallOptions): Promise<boolean | null> {
    const target = this.firewall()
    const call = target && !this.badPinholeId(uniqueId) && this.signalOf(options)
    if (!target || !call) return null
    const outcome = await traced(this.logger, (trace) =>
      abortable(call.signal, () => native.checkPinholeWorking(target, uniqueId, trace).catch(internalError)),
    )
    return this.settle(outcome) === UPNPResult.SUCCESS ? outcome.value === 'true' : null
  }

  /** How long the router keeps an idle outbound IPv6 flow open, in seconds; `null` on failure. */
  async getOutboundPinholeTimeout(
    internalPort: number,
    proto: Protocol = 'UDP',
    remoteHost: string = '',
    remotePort: number = 0,
    internalClient: string = '',
    options?: CallOptions,
  ): Promise<number | null> {
    const target = this.firewall()
    const spec = target && this.pinholeSpec(internalPort, proto, 1, remoteHost, remotePort, internalClient)
    const call = spec && this.signalOf(options)
    if (!target || !spec || !call) return null
    const outcome = await traced(this.logger, (trace) =>
      abortable(call.signal, () => native.getOutboundPinholeTimeout(target, spec, trace).catch(internalError)),
    )
    return this.settle(outcome) === UPNPResult.SUCCESS ? Number(outcome.value) : null
  }

  /** @internal Builds a device from what the addon learned during discovery. */
  static fromNative(found: native.NativeDevice, requestTimeout: number, logger: Logger | null = null): UPNPDevice {
    const device = new UPNPDevice()
    device.logger = logger
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
    device.reboots = found.resets
    device.firewallControlUrl = found.firewallControlUrl
    device.firewallServiceType = found.firewallServiceType
    device.requestTimeout = requestTimeout
    device.lastError = failureInfo(found.lastError)
    device.connections = found.connections.map((c) => ({
      serviceType: c.serviceType,
      controlUrl: c.controlUrl,
      igdStatus: c.igdStatus,
      connectionStatus: c.connectionStatus,
      externalAddress: c.externalAddress,
      doubleNat: c.doubleNat,
      lastError: failureInfo(c.lastError),
    }))
    return device
  }
}

/** Whether `value` is a `UPNPDevice` a list or a PortMapper can hold (a Proxy is not: its
 *  traps could throw inside a later call). Never throws. */
export function isDevice(value: unknown): value is UPNPDevice {
  try {
    return !types.isProxy(value) && value instanceof UPNPDevice
  } catch {
    return false
  }
}
