/**
 * PortMapper's IPv6 pinholes over PCP: a MAP sent over IPv6 asks for a pinhole for the
 * request's source address (RFC 6887 11; miniupnpd opens one), renewed and deleted with its
 * nonce like a mapping (`PcpBackend`). The pinhole's address is this host's own: the one to
 * publish.
 */
import { UPNPError, UPNPResult } from '../../errors.ts'
import { isLinkLocal } from '../ipv6-address.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'
import { PcpBackend } from './pxp.ts'

/** The pinhole's own address is its external one: PCP leaves the answer's empty. */
const withOwnAddress = (granted: Granted): Granted => ({ ...granted, externalAddress: granted.externalAddress || granted.internalClient })

/** Closes `client`'s pinhole for `p` another way (UPnP's IPv6 firewall service). */
export type CloseElsewhere = (p: MappingParams, client: string) => Promise<void>

/**
 * A PCP MAP over IPv6 is a pinhole for the request's source address: refused when that is
 * link-local, which no one beyond the LAN can reach.
 *
 * miniupnpd 2.3.1 (its nftables backend, Debian 12's) forgets a pinhole's nonce once it has
 * renewed it (a renewal, or a retransmitted MAP when the answer took over 250 ms): from then
 * on it refuses the delete as NOT_AUTHORIZED, and the pinhole would stay until its lifetime
 * ends. Such a pinhole is closed through UPnP instead, when the router offers it (`closeElsewhere`).
 */
export class PcpPinholeBackend implements Backend {
  readonly via = 'pcp' as const
  readonly family = 'ipv6' as const
  readonly #pcp: PcpBackend

  constructor(
    readonly router: string,
    localAddress: string,
    budgetMs: number,
    serial: Serial,
    private readonly closeElsewhere?: CloseElsewhere,
  ) {
    this.#pcp = new PcpBackend({ router, budgetMs, serial, ...(localAddress ? { localAddress } : {}) })
  }

  async add(p: MappingParams): Promise<Granted> {
    const granted = await this.#pcp.add(p, p.internalPort)
    if (isLinkLocal(granted.internalClient)) {
      await this.#pcp.remove(p, granted).catch(() => undefined)
      throw new UPNPError(
        {
          result: UPNPResult.INVALID_GATEWAY,
          via: 'pcp',
          description: `the router (${this.router}) saw this host's link-local address ${granted.internalClient}, which cannot be reached from the Internet; give router6 the router's global or unique-local address`,
        },
        `opening an IPv6 pinhole for ${p.protocol} ${p.internalPort} (PCP)`,
      )
    }
    return withOwnAddress(granted)
  }

  async maintain(p: MappingParams, g: Granted): Promise<Maintained> {
    const outcome = await this.#pcp.maintain(p, g)
    return outcome.granted ? { ...outcome, granted: withOwnAddress(outcome.granted) } : outcome
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    try {
      await this.#pcp.remove(p, g)
    } catch (error) {
      const refused = error instanceof UPNPError && error.result === UPNPResult.NOT_AUTHORIZED
      if (!refused || !this.closeElsewhere) throw error
      // The router lost our nonce (above): the one other way it takes a delete from us.
      await this.closeElsewhere(p, g.internalClient).catch(() => {
        throw error
      })
    }
  }
}
