/** PortMapper over PCP and NAT-PMP: the MAP request creates, renews and checks at once. */
import { PXP_PERMANENT_LEASE_S } from '../defaults.ts'
import * as native from '../native/index.ts'
import { failureError } from '../native/convert.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'

export interface PxpBackendOptions {
  /** Router address ("" = the default route's gateway). */
  router: string
  /** Budget for one exchange, retransmissions included (ms). */
  budgetMs: number
  serial: Serial
}

/** A delete answered "I have no such mapping" (PCP: NO_RESOURCES) is what we wanted. */
const PCP_GONE = new Set(['NO_RESOURCES'])

/**
 * PCP and NAT-PMP hold mappings the same way: a MAP request creates or renews, the answer
 * says what was granted, and the server's epoch in every answer reveals a reboot (after
 * which the router had forgotten the mapping until this very renewal re-created it).
 * Neither has a "get entry": the check *is* the renewal.
 */
export class LeaseBackend implements Backend {
  private lastAddress = ''
  private readonly name: string
  constructor(
    readonly via: 'pcp' | 'natpmp',
    private readonly o: PxpBackendOptions,
  ) {
    this.name = via === 'pcp' ? 'PCP' : 'NAT-PMP'
  }

  private request(p: MappingParams, externalPort: number, nonce?: string): Promise<native.NativePxpAnswer> {
    const args = {
      gateway: this.o.router,
      budgetMs: this.o.budgetMs,
      protocol: p.protocol,
      internalPort: p.internalPort,
      externalPort,
      lifetime: p.lease === 0 ? PXP_PERMANENT_LEASE_S : p.lease,
    }
    // PCP renewals repeat the mapping's nonce; NAT-PMP identifies it by client and port.
    if (this.via === 'natpmp') return this.o.serial(() => native.natpmpMap(args))
    return this.o.serial(() => native.pcpMap(nonce ? { ...args, nonce } : args))
  }

  private granted(r: native.NativePxpAnswer, p: MappingParams, fallbackPort: number): Granted {
    if (r.externalAddress) this.lastAddress = r.externalAddress
    const g: Granted = {
      externalPort: r.externalPort ?? fallbackPort,
      externalAddress: this.lastAddress,
      lease: r.lifetime ?? (p.lease || PXP_PERMANENT_LEASE_S),
      internalClient: r.localAddress ?? '',
      resets: r.resets,
    }
    if (r.nonce) g.nonce = r.nonce
    return g
  }

  async add(p: MappingParams, wanted: number): Promise<Granted> {
    const r = await this.request(p, wanted)
    if (r.failure) throw failureError(r.failure, `mapping ${p.protocol} ${p.internalPort} (${this.name})`)
    // NAT-PMP's MAP answer has no address: ask once (PCP's answer carries it).
    if (this.via === 'natpmp') await this.refreshAddress()
    return this.granted(r, p, wanted)
  }

  async maintain(p: MappingParams, g: Granted): Promise<Maintained> {
    const r = await this.request(p, g.externalPort, g.nonce)
    if (r.failure) throw failureError(r.failure, `renewing ${p.protocol} ${g.externalPort} (${this.name})`)
    // Every check reports the current external address (PCP's answer carries it; NAT-PMP
    // must ask), so a new WAN address is noticed like with UPnP.
    if (this.via === 'natpmp') await this.refreshAddress()
    const granted = this.granted(r, p, g.externalPort)
    if (r.rebooted || (g.resets !== undefined && r.resets > g.resets)) {
      return { kind: 'lost', reason: `the router rebooted (${this.name} epoch went back)`, granted }
    }
    return { kind: 'ok', granted, renewed: true }
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    const target = { gateway: this.o.router, budgetMs: this.o.budgetMs, protocol: p.protocol, internalPort: p.internalPort }
    let r: native.NativePxpAnswer
    if (this.via === 'natpmp') {
      r = await this.o.serial(() => native.natpmpDelete(target))
    } else {
      if (!g.nonce) return
      const nonce = g.nonce
      r = await this.o.serial(() => native.pcpDelete({ ...target, nonce }))
    }
    if (r.failure && !(r.failure.code != null && PCP_GONE.has(r.failure.meaning))) {
      throw failureError(r.failure, `deleting ${p.protocol} ${g.externalPort} (${this.name})`)
    }
  }

  /** NAT-PMP asks for the address; PCP's MAP answers carry it (kept from the last one). */
  private async refreshAddress(): Promise<string> {
    if (this.via === 'natpmp') {
      const r = await this.o.serial(() => native.natpmpExternalAddress({ gateway: this.o.router, budgetMs: this.o.budgetMs }))
      if (!r.failure && r.externalAddress) this.lastAddress = r.externalAddress
    }
    return this.lastAddress
  }
}
