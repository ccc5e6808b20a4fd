/** The public handle of one mapping held by a PortMapper. */
import type { CallOptions, Family, Protocol, Via } from '../types.ts'
import type { Granted } from './backends/backend.ts'

/** One mapping held by a PortMapper. Its fields follow the router (port, lease, address). */
export class Mapping {
  #externalPort: number
  #externalAddress: string
  #lease: number
  #internalClient: string
  #closed = false
  readonly #unmap: (mapping: Mapping, options?: CallOptions) => Promise<void>

  /** @hidden Made by `PortMapper.map()`, not by applications. Not `@internal`: stripped from
   *  the shipped types, it would leave them an implicit `new Mapping()`. */
  constructor(
    unmap: (mapping: Mapping, options?: CallOptions) => Promise<void>,
    /** Which protocol holds it on the router. */
    readonly via: Via,
    /** The port on this host that the router forwards to. */
    readonly internalPort: number,
    /** 'UDP' or 'TCP'. */
    readonly protocol: Protocol,
    /** The description the router holds with the mapping (UPnP only). */
    readonly description: string,
    /** The lease asked for, in seconds (0 = permanent). */
    readonly requestedLease: number,
    granted: Granted,
    /** 'ipv6': a pinhole; `externalAddress` is then this host's own IPv6 address (the one to
     *  publish) and `externalPort` equals `internalPort`. */
    readonly family: Family = 'ipv4',
  ) {
    this.#unmap = unmap
    this.#internalClient = granted.internalClient
    this.#externalPort = granted.externalPort
    this.#externalAddress = granted.externalAddress
    this.#lease = granted.lease
  }

  /** The address the router forwards to (this host). */
  get internalClient(): string {
    return this.#internalClient
  }

  /** The port peers connect to: the one asked for, or another after a conflict (UPnP 718,
   *  or what NAT-PMP/PCP granted). */
  get externalPort(): number {
    return this.#externalPort
  }
  /** The router's external address (the one to publish), or for an IPv6 pinhole this host's
   *  own address; follows the router when it changes. */
  get externalAddress(): string {
    return this.#externalAddress
  }
  /** The lease the router granted, in seconds (0 = permanent; PCP/NAT-PMP have no permanent
   *  mappings, so a permanent request is held as 7200 s leases renewed forever). */
  get lease(): number {
    return this.#lease
  }
  /** True once the mapping was closed (by `close()`, `unmap()` or the mapper's `close()`). */
  get closed(): boolean {
    return this.#closed
  }

  /** Deletes this mapping from the router and stops maintaining it. */
  close(options?: CallOptions): Promise<void> {
    return this.#unmap(this, options)
  }

  /** `await using m = await mapper.map(...)` (Node 24+): `close()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** @internal */
  update(fields: { externalPort?: number; externalAddress?: string; lease?: number; closed?: boolean; internalClient?: string }): void {
    if (fields.internalClient !== undefined) this.#internalClient = fields.internalClient
    if (fields.externalPort !== undefined) this.#externalPort = fields.externalPort
    if (fields.externalAddress !== undefined) this.#externalAddress = fields.externalAddress
    if (fields.lease !== undefined) this.#lease = fields.lease
    if (fields.closed !== undefined) this.#closed = fields.closed
  }
}
