/** PortMapper over PCP and NAT-PMP: the MAP request creates, renews and checks at once. */
import { traced } from '../../log/trace.ts'
import * as native from '../../native/index.ts'
import { failureError } from '../../native/convert.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'

export interface PxpBackendOptions {
  /** Router address ("" = the default route's gateway). */
  router: string
  /** Budget for one exchange, retransmissions included (ms). */
  budgetMs: number
  serial: Serial
  /** PCP: the local address to send from, the mapping's internal address (an IPv6 pinhole's);
   *  absent = the system's choice towards the router. */
  localAddress?: string
}

/** What a MAP request of either protocol sends. */
interface MapArgs {
  router: string
  budgetMs: number
  protocol: MappingParams['protocol']
  internalPort: number
  externalPort: number
  lifetime: number
}

/**
 * PCP and NAT-PMP hold mappings the same way: a MAP request creates or renews, the answer
 * says what was granted, and the server's epoch in every answer reveals a reboot (after
 * which the router had forgotten the mapping until this very renewal re-created it; Rust
 * judges the epoch and reports `rebooted` and `resets`). Neither has a "get entry": the
 * check *is* the renewal. Each protocol supplies its requests (`NatPmpBackend`,
 * `PcpBackend`).
 */
abstract class PxpBackend implements Backend {
  abstract readonly via: 'pcp' | 'natpmp'
  /** The protocol's name in messages. */
  protected abstract readonly name: string
  /** The external address from the last answer that had one. */
  protected lastAddress = ''

  constructor(protected readonly o: PxpBackendOptions) {}

  /** Sends the MAP request (`nonce`: PCP's renewal of a mapping it made). */
  protected abstract map(args: MapArgs, nonce?: string): Promise<native.NativePxpAnswer>
  /** Sends the delete; null when there is nothing this protocol could delete. */
  protected abstract delete(p: MappingParams, g: Granted): Promise<native.NativePxpAnswer | null>
  /** Learns the current external address after a MAP (PCP's answer carries it already). */
  protected async refreshAddress(): Promise<void> {}
  /** A delete answered "no such mapping" is what we wanted. */
  protected isGone(_failure: native.NativeFailure): boolean {
    return false
  }

  private request(p: MappingParams, externalPort: number, nonce?: string): Promise<native.NativePxpAnswer> {
    const args: MapArgs = {
      router: this.o.router,
      budgetMs: this.o.budgetMs,
      protocol: p.protocol,
      internalPort: p.internalPort,
      externalPort,
      lifetime: p.lease === 0 ? native.PXP_LIFETIME_S : p.lease,
    }
    return this.o.serial(() => this.map(args, nonce))
  }

  private granted(r: native.NativePxpAnswer, p: MappingParams, fallbackPort: number): Granted {
    if (r.externalAddress) this.lastAddress = r.externalAddress
    const g: Granted = {
      externalPort: r.externalPort ?? fallbackPort,
      externalAddress: this.lastAddress,
      lease: r.lifetime ?? (p.lease || native.PXP_LIFETIME_S),
      internalClient: r.localAddress ?? '',
      resets: r.resets,
    }
    if (r.nonce) g.nonce = r.nonce
    if (r.router) g.server = r.router
    return g
  }

  async add(p: MappingParams, wanted: number): Promise<Granted> {
    const r = await this.request(p, wanted)
    if (r.failure) throw failureError(r.failure, `mapping ${p.protocol} ${p.internalPort} (${this.name})`)
    await this.refreshAddress()
    return this.granted(r, p, wanted)
  }

  async maintain(p: MappingParams, g: Granted): Promise<Maintained> {
    const r = await this.request(p, g.externalPort, g.nonce)
    if (r.failure) throw failureError(r.failure, `renewing ${p.protocol} ${g.externalPort} (${this.name})`)
    // Every check reports the current external address, so a new WAN address is noticed
    // like with UPnP.
    await this.refreshAddress()
    const granted = this.granted(r, p, g.externalPort)
    if (r.rebooted || (g.resets !== undefined && r.resets > g.resets)) {
      return { kind: 'lost', reason: `the router rebooted (${this.name} epoch went back)`, granted }
    }
    return { kind: 'ok', granted, renewed: true }
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    const r = await this.o.serial(() => this.delete(p, g))
    if (r?.failure && !this.isGone(r.failure)) {
      throw failureError(r.failure, `deleting ${p.protocol} ${g.externalPort} (${this.name})`)
    }
  }
}

/** NAT-PMP (RFC 6886): mappings are known by client and internal port; the MAP answer has
 *  no external address, so each check also asks for it. */
export class NatPmpBackend extends PxpBackend {
  readonly via = 'natpmp'
  protected readonly name = 'NAT-PMP'

  protected map(args: MapArgs): Promise<native.NativePxpAnswer> {
    return traced(null, (trace) => native.natpmpMap({ ...args, trace }))
  }

  protected delete(p: MappingParams): Promise<native.NativePxpAnswer> {
    return traced(null, (trace) =>
      native.natpmpDelete({ router: this.o.router, budgetMs: this.o.budgetMs, protocol: p.protocol, internalPort: p.internalPort, trace }),
    )
  }

  protected override async refreshAddress(): Promise<void> {
    const r = await this.o.serial(() =>
      traced(null, (trace) => native.natpmpExternalAddress({ router: this.o.router, budgetMs: this.o.budgetMs, trace })),
    )
    if (!r.failure && r.externalAddress) this.lastAddress = r.externalAddress
  }
}

/** PCP (RFC 6887): a mapping is owned by its nonce, which renewals and the delete repeat;
 *  the MAP answer carries the external address. */
export class PcpBackend extends PxpBackend {
  readonly via = 'pcp'
  protected readonly name = 'PCP'

  protected map(args: MapArgs, nonce?: string): Promise<native.NativePxpAnswer> {
    const local = this.o.localAddress ? { localAddress: this.o.localAddress } : {}
    return traced(null, (trace) => native.pcpMap(nonce ? { ...args, ...local, nonce, trace } : { ...args, ...local, trace }))
  }

  protected async delete(p: MappingParams, g: Granted): Promise<native.NativePxpAnswer | null> {
    const nonce = g.nonce
    if (!nonce) return null
    return traced(null, (trace) =>
      native.pcpDelete({
        trace,
        router: this.o.router,
        budgetMs: this.o.budgetMs,
        protocol: p.protocol,
        internalPort: p.internalPort,
        nonce,
        ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
      }),
    )
  }

  /** miniupnpd answers the delete of a mapping it does not have with NO_RESOURCES. */
  protected override isGone(failure: native.NativeFailure): boolean {
    return failure.code != null && failure.meaning === 'NO_RESOURCES'
  }
}

/** The backend of `via`. */
export function pxpBackend(via: 'pcp' | 'natpmp', options: PxpBackendOptions): PxpBackend {
  return via === 'pcp' ? new PcpBackend(options) : new NatPmpBackend(options)
}
