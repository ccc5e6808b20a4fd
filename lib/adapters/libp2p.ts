/**
 * `upnp-native/libp2p`: a `portMappingClient` for `@libp2p/upnp-nat` (Helia, js-libp2p),
 * in place of the `@achingbrain/nat-port-mapper` client it creates by default:
 *
 *   uPnPNAT({ portMappingClient: portMappingClient() })
 *
 * The contract is nat-port-mapper's `UPnPNAT` (findGateways / getGateway(url)) and `Gateway`
 * (map / unmap / mapAll / externalIp / stop), declared here by shape so that nothing of
 * theirs is a dependency; its factories `upnpNat()` and `pmpNat(ip)` exist under their names
 * too, so direct nat-port-mapper users switch by changing the import. Each gateway holds its mappings with a `PortMapper` on that one
 * device: renewed at half the granted lease, restored after a router reboot, deleted on
 * `stop()` and on SIGINT/SIGTERM/exit. Unlike nat-port-mapper it finds IGD v1 and v2, and
 * `unmap` deletes exactly what `map` created.
 *
 * @module upnp-native/libp2p
 */
import { isIP } from 'node:net'
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import { findGateway, type GatewaySearch, searchGateways } from '../find-gateway.ts'
import type { UPNPDevice } from '../godot/device.ts'
import { PortMapper } from '../portmapper/mapper.ts'
import { probe } from '../probe.ts'
import type { Mapping } from '../portmapper/mapping.ts'
import type { Protocol } from '../types.ts'
import { checkedOptions, checkedSignal, isIntegerIn, show } from '../validate.ts'

const CLIENT_KEYS = ['description', 'ttl', 'searchTimeout', 'requestTimeout', 'discoverMulticastIf'] as const
const MAP_KEYS = ['externalPort', 'remoteHost', 'protocol', 'ttl', 'description', 'signal'] as const

