/**
 * PortMapper's IPv6 side, `map({ family: 'ipv6' })`: pinholes instead of port mappings. IPv6
 * needs no NAT: a host is reachable at its own address once the router's firewall lets
 * inbound traffic to the port through. Two ways, best first as for IPv4:
 * - PCP (`backends/pcp-pinhole.ts`): a MAP sent over IPv6 asks for a pinhole for the
 *   request's source address, renewed and deleted with its nonce like a mapping;
 * - UPnP (`backends/upnp-pinhole.ts`): the IGD's WANIPv6FirewallControl service, reached over
 *   IPv6 (routers take AddPinhole only from the host itself), found by a discovery over IPv6;
 *   the pinhole is for this host's global address on the interface towards the router, also
 *   when the router is reached over a unique-local or link-local one (`ipv6-address.ts`).
 * NAT-PMP is IPv4 only. PCP asks `router6`, else the IPv6 default route's gateway. The pinhole
 * PCP opens is for the request's source address, which the system would pick link-local
 * towards a link-local router (the usual IPv6 default route): so PCP requests are sent from
 * the address this host uses towards the Internet. Without one (no IPv6 route beyond the
 * LAN) and a link-local router, PCP is left out (`auto`) or refused (`pcp`).
 */
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import type { UPNPDevice } from '../godot/device.ts'
import { traced } from '../log/trace.ts'
import * as native from '../native/index.ts'
import { defaultGateway } from '../probe.ts'
import type { Via } from '../types.ts'
import type { Backend } from './backends/backend.ts'
import { type CloseElsewhere, PcpPinholeBackend } from './backends/pcp-pinhole.ts'
import { UpnpPinholeBackend } from './backends/upnp-pinhole.ts'
import { FamilyBase, type FamilyContext } from './family.ts'
import { isLinkLocal, publicSource6 } from './ipv6-address.ts'

const IPV4_ONLY = 'NAT-PMP is IPv4 only: IPv6 pinholes need PCP or UPnP'

export class Ipv6Backends extends FamilyBase {
  constructor(context: FamilyContext) {
    super(context, 'pinholes', true)
  }

  /** The PCP server for IPv6: `router6`, else the IPv6 default route's gateway ("" = none). */
  async router(): Promise<string> {
    return this.context.options.router6 || ((await defaultGateway())?.gateway6 ?? '')
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

  /** Closes `client`'s pinhole for `p` over UPnP: a PCP pinhole the router no longer deletes
   *  over PCP (`backends/pcp-pinhole.ts`), held by this mapper or left by a dead process. */
  readonly closeOverUpnp: CloseElsewhere = async (p, client) => {
    const upnp = (await this.backend('upnp')) as UpnpPinholeBackend
    await upnp.closeFor(p, client)
  }

  /** PCP when it can open a useful pinhole and answers over IPv6 (a quick ANNOUNCE), then UPnP. */
  async candidates(signal?: AbortSignal): Promise<Via[]> {
    const { via, probeBudget } = this.context.options
    if (via === 'natpmp') throw clientError(UPNPResult.INVALID_PARAM, IPV4_ONLY)
    if (via !== 'auto') return [via]
    const router = await this.router()
    if (this.#pcpProblem(router)) return ['upnp']
    const answer = await traced(null, (trace) => native.pcpAnnounce({ router, budgetMs: probeBudget, trace })).catch(() => null)
    signal?.throwIfAborted()
    return answer && !answer.failure ? ['pcp', 'upnp'] : ['upnp']
  }

  protected async make(via: Via, signal?: AbortSignal): Promise<Backend> {
    const { options, serial } = this.context
    if (via === 'pcp') {
      const router = await this.router()
      const problem = this.#pcpProblem(router)
      if (problem)
        throw new UPNPError(
          { result: router ? UPNPResult.INVALID_GATEWAY : UPNPResult.NO_GATEWAY, via: 'pcp', description: problem },
          'IPv6 pinhole over PCP',
        )
      return new PcpPinholeBackend(router, publicSource6(), options.pxpBudget, serial, this.closeOverUpnp)
    }
    if (via !== 'upnp') throw clientError(UPNPResult.INVALID_PARAM, IPV4_ONLY)
    await this.ensureGateway(signal)
    return new UpnpPinholeBackend({ gateway: () => this.gateway as UPNPDevice, rediscover: this.rediscover, serial })
  }
}
