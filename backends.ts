/**
 * The three ways PortMapper can hold a mapping, behind one small interface: UPnP IGD (SOAP,
 * via the Godot classes), PCP (RFC 6887) and NAT-PMP (RFC 6886) via the addon. Each knows
 * how its protocol creates, keeps and deletes a mapping; PortMapper owns the policy
 * (scheduling, events, journal, exit cleanup).
 */
import { type Protocol, UPNPDevice, UPNPError, UPNPResult } from './index.ts'
import * as native from './native.ts'
import type { Via } from './probe.ts'

export interface MappingParams {
  internalPort: number
  protocol: Protocol
  description: string
  /** Requested lease in seconds; 0 = permanent. */
  lease: number
}

/** What the router granted (and what a backend needs to keep it). */
export interface Granted {
  externalPort: number
  externalAddress: string
  /** Seconds; 0 = permanent. */
  lease: number
  /** The address the router forwards to. */
  internalClient: string
  /** PCP: the mapping's nonce (renew and delete must repeat it). */
  nonce?: string
  /** NAT-PMP / PCP: reboots of the router seen by this process when it was granted. */
  resets?: number
}

export type Maintained =
  | { kind: 'ok'; granted: Granted; renewed: boolean }
  /** The router no longer had it. `granted` is set when the check itself re-created it. */
  | { kind: 'lost'; reason: string; granted?: Granted }

export interface Backend {
  readonly via: Via
  /** Creates the mapping, asking for `wanted` as the external port. */
  add(p: MappingParams, wanted: number, signal?: AbortSignal): Promise<Granted>
  /** Checks (and, when due or when the protocol checks by renewing, renews) the mapping. */
  maintain(p: MappingParams, g: Granted, renewDue: boolean): Promise<Maintained>
  /** Deletes it; already gone counts as deleted. */
  remove(p: MappingParams, g: Granted): Promise<void>
}

/** Runs one request at a time against a router (PortMapper passes its queue). */
export type Serial = <T>(work: () => Promise<T>) => Promise<T>

// ---- UPnP -------------------------------------------------------------------------------

export interface UpnpBackendOptions {
  portRange: [number, number]
  maxAttempts: number
  /** The current gateway, and a way to find it again after it stopped answering (null
   *  when the caller fixed the gateway: then it is never swapped). */
  gateway: () => UPNPDevice
  rediscover: (() => Promise<UPNPDevice>) | null
  serial: Serial
}

export class UpnpBackend implements Backend {
  readonly via = 'upnp' as const
  constructor(private readonly o: UpnpBackendOptions) {}

  async add(p: MappingParams, wanted: number, signal?: AbortSignal): Promise<Granted> {
    const gateway = this.o.gateway()
    const tried = new Set<number>()
    let port = wanted
    let lease = p.lease
    for (let attempt = 0; attempt < this.o.maxAttempts; attempt++) {
      signal?.throwIfAborted()
      tried.add(port)
      const result = await this.o.serial(() => gateway.addPortMapping(port, p.internalPort, p.description, p.protocol, lease))
      if (result === UPNPResult.SUCCESS) {
        const address = await this.o.serial(() => gateway.queryExternalAddress())
        return { externalPort: port, externalAddress: address, lease: await this.grantedLease(gateway, port, p.protocol, lease), internalClient: gateway.igdOurAddr }
      }
      const leaseRefused = result === UPNPResult.ONLY_PERMANENT_LEASE_SUPPORTED || result === UPNPResult.INVALID_ARGS
      if (leaseRefused && lease > 0) {
        lease = 0 // this router only does permanent mappings: ask again, same port
        continue
      }
      if (result === UPNPResult.CONFLICT_WITH_OTHER_MAPPING || result === UPNPResult.CONFLICT_WITH_OTHER_MECHANISM) {
        port = this.nextPort(tried)
        continue
      }
      throw new UPNPError({ ...(gateway.lastError ?? { result, description: 'AddPortMapping failed' }), via: 'upnp' }, `mapping ${p.protocol} ${port}`)
    }
    throw new UPNPError({ result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING, via: 'upnp', description: `no free external port after ${this.o.maxAttempts} attempts (tried ${[...tried].join(', ')})` }, `mapping ${p.protocol} ${p.internalPort}`)
  }

  async maintain(p: MappingParams, g: Granted, renewDue: boolean): Promise<Maintained> {
    let gateway = this.o.gateway()
    let entry = await this.o.serial(() => gateway.getPortMapping(g.externalPort, p.protocol))
    const failure = gateway.lastError
    if (!entry && failure && failure.result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      if (!this.o.rediscover) throw new UPNPError({ ...failure, via: 'upnp' }, 'checking mapping')
      // The router did not answer as before: it may have rebooted onto another port/URL.
      const previous = gateway
      gateway = await this.o.rediscover()
      entry = await this.o.serial(() => gateway.getPortMapping(g.externalPort, p.protocol))
      if (!entry && gateway.lastError?.result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
        throw new UPNPError({ ...(gateway.lastError ?? failure), via: 'upnp' }, 'checking mapping')
      }
      const rebooted = previous.bootId !== null && gateway.bootId !== null && previous.bootId !== gateway.bootId
      if (rebooted && entry) return { kind: 'lost', reason: 'the router rebooted (new BOOTID)' }
    }
    if (!entry) return { kind: 'lost', reason: 'the router no longer has it' }
    if (entry.internalClient !== g.internalClient || entry.internalPort !== p.internalPort) {
      return { kind: 'lost', reason: `port now forwards to ${entry.internalClient}:${entry.internalPort}` }
    }
    // The external address may have changed while the mapping stayed (a new WAN lease).
    const externalAddress = await this.o.serial(() => gateway.queryExternalAddress())
    const current = externalAddress ? { ...g, externalAddress } : g
    if (!renewDue) return { kind: 'ok', granted: current, renewed: false }
    const result = await this.o.serial(() => gateway.addPortMapping(g.externalPort, p.internalPort, p.description, p.protocol, p.lease))
    if (result !== UPNPResult.SUCCESS) {
      throw new UPNPError({ ...(gateway.lastError ?? { result, description: 'renewal failed' }), via: 'upnp' }, `renewing ${p.protocol} ${g.externalPort}`)
    }
    const lease = await this.grantedLease(gateway, g.externalPort, p.protocol, p.lease)
    return { kind: 'ok', granted: { ...current, lease }, renewed: true }
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    const gateway = this.o.gateway()
    const result = await this.o.serial(() => gateway.deletePortMapping(g.externalPort, p.protocol))
    if (result !== UPNPResult.SUCCESS && result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      throw new UPNPError({ ...(gateway.lastError ?? { result, description: 'delete failed' }), via: 'upnp' }, `deleting ${p.protocol} ${g.externalPort}`)
    }
  }

