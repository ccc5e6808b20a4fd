/**
 * An address family's side of PortMapper: which protocols can hold its mappings, best first,
 * the backend of each (made once, then reused) and the UPnP gateway they use. IPv4 port
 * mappings (`ipv4.ts`) and IPv6 pinholes (`ipv6.ts`) each implement it once; PortMapper keeps
 * only the policy, the same for both.
 */
import { findGateway, type GatewayNeed } from '../find-gateway.ts'
import type { UPNPDevice } from '../godot/device.ts'
import type { Via } from '../types.ts'
import type { Backend, Serial } from './backends/backend.ts'
import type { ResolvedOptions } from './options.ts'
import { SharedPending } from './shared-pending.ts'

/** How PortMapper holds the mappings of one address family. */
export interface FamilyBackends {
  /** Protocols to try, best first: the `via` option, else those the router answers. */
  candidates(signal?: AbortSignal): Promise<Via[]>
  /** The backend of `via`, made (its gateway found) at the first need, then reused. */
  backend(via: Via, signal?: AbortSignal): Promise<Backend>
  /** The UPnP gateway in use, once one was needed (or given). */
  readonly gateway: UPNPDevice | null
}

/** What a family gets from its PortMapper. */
export interface FamilyContext {
  options: ResolvedOptions
  /** `PortMapperOptions.gateway` as a device: used as given, never rediscovered. */
  givenGateway: UPNPDevice | null
  /** ... or as a description URL: opened without a search, and again when it stops answering. */
  gatewayUrl: string | null
  serial: Serial
}

/** The part both families share: the backends made so far, and where the UPnP gateway comes
 *  from (given, its URL, or a search; found again after it stopped answering). */
export abstract class FamilyBase implements FamilyBackends {
  readonly #backends = new Map<Via, Backend>()
  /** Makes in flight: concurrent first calls (two map() at once) share one search or probe. */
  readonly #making = new Map<Via, SharedPending<Backend>>()
  #gateway: UPNPDevice | null

  constructor(
    protected readonly context: FamilyContext,
    /** What the UPnP gateway must offer. */
    private readonly need: GatewayNeed,
    /** Whether it is searched for over IPv6. */
    private readonly searchIpv6: boolean,
  ) {
    this.#gateway = context.givenGateway
  }

  abstract candidates(signal?: AbortSignal): Promise<Via[]>
  /** Makes the backend of `via` (called once per protocol). */
  protected abstract make(via: Via, signal?: AbortSignal): Promise<Backend>

  get gateway(): UPNPDevice | null {
    return this.#gateway
  }

  /** Uses `device` as the gateway unless one is in use already (found by a probe). */
  protected adopt(device: UPNPDevice): void {
    this.#gateway ??= device
  }

  async backend(via: Via, signal?: AbortSignal): Promise<Backend> {
    const existing = this.#backends.get(via)
    if (existing) return existing
    let making = this.#making.get(via)
    if (!making) this.#making.set(via, (making = new SharedPending<Backend>()))
    // Kept once made, unless every caller gave up meanwhile (then the next call makes afresh).
    return making.join(async (stop) => {
      const backend = await this.make(via, stop)
      if (!stop.aborted) this.#backends.set(via, backend)
      return backend
    }, signal)
  }

  /** The UPnP gateway: the one in use, else opened from its URL or searched for. */
  async ensureGateway(signal?: AbortSignal): Promise<UPNPDevice> {
    return this.#gateway ?? this.#find(signal)
  }

  /** How a backend finds the gateway again after it stopped answering (it may have rebooted
   *  onto another port or URL); null when the caller gave the device: it is never swapped. */
  protected get rediscover(): (() => Promise<UPNPDevice>) | null {
    return this.context.givenGateway ? null : () => this.#find()
  }

  async #find(signal?: AbortSignal): Promise<UPNPDevice> {
    const { options, gatewayUrl } = this.context
    this.#gateway = await findGateway({
      url: gatewayUrl,
      need: this.need,
      timeout: options.discoverTimeout,
      multicastIf: options.discoverMulticastIf,
      ipv6: this.searchIpv6,
      localPort: options.discoverLocalPort,
      requestTimeout: options.requestTimeout,
      ...(signal ? { signal } : {}),
    })
    return this.#gateway
  }
}
