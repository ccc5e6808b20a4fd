/** Godot's `UPNPDevice`: one device, its checks in Godot's order, its actions as Promises. */
import { LIST_MAX_ENTRIES, MAPPING_DESCRIPTION, PINHOLE_LEASE_S, PINHOLE_MAX_LEASE_S, REQUEST_TIMEOUT_MS } from '../defaults.ts'
import { IGDStatus, UPNPResult, type UPNPErrorInfo } from '../errors.ts'
import * as native from '../native/index.ts'
import { failureInfo, internalError, resultOf, toEntry } from '../native/convert.ts'
import type { FirewallStatus, PortMappingEntry, Protocol } from '../types.ts'
import { badPort, badProtocol, isIntegerIn, isProtocol, MAX_UINT32 } from '../validate.ts'

/**
 * Extra (not in Godot): one WAN connection service of a gateway. A router with several WAN
 * links lists one per link; they are asked in order and the first that is connected and has
 * an external address is the one the device uses (`igdControlUrl`, `igdServiceType`).
 */
export interface UPNPConnection {
  serviceType: string
  controlUrl: string
  /** OK when usable, DISCONNECTED or INVALID_CONTROL when not, UNKNOWN_ERROR when it was not
   *  asked (an earlier connection is used). */
  igdStatus: IGDStatus
  /** `NewConnectionStatus` as the router wrote it ("" if not asked or not answered). */
  connectionStatus: string
  externalAddress: string
  doubleNat: boolean
  lastError: UPNPErrorInfo | null
}
const badPinholeLease = (lease: unknown) => `lease ${String(lease)} is not whole seconds 1..${PINHOLE_MAX_LEASE_S}`

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
  /** Reboots of this device seen by this process when it was found (BOOTID changes, judged by
   *  the addon for every search reply and announcement). */
  reboots = 0
  /** Every WAN connection service of the description, in order (empty for a device built
   *  by hand or not classified). */
  connections: readonly UPNPConnection[] = []
  /** Cap, in milliseconds, on each request to this device. */
  requestTimeout = REQUEST_TIMEOUT_MS
  /** Why the last call on this device failed; `null` after a success. */
  lastError: UPNPErrorInfo | null = null
  /** Extra (not in Godot): the IPv6 pinhole service (`WANIPv6FirewallControl`) found in the
   *  same description, "" when the device has none. */
  firewallControlUrl = ''
  firewallServiceType = ''

  /** Godot: `igd_status == IGD_STATUS_OK`, nothing else. */
  isValidGateway(): boolean {
    return this.igdStatus === IGDStatus.OK
  }

  private target(): native.SoapTarget {
    const timeout = isIntegerIn(this.requestTimeout, 1, MAX_UINT32) ? this.requestTimeout : REQUEST_TIMEOUT_MS
    return {
      controlUrl: String(this.igdControlUrl ?? ''),
      serviceType: String(this.igdServiceType ?? ''),
      timeoutMs: timeout,
    }
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
   * `duration` >= 0 seconds (0 = permanent). An empty `desc` is sent as "upnp-native", as
   * Godot's miniupnpc sends "libminiupnpc".
   */
  async addPortMapping(
    port: number,
    portInternal: number = 0,
    desc: string = '',
    proto: Protocol = 'UDP',
    duration: number = 0,
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
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${String(duration)} is not >= 0`)
    }
    // Godot enforces no upper bound, but the SOAP argument is a ui4: beyond it no router
    // could store the lease, so say so here instead of sending a number it would misread.
    if (!Number.isInteger(duration) || duration > MAX_UINT32) {
      return this.reject(UPNPResult.INVALID_DURATION, `duration ${duration} is not a whole number of seconds <= ${MAX_UINT32}`)
    }
    if (typeof desc !== 'string') return this.reject(UPNPResult.INVALID_ARGS, 'description must be a string')
    const failure = await this.service()
      .addPortMapping(
        '',
        port,
        proto,
        portInternal === 0 ? port : portInternal,
        // Godot sends igd_our_addr; a hand-built device without one gets the address of the
        // connection that reaches the router, which is what igd_our_addr means.
        String(this.igdOurAddr ?? ''),
        true,
        desc === '' ? MAPPING_DESCRIPTION : desc,
        duration,
      )
      .catch((e) => internalError(e).failure)
    return this.settle({ failure })
  }

  /** Godot's `delete_port_mapping`: `port` 1..65535, `proto` "UDP" or "TCP". */
  async deletePortMapping(port: number, proto: Protocol = 'UDP'): Promise<UPNPResult> {
    if (!isIntegerIn(port, 1, 65535)) return this.reject(UPNPResult.INVALID_PORT, badPort('port', port))
    if (!isProtocol(proto)) {
      return this.reject(UPNPResult.INVALID_PROTOCOL, badProtocol(proto))
    }
    const failure = await this.service()
      .deletePortMapping('', port, proto)
      .catch((e) => internalError(e).failure)
    return this.settle({ failure })
  }

  /**
   * Extra (not in Godot): the router's entry for `port`/`proto` (GetSpecificPortMappingEntry),
   * or `null` when it has none (`lastError.result` is then NO_SUCH_ENTRY_IN_ARRAY) or could
   * not be asked (any other `lastError`).
   */
  async getPortMapping(port: number, proto: Protocol = 'UDP'): Promise<PortMappingEntry | null> {
    if (!isIntegerIn(port, 1, 65535)) {
      this.reject(UPNPResult.INVALID_PORT, badPort('port', port))
      return null
    }
    if (!isProtocol(proto)) {
      this.reject(UPNPResult.INVALID_PROTOCOL, badProtocol(proto))
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
  async listPortMappings(max: number = LIST_MAX_ENTRIES): Promise<PortMappingEntry[]> {
    if (!isIntegerIn(max, 0, MAX_UINT32)) {
      this.reject(UPNPResult.INVALID_PARAM, `max ${String(max)} is not a whole number >= 0`)
      return []
    }
    const outcome = await native.listPortMappings(this.target(), max).catch(internalError)
    this.settle(outcome)
    return (outcome.entries ?? []).map(toEntry)
  }

  // ---- IPv6 pinholes (WANIPv6FirewallControl:1), extras beyond Godot -----------------
  // Checks in the same style: the service first, then each argument in order; a value the
  // router could not take is refused here with the result it would mean.

  private firewall(): native.SoapTarget | null {
    if (this.firewallControlUrl) return { ...this.target(), controlUrl: this.firewallControlUrl, serviceType: this.firewallServiceType }
    this.reject(UPNPResult.INVALID_GATEWAY, 'this device has no WANIPv6FirewallControl service (IPv6 pinholes)')
    return null
  }

  private badPinholeId(uniqueId: number): boolean {
    if (isIntegerIn(uniqueId, 0, 65535)) return false
    this.reject(UPNPResult.INVALID_PARAM, `pinhole id ${String(uniqueId)} is not an integer 0..65535`)
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
            ? [UPNPResult.INVALID_ARGS, 'remote host must be a string']
            : !isIntegerIn(remotePort, 0, 65535)
              ? [UPNPResult.INVALID_PORT, badPort('remote port', remotePort, 0)]
              : typeof internalClient !== 'string'
                ? [UPNPResult.INVALID_ARGS, 'internal client must be a string']
                : null
    if (problem) {
      this.reject(...problem)
      return null
    }
    return { remoteHost, remotePort, internalClient, internalPort, protocol: proto, leaseTime }
  }

  /** Whether the router's IPv6 firewall is on and lets programs open pinholes; `null` on
   *  failure (`lastError`). Unlike the other pinhole actions it may be asked over IPv4. */
  async getFirewallStatus(): Promise<FirewallStatus | null> {
    const target = this.firewall()
    if (!target) return null
    const outcome = await native.getFirewallStatus(target).catch(internalError)
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
  ): Promise<number | null> {
    const target = this.firewall()
    const spec = target && this.pinholeSpec(internalPort, proto, leaseTime, remoteHost, remotePort, internalClient)
    if (!target || !spec) return null
    const outcome = await native.addPinhole(target, spec).catch(internalError)
    if (this.settle(outcome) !== UPNPResult.SUCCESS || !('uniqueId' in outcome)) return null
    return outcome.uniqueId ?? null
  }

  /** A new lease (1..86400 s) for pinhole `uniqueId`. */
  async updatePinhole(uniqueId: number, leaseTime: number): Promise<UPNPResult> {
    const target = this.firewall()
    if (!target) return UPNPResult.INVALID_GATEWAY
    if (this.badPinholeId(uniqueId)) return UPNPResult.INVALID_PARAM
    if (!isIntegerIn(leaseTime, 1, PINHOLE_MAX_LEASE_S)) {
      return this.reject(UPNPResult.INVALID_DURATION, badPinholeLease(leaseTime))
    }
    return this.settle(await native.updatePinhole(target, uniqueId, leaseTime).catch(internalError))
  }

  /** Closes pinhole `uniqueId`. */
  async deletePinhole(uniqueId: number): Promise<UPNPResult> {
    const target = this.firewall()
    if (!target) return UPNPResult.INVALID_GATEWAY
    if (this.badPinholeId(uniqueId)) return UPNPResult.INVALID_PARAM
    return this.settle(await native.deletePinhole(target, uniqueId).catch(internalError))
  }

  /** How many packets went through pinhole `uniqueId`; `null` on failure. */
  async getPinholePackets(uniqueId: number): Promise<number | null> {
    const target = this.firewall()
    if (!target || this.badPinholeId(uniqueId)) return null
    const outcome = await native.getPinholePackets(target, uniqueId).catch(internalError)
    return this.settle(outcome) === UPNPResult.SUCCESS ? Number(outcome.value) : null
  }

  /** Whether traffic went through pinhole `uniqueId` (false until some did); `null` on failure. */
  async checkPinholeWorking(uniqueId: number): Promise<boolean | null> {
    const target = this.firewall()
    if (!target || this.badPinholeId(uniqueId)) return null
    const outcome = await native.checkPinholeWorking(target, uniqueId).catch(internalError)
    return this.settle(outcome) === UPNPResult.SUCCESS ? outcome.value === 'true' : null
  }

  /** How long the router keeps an idle outbound IPv6 flow open, in seconds; `null` on failure. */
  async getOutboundPinholeTimeout(
    internalPort: number,
    proto: Protocol = 'UDP',
    remoteHost: string = '',
    remotePort: number = 0,
    internalClient: string = '',
  ): Promise<number | null> {
    const target = this.firewall()
    const spec = target && this.pinholeSpec(internalPort, proto, 1, remoteHost, remotePort, internalClient)
    if (!target || !spec) return null
    const outcome = await native.getOutboundPinholeTimeout(target, spec).catch(internalError)
    return this.settle(outcome) === UPNPResult.SUCCESS ? Number(outcome.value) : null
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
