/**
 * PortMapper's IPv6 side, `map({ family: 'ipv6' })`: pinholes instead of port mappings. IPv6
 * needs no NAT: a host is reachable at its own address once the router's firewall lets
 * inbound traffic to the port through. Two ways, best first as for IPv4:
 * - PCP: a MAP sent over IPv6 asks for a pinhole for the request's source address
 *   (RFC 6887 11; miniupnpd opens one), renewed and deleted with its nonce like a mapping;
 * - UPnP: the IGD's WANIPv6FirewallControl service, reached over IPv6 (routers take
 *   AddPinhole only from the host itself), found by a discovery over IPv6; the pinhole is
 *   for this host's global address on the interface towards the router, also when the
 *   router is reached over a unique-local or link-local one (`ipv6-address.ts`).
 * NAT-PMP is IPv4 only. PCP asks `router6`, else the IPv6 default route's gateway. The pinhole
 * PCP opens is for the request's source address, which the system would pick link-local
 * towards a link-local router (the usual IPv6 default route): so PCP requests are sent from
 * the address this host uses towards the Internet. Without one (no IPv6 route beyond the
 * LAN) and a link-local router, PCP is left out (`auto`) or refused (`pcp`).
 */
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import { UPNP } from '../godot/upnp.ts'
import type { UPNPDevice } from '../godot/device.ts'
import { deviceFromUrl } from '../godot/from-url.ts'
import { traced } from '../log/trace.ts'
import * as native from '../native/index.ts'
import { defaultGateway } from '../probe.ts'
import type { Via } from '../types.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'
import { isLinkLocal, publicSource6 } from './ipv6-address.ts'
import type { ResolvedOptions } from './options.ts'
import { PinholeBackend } from './pinhole-backend.ts'
import { PcpBackend } from './pxp-backend.ts'

export interface Ipv6BackendsOptions {
  options: ResolvedOptions
  /** The caller's gateway (`PortMapperOptions.gateway`): used as given, never rediscovered. */
  fixedGateway: UPNPDevice | null
  /** ... or its description URL: opened without a search, and again when it stops answering. */
  gatewayUrl: string | null
  serial: Serial
}

/** A PCP MAP over IPv6 is a pinhole for the request's source address: refused when that is
 *  link-local, which no one beyond the LAN can reach. */
class PcpPinholeBackend implements Backend {
  readonly via = 'pcp' as const
  readonly family = 'ipv6' as const
  readonly #lease: PcpBackend

  constructor(
    readonly router: string,
    localAddress: string,
    budgetMs: number,
    serial: Serial,
  ) {
    this.#lease = new PcpBackend({ router, budgetMs, serial, ...(localAddress ? { localAddress } : {}) })
  }

  async add(p: MappingParams): Promise<Granted> {
    const granted = await this.#lease.add(p, p.internalPort)
    if (isLinkLocal(granted.internalClient)) {
      await this.#lease.remove(p, granted).catch(() => undefined)
      throw new UPNPError(
        {
          result: UPNPResult.INVALID_GATEWAY,
          via: 'pcp',
          description: `the router (${this.router}) saw this host's link-local address ${granted.internalClient}, which cannot be reached from the Internet; give router6 the router's global or unique-local address`,
        },
        `opening an IPv6 pinhole for ${p.protocol} ${p.internalPort} (PCP)`,
      )
    }
    // The pinhole's address is this host's own: the one to publish.
    return { ...granted, externalAddress: granted.externalAddress || granted.internalClient }
  }

  async maintain(p: MappingParams, g: Granted): Promise<Maintained> {
    const outcome = await this.#lease.maintain(p, g)
    const fix = (x: Granted): Granted => ({ ...x, externalAddress: x.externalAddress || x.internalClient })
    return outcome.granted ? { ...outcome, granted: fix(outcome.granted) } : outcome
  }

  remove(p: MappingParams, g: Granted): Promise<void> {
    return this.#lease.remove(p, g)
  }
}

/** Chooses and makes the backends of IPv6 pinholes for one PortMapper. */
export class Ipv6Backends {
  #gateway: UPNPDevice | null
  readonly #backends = new Map<Via, Backend>()

  constructor(private readonly o: Ipv6BackendsOptions) {
    this.#gateway = o.fixedGateway
  }

  /** The UPnP gateway reached over IPv6, once one was needed. */
  get gateway(): UPNPDevice | null {
    return this.#gateway
  }

  /** The PCP server for IPv6: `router6`, else the IPv6 default route's gateway ("" = none). */
  async router(): Promise<string> {
    return this.o.options.router6 || ((await defaultGateway())?.gateway6 ?? '')
  }