  /** The lease the router really holds: follow it when it grants less than asked. */
  private async grantedLease(gateway: UPNPDevice, port: number, protocol: Protocol, asked: number): Promise<number> {
    const entry = await this.o.serial(() => gateway.getPortMapping(port, protocol))
    if (!entry || entry.leaseDuration <= 0) return asked
    return asked === 0 ? entry.leaseDuration : Math.min(asked, entry.leaseDuration)
  }

  private nextPort(tried: Set<number>): number {
    const [low, high] = this.o.portRange
    for (let i = 0; i < 64; i++) {
      const port = low + Math.floor(Math.random() * (high - low + 1))
      if (!tried.has(port)) return port
    }
    return low
  }
}

// ---- PCP and NAT-PMP ----------------------------------------------------------------------

/** PCP and NAT-PMP have no permanent mappings: "permanent" is this lease, renewed forever. */
export const PMP_PERMANENT_LEASE = 7200

export interface PmpBackendOptions {
  /** Router address ("" = the default route's gateway). */
  router: string
  /** Budget for one exchange, retransmissions included (ms). */
  budgetMs: number
  serial: Serial
}

function pmpError(r: native.NativePmpResult, via: 'pcp' | 'natpmp', context: string): UPNPError {
  const info: ConstructorParameters<typeof UPNPError>[0] = {
    result: r.upnpResult,
    via,
    description: r.error ? `${r.meaning}: ${r.error}` : r.meaning,
  }
  if (r.resultCode != null) info.resultCode = r.resultCode
  return new UPNPError(info, context)
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
  constructor(readonly via: 'pcp' | 'natpmp', private readonly o: PmpBackendOptions) {
    this.name = via === 'pcp' ? 'PCP' : 'NAT-PMP'
  }

  private request(p: MappingParams, externalPort: number, nonce?: string): Promise<native.NativePmpResult> {
    const args = {
      gateway: this.o.router,
      budgetMs: this.o.budgetMs,
      protocol: p.protocol,
      internalPort: p.internalPort,
      externalPort,
      lifetime: p.lease === 0 ? PMP_PERMANENT_LEASE : p.lease,
    }
    // PCP renewals repeat the mapping's nonce; NAT-PMP identifies it by client and port.
    if (this.via === 'natpmp') return this.o.serial(() => native.natpmpMap(args))
    return this.o.serial(() => native.pcpMap(nonce ? { ...args, nonce } : args))
  }

  private granted(r: native.NativePmpResult, p: MappingParams, fallbackPort: number): Granted {
    if (r.externalAddress) this.lastAddress = r.externalAddress
    const g: Granted = {
      externalPort: r.externalPort ?? fallbackPort,
      externalAddress: this.lastAddress,
      lease: r.lifetime ?? (p.lease || PMP_PERMANENT_LEASE),
      internalClient: r.localAddress ?? '',
      resets: r.resets,
    }
    if (r.nonce) g.nonce = r.nonce
    return g
  }

  async add(p: MappingParams, wanted: number): Promise<Granted> {
    const r = await this.request(p, wanted)
    if (!r.ok) throw pmpError(r, this.via, `mapping ${p.protocol} ${p.internalPort} (${this.name})`)
    // NAT-PMP's MAP answer has no address: ask once (PCP's answer carries it).
    if (this.via === 'natpmp') await this.refreshAddress()
    return this.granted(r, p, wanted)
  }

  async maintain(p: MappingParams, g: Granted): Promise<Maintained> {
    const r = await this.request(p, g.externalPort, g.nonce)
    if (!r.ok) throw pmpError(r, this.via, `renewing ${p.protocol} ${g.externalPort} (${this.name})`)
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
    let r: native.NativePmpResult
    if (this.via === 'natpmp') {
      r = await this.o.serial(() => native.natpmpDelete(target))
    } else {
      if (!g.nonce) return
      const nonce = g.nonce
      r = await this.o.serial(() => native.pcpDelete({ ...target, nonce }))
    }
    if (!r.ok && !(r.answered && PCP_GONE.has(r.meaning))) {
      throw pmpError(r, this.via, `deleting ${p.protocol} ${g.externalPort} (${this.name})`)
    }
  }

  /** NAT-PMP asks for the address; PCP's MAP answers carry it (kept from the last one). */
  private async refreshAddress(): Promise<string> {
    if (this.via === 'natpmp') {
      const r = await this.o.serial(() => native.natpmpExternalAddress({ gateway: this.o.router, budgetMs: this.o.budgetMs }))
      if (r.ok && r.externalAddress) this.lastAddress = r.externalAddress
    }
    return this.lastAddress
  }
}