/** The client's options, checked (they are used later, inside calls). */
function clientOptions(options: unknown): PortMappingClientOptions {
  const o = checkedOptions(options, CLIENT_KEYS, 'portMappingClient options')
  for (const key of ['description', 'discoverMulticastIf'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string')
      throw clientError(UPNPResult.INVALID_ARGS, `${key} ${show(o[key])} is not a string`)
  }
  for (const key of ['ttl', 'searchTimeout', 'requestTimeout'] as const) {
    if (o[key] !== undefined && !isIntegerIn(o[key], 1, 2 ** 31 - 1))
      throw clientError(UPNPResult.INVALID_ARGS, `${key} ${show(o[key])} is not whole ms`)
  }
  return o as PortMappingClientOptions
}

/** What nat-port-mapper's `AbortOptions` carry. */
export interface AbortOptions {
  /** Aborts the call: it rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** nat-port-mapper's options of `Gateway.map()` / `mapAll()`. */
export interface MapPortOptions extends AbortOptions {
  /** External port wanted (default: the internal port); another is chosen when it is taken. */
  externalPort?: number
  /** Remote host filter: only '' (any) is supported, as on most routers. */
  remoteHost?: string
  /** 'TCP' (default) or 'UDP', either case. */
  protocol?: 'tcp' | 'TCP' | 'udp' | 'UDP'
  /** Lease in ms (default: the client's `ttl`). */
  ttl?: number
  /** The mapping's description on a UPnP router (default: the client's `description`). */
  description?: string
  /** Accepted for compatibility: upnp-native always renews (at half the granted lease). */
  autoRefresh?: boolean
  /** Accepted for compatibility and ignored (renewal is PortMapper's). */
  refreshTimeout?: number
  /** Accepted for compatibility and ignored (renewal is PortMapper's). */
  refreshThreshold?: number
}

/** A mapping as nat-port-mapper reports it. */
export interface PortMapping {
  /** The router's external address: where peers connect. */
  externalHost: string
  /** The external port: where peers connect. */
  externalPort: number
  /** This host's address that the router forwards to. */
  internalHost: string
  /** The port on this host. */
  internalPort: number
  /** 'TCP' or 'UDP'. */
  protocol: 'TCP' | 'UDP'
}

/** nat-port-mapper's `Gateway`: one router and the mappings held on it. */
export interface Gateway {
  /** Identifies the gateway: its description URL (UPnP) or address (NAT-PMP). */
  id: string
  /** The router's address. */
  host: string
  /** The port its UPnP description (or NAT-PMP, 5351) is served on. */
  port: number
  /** The address family of `host`. */
  family: 'IPv4' | 'IPv6'
  /** Deletes every mapping made through this gateway. */
  stop(options?: AbortOptions): Promise<void>
  /** Maps `internalPort` on `internalHost`, which must be this host's address towards the
   *  gateway (`INVALID_PARAM` otherwise), and keeps it alive. */
  map(internalPort: number, internalHost: string, options?: MapPortOptions): Promise<PortMapping>
  /** Maps `internalPort` for this host; yields the mapping once it is made. */
  mapAll(internalPort: number, options?: MapPortOptions): AsyncGenerator<PortMapping, void, unknown>
  /** Deletes the mappings this gateway made for `internalPort`. */
  unmap(internalPort: number, options?: AbortOptions): Promise<void>
  /** The router's external address. */
  externalIp(options?: AbortOptions): Promise<string>
}

/** nat-port-mapper's options of `findGateways()`. */
export interface FindGatewaysOptions extends AbortOptions {
  /** Accepted for compatibility: a search here is one burst plus one retransmission. */
  searchInterval?: number
}

/** nat-port-mapper's `UPnPNAT` (what `uPnPNAT({ portMappingClient })` takes). */
export interface UPnPNATClient {
  /** Searches once and yields each working gateway found, the default route's first. */
  findGateways(options?: FindGatewaysOptions): AsyncGenerator<Gateway, void, unknown>
  /** The gateway at a known description URL, opened without a search. */
  getGateway(descriptor: URL, options?: AbortOptions): Promise<Gateway>
}

/** Options of `portMappingClient()`, `upnpNat()` and `pmpNat()`. */
export interface PortMappingClientOptions {
  /** Default mapping description. Default 'upnp-native (libp2p)'. */
  description?: string
  /** Default lease in ms, as nat-port-mapper's `ttl`. Default 3_600_000 (one hour). */
  ttl?: number
  /** How long `findGateways()` searches, in ms (it also ends when its signal aborts). Default 2000. */
  searchTimeout?: number
  /** Per-request cap in ms. Default 3000. */
  requestTimeout?: number
  /** Search on this interface (name or address); "" = the system's default. */
  discoverMulticastIf?: string
}

const DEFAULT_TTL_MS = 3_600_000
const DEFAULT_SEARCH_MS = 2000

/** A `portMappingClient` for `@libp2p/upnp-nat`, backed by upnp-native. Throws a `UPNPError`
 *  (INVALID_ARGS) naming a bad option; its calls reject with one for a bad argument. */
export function portMappingClient(given?: PortMappingClientOptions): UPnPNATClient {
  const options = clientOptions(given)
  return {
    async *findGateways(findGiven?: FindGatewaysOptions) {
      const signal = checkedSignal(findGiven)
      let found: GatewaySearch
      try {
        found = await searchGateways({
          timeout: options.searchTimeout ?? DEFAULT_SEARCH_MS,
          multicastIf: options.discoverMulticastIf ?? '',
          untilGateway: false,
          ...(options.requestTimeout !== undefined ? { requestTimeout: options.requestTimeout } : {}),
          ...(signal ? { signal } : {}),
        })
      } catch (error) {
        if (signal?.aborted) return // the caller stopped looking: no more gateways
        throw error
      }
      for (const device of found.devices) if (device.isValidGateway()) yield upnpGateway(device, options)
    },

    async getGateway(descriptor: URL, callGiven?: AbortOptions) {
      const signal = checkedSignal(callGiven)
      let url: string
      try {
        url = descriptor instanceof URL ? descriptor.href : String(descriptor as unknown as string)
      } catch {
        throw clientError(UPNPResult.INVALID_PARAM, `descriptor ${show(descriptor)} is not a URL`)
      }
      const device = await findGateway({
        url,
        ...(options.requestTimeout !== undefined ? { requestTimeout: options.requestTimeout } : {}),
        ...(signal ? { signal } : {}),
      })
      return upnpGateway(device, options)
    },
  }
}

/** nat-port-mapper's own name for the same factory: `upnpNat()` callers switch by changing the import. */
export const upnpNat = portMappingClient

/**
 * nat-port-mapper's `pmpNat(ipAddress)`: the same `Gateway`, over NAT-PMP to that router
 * (RFC 6886; the router forwards to the address the request came from).
 */
export function pmpNat(ipAddress: string, given?: PortMappingClientOptions): Gateway {
  if (typeof ipAddress !== 'string' || isIP(ipAddress.replace(/^\[|\]$/g, '')) === 0) {
    throw clientError(UPNPResult.INVALID_PARAM, `ipAddress ${show(ipAddress)} is not an IP address`)
  }
  const options = clientOptions(given)
  const router = ipAddress.replace(/^\[|\]$/g, '')
  return new MapperGateway(
    { id: `natpmp:${router}`, host: router, port: 5351, family: isIP(router) === 6 ? 'IPv6' : 'IPv4' },
    () => new PortMapper({ via: 'natpmp', router, watchAnnouncements: false }),
    () => '',
    async () => {
      const report = await probe({ router, upnp: false, fresh: true })
      if (report.natpmp.available && report.natpmp.externalAddress) return report.natpmp.externalAddress
      throw new UPNPError(
        { result: UPNPResult.NO_GATEWAY, via: 'natpmp', description: `NAT-PMP at ${router}: ${report.natpmp.meaning}` },
        'externalIp',
      )
    },
    options,
  )
}

function upnpGateway(device: UPNPDevice, options: PortMappingClientOptions): Gateway {
  const url = new URL(device.descriptionUrl)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return new MapperGateway(
    { id: device.descriptionUrl, host, port: Number(url.port || 80), family: isIP(host.replace(/%.*$/, '')) === 6 ? 'IPv6' : 'IPv4' },
    () => new PortMapper({ gateway: device, ...(options.requestTimeout !== undefined ? { requestTimeout: options.requestTimeout } : {}) }),
    () => device.igdOurAddr,
    async () => {
      const address = await device.queryExternalAddress()
      if (address) return address
      throw new UPNPError(
        { ...(device.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'no address' }), via: 'upnp' },
        'externalIp',
      )
    },
    options,
  )
}

/** One gateway as nat-port-mapper's `Gateway`, its mappings held by a PortMapper. */
class MapperGateway implements Gateway {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly family: 'IPv4' | 'IPv6'
  #mapper: PortMapper

  constructor(
    where: Pick<Gateway, 'id' | 'host' | 'port' | 'family'>,
    private readonly newMapper: () => PortMapper,
    /** This host's address towards the gateway, "" when only a mapping will tell. */
    private readonly ourAddress: () => string,
    private readonly queryExternalIp: () => Promise<string>,
    private readonly options: PortMappingClientOptions,
  ) {
    this.id = where.id
    this.host = where.host
    this.port = where.port
    this.family = where.family
    this.#mapper = this.#fresh()
  }

  #fresh(): PortMapper {
    const mapper = this.newMapper()
    // Background failures (a renewal the router refused) are libp2p's to log, never a crash.
    mapper.on('error', () => undefined)
    return mapper
  }

  async map(internalPort: number, internalHost: string, given?: MapPortOptions): Promise<PortMapping> {
    const options = checkedOptions(given, MAP_KEYS, 'map options') as MapPortOptions
    if (!isIntegerIn(internalPort, 1, 65535))
      throw clientError(UPNPResult.INVALID_PORT, `internalPort ${show(internalPort)} is not an integer 1..65535`)
    if (internalHost !== undefined && typeof internalHost !== 'string')
      throw clientError(UPNPResult.INVALID_ARGS, `internalHost ${show(internalHost)} is not a string`)
    if (options.protocol !== undefined && typeof options.protocol !== 'string')
      throw clientError(UPNPResult.INVALID_PROTOCOL, `protocol ${show(options.protocol)} is not "TCP" or "UDP"`)
    if (options.ttl !== undefined && !isIntegerIn(options.ttl, 1, Number.MAX_SAFE_INTEGER))
      throw clientError(UPNPResult.INVALID_DURATION, `ttl ${show(options.ttl)} is not whole ms`)
    const protocol: Protocol = (options.protocol ?? 'TCP').toUpperCase() === 'UDP' ? 'UDP' : 'TCP'
    // A router forwards to the address this host has towards it (UPnP routers in secure mode,
    // as most are, refuse any other; NAT-PMP cannot even name another): say so rather than
    // map the wrong address.
    const ours = this.ourAddress()
    const notOurs = (address: string) =>
      new UPNPError(
        { result: UPNPResult.INVALID_PARAM, description: `${internalHost} is not this host's address towards the gateway (${address})` },
        `mapping ${protocol} ${internalPort}`,
      )
    if (internalHost && ours && internalHost !== ours) throw notOurs(ours)
    if (options.remoteHost)
      throw new UPNPError({ result: UPNPResult.INVALID_PARAM, description: 'remoteHost filters are not supported' }, 'map')
    const held = this.#mapper.mappings.find((m) => m.internalPort === internalPort && m.protocol === protocol)
    const mapping =
      held ??
      (await this.#mapper.map({
        internalPort,
        protocol,
        ...(options.externalPort !== undefined ? { externalPort: options.externalPort } : {}),
        description: options.description ?? this.options.description ?? 'upnp-native (libp2p)',
        lease: Math.max(1, Math.round((options.ttl ?? this.options.ttl ?? DEFAULT_TTL_MS) / 1000)),
        ...(options.signal ? { signal: options.signal } : {}),
      }))
    if (internalHost && !ours && mapping.internalClient && mapping.internalClient !== internalHost) {
      await this.#mapper.unmap(mapping).catch(() => undefined)
      throw notOurs(mapping.internalClient)
    }
    return toPortMapping(mapping)
  }

  async *mapAll(internalPort: number, options: MapPortOptions = {}): AsyncGenerator<PortMapping, void, unknown> {
    yield await this.map(internalPort, this.ourAddress(), options)
  }

  async unmap(internalPort: number, options?: AbortOptions): Promise<void> {
    const signal = checkedSignal(options)
    const mine = this.#mapper.mappings.filter((m) => m.internalPort === internalPort)
    await Promise.all(mine.map((m) => this.#mapper.unmap(m, signal ? { signal } : {})))
  }

  async externalIp(options?: AbortOptions): Promise<string> {
    checkedSignal(options)?.throwIfAborted()
    return this.queryExternalIp()
  }

  /** Deletes every mapping of this gateway; a node started again maps afresh. */
  async stop(options?: AbortOptions): Promise<void> {
    const closing = this.#mapper
    this.#mapper = this.#fresh()
    await closing.close(options)
  }

  /** `await using gateway = ...` (Node 24+): `stop()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop()
  }
}

function toPortMapping(m: Mapping): PortMapping {
  return {
    externalHost: m.externalAddress,
    externalPort: m.externalPort,
    internalHost: m.internalClient,
    internalPort: m.internalPort,
    protocol: m.protocol,
  }
}