  /** Why PCP cannot open a useful pinhole via `router`, or null when it can. */
  #pcpProblem(router: string): string | null {
    if (!router) return 'no IPv6 default gateway to ask over PCP: give router6'
    if (publicSource6()) return null
    const source = native.localAddressFor(router)
    if (isLinkLocal(source)) {
      return `towards the router ${router} this host's address is the link-local ${source}, so a PCP pinhole would be for it, which cannot be reached from the Internet; give router6 the router's global or unique-local address`
    }
    return null
  }

  /** Protocols to try, best first: PCP when it can open a useful pinhole and answers over IPv6
   *  (a quick ANNOUNCE), then UPnP. */
  async candidates(signal?: AbortSignal): Promise<Via[]> {
    const { protocol, probeBudget } = this.o.options
    if (protocol === 'natpmp') throw clientError(UPNPResult.INVALID_PARAM, 'NAT-PMP is IPv4 only: IPv6 pinholes need PCP or UPnP')
    if (protocol !== 'auto') return [protocol]
    const router = await this.router()
    if (this.#pcpProblem(router)) return ['upnp']
    const answer = await traced(null, (trace) => native.pcpAnnounce({ gateway: router, budgetMs: probeBudget, trace })).catch(() => null)
    signal?.throwIfAborted()
    return answer && !answer.failure ? ['pcp', 'upnp'] : ['upnp']
  }

  async backend(via: Via, signal?: AbortSignal): Promise<Backend> {
    const existing = this.#backends.get(via)
    if (existing) return existing
    let backend: Backend
    if (via === 'pcp') {
      const router = await this.router()
      const problem = this.#pcpProblem(router)
      if (problem)
        throw new UPNPError(
          { result: router ? UPNPResult.INVALID_GATEWAY : UPNPResult.NO_GATEWAY, via: 'pcp', description: problem },
          'IPv6 pinhole over PCP',
        )
      backend = new PcpPinholeBackend(router, publicSource6(), this.o.options.pmpBudget, this.o.serial)
    } else if (via === 'upnp') {
      const find = (s?: AbortSignal) => (this.o.gatewayUrl !== null ? this.#open(this.o.gatewayUrl, s) : this.#discover(s))
      if (!this.#gateway) this.#gateway = await find(signal)
      backend = new PinholeBackend({
        gateway: () => this.#gateway as UPNPDevice,
        rediscover: this.o.fixedGateway ? null : async () => (this.#gateway = await find()),
        serial: this.o.serial,
      })
    } else {
      throw clientError(UPNPResult.INVALID_PARAM, 'NAT-PMP is IPv4 only: IPv6 pinholes need PCP or UPnP')
    }
    this.#backends.set(via, backend)
    return backend
  }

  /** The device at the caller's description URL, which must offer the pinhole service (its
   *  IPv4 side may be down, as behind DS-Lite). */
  async #open(url: string, signal?: AbortSignal): Promise<UPNPDevice> {
    const device = await deviceFromUrl(url, { requestTimeout: this.o.options.requestTimeout, ...(signal ? { signal } : {}) })
    if (device.firewallControlUrl) return device
    const why = device.lastError ? `: ${device.lastError.description}` : ''
    throw new UPNPError(
      {
        result: UPNPResult.INVALID_GATEWAY,
        via: 'upnp',
        description: `the gateway at ${url} has no IPv6 firewall service (WANIPv6FirewallControl)${why}`,
      },
      'opening the gateway from its description URL',
    )
  }

  /** An IPv6 discovery for a device with the pinhole service (a working gateway first; one
   *  whose IPv4 side is down, as behind DS-Lite, still opens IPv6 pinholes). */
  async #discover(signal?: AbortSignal): Promise<UPNPDevice> {
    const { options } = this.o
    const upnp = new UPNP()
    upnp.discoverIpv6 = true
    upnp.discoverMulticastIf = options.discoverMulticastIf
    upnp.discoverLocalPort = options.discoverLocalPort
    upnp.requestTimeout = options.requestTimeout
    await upnp.discover({ timeout: options.discoverTimeout, untilGateway: true, ...(signal ? { signal } : {}) })
    const devices: UPNPDevice[] = []
    for (let i = 0; i < upnp.getDeviceCount(); i++) {
      const d = upnp.getDevice(i)
      if (d?.firewallControlUrl) devices.push(d)
    }
    const found = devices.find((d) => d.isValidGateway()) ?? devices[0]
    if (found) return found
    throw new UPNPError(
      {
        result: UPNPResult.NO_GATEWAY,
        via: 'upnp',
        description: `no UPnP gateway with an IPv6 firewall service (WANIPv6FirewallControl) answered over IPv6${upnp.getDeviceCount() ? ` (${upnp.getDeviceCount()} device(s) without one did)` : ''}`,
      },
      'discovery over IPv6',
    )
  }
}
