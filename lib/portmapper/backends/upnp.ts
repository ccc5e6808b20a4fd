/** PortMapper over UPnP IGD: conflicts move the external port, permanent-only routers get a
 *  permanent lease, and a gateway that stops answering is looked for again. */
import { UPNPError, UPNPResult } from '../../errors.ts'
import type { UPNPDevice } from '../../godot/device.ts'
import type { CallOptions, Protocol } from '../../types.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'

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
      // The signal reaches the add itself: aborted in flight, the router's mapping is undone.
      const call = signal ? { signal } : undefined
      const sentAt = Date.now()
      const result = await this.o.serial(() => gateway.addPortMapping(port, p.internalPort, p.description, p.protocol, lease, call))
      if (result === UPNPResult.SUCCESS) {
        try {
          const address = await this.o.serial(() => gateway.queryExternalAddress(call))
          return {
            externalPort: port,
            externalAddress: address,
            lease: await this.grantedLease(gateway, port, p.protocol, lease, sentAt, call),
            internalClient: gateway.igdOurAddr,
          }
        } catch (aborted) {
          // Aborted after the router made it: the caller gets no mapping, so none may stay.
          await this.o.serial(() => gateway.deletePortMapping(port, p.protocol))
          throw aborted
        }
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
      throw new UPNPError(
        { ...(gateway.lastError ?? { result, description: 'AddPortMapping failed' }), via: 'upnp' },
        `mapping ${p.protocol} ${port}`,
      )
    }
    throw new UPNPError(
      {
        result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING,
        via: 'upnp',
        description: `no free external port after ${this.o.maxAttempts} attempts (tried ${[...tried].join(', ')})`,
      },
      `mapping ${p.protocol} ${p.internalPort}`,
    )
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
      // The addon judged the BOOTIDs it saw: more reboots now than when `previous` was found.
      const rebooted = gateway.reboots > previous.reboots
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
    const sentAt = Date.now()
    const result = await this.o.serial(() => gateway.addPortMapping(g.externalPort, p.internalPort, p.description, p.protocol, p.lease))
    if (result !== UPNPResult.SUCCESS) {
      throw new UPNPError(
        { ...(gateway.lastError ?? { result, description: 'renewal failed' }), via: 'upnp' },
        `renewing ${p.protocol} ${g.externalPort}`,
      )
    }
    const lease = await this.grantedLease(gateway, g.externalPort, p.protocol, p.lease, sentAt)
    return { kind: 'ok', granted: { ...current, lease }, renewed: true }
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    const gateway = this.o.gateway()
    const result = await this.o.serial(() => gateway.deletePortMapping(g.externalPort, p.protocol))
    if (result !== UPNPResult.SUCCESS && result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      throw new UPNPError(
        { ...(gateway.lastError ?? { result, description: 'delete failed' }), via: 'upnp' },
        `deleting ${p.protocol} ${g.externalPort}`,
      )
    }
  }

  /** The lease the router really granted: follow it when it is less than asked. The router
   *  answers with the seconds *left*, read after the add (`since`, ms): a second that ticked
   *  over between the two (miniupnpd counts whole seconds) is not a shorter grant. */
  private async grantedLease(
    gateway: UPNPDevice,
    port: number,
    protocol: Protocol,
    asked: number,
    since: number,
    call?: CallOptions,
  ): Promise<number> {
    const entry = await this.o.serial(() => gateway.getPortMapping(port, protocol, call))
    if (!entry || entry.leaseDuration <= 0) return asked
    if (asked === 0) return entry.leaseDuration
    const elapsed = Math.ceil((Date.now() - since) / 1000) + 1
    return entry.leaseDuration + elapsed >= asked ? asked : entry.leaseDuration
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
