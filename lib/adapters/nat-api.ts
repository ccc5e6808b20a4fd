/**
 * `upnp-native/nat-api`: the `NatAPI` class of nat-api and its forks (@silentbot1/nat-api,
 * used by WebTorrent): `new NatAPI({ enablePMP, enableUPNP, ... })`, `map`, `unmap`,
 * `externalIp`, `destroy`, each returning a promise and taking an optional trailing callback.
 *
 * As nat-api: NAT-PMP is tried first, then UPnP; the external port is the one asked for (a
 * router offering another is refused: `map` resolves false); a port without a protocol maps
 * UDP and TCP; `destroy()` deletes what this client mapped. Underneath, each protocol is a
 * `PortMapper`: leases are renewed at half of what the router granted (nat-api's timers
 * drift and re-create mappings after unmap), a rebooted router gets them back, failures never
 * throw from a timer, and process exit (SIGINT/SIGTERM) deletes them.
 *
 * @module upnp-native/nat-api
 */
import { findGateway } from '../find-gateway.ts'
import { PortMapper } from '../portmapper/mapper.ts'
import type { Mapping } from '../portmapper/mapping.ts'
import { probe } from '../probe.ts'
import type { Protocol } from '../types.ts'
import { isIntegerIn, readOptions, show } from '../validate.ts'
import { type Callback, settle } from './callback.ts'

export type { Callback } from './callback.ts'

const CLIENT_KEYS = ['ttl', 'description', 'gateway', 'autoUpdate', 'enablePMP', 'enableUPNP', 'upnpPermanentFallback'] as const
const MAP_KEYS = ['publicPort', 'privatePort', 'protocol', 'description', 'ttl', 'gateway'] as const

/** nat-api's errors are plain `Error`s with a message; so are these, naming the argument. */
function invalid(message: string): Error {
  return new Error(message)
}

/** nat-api's constructor options. */
export interface NatAPIOptions {
  /** Lease in seconds (at least 1200). Default 7200. */
  ttl?: number
  /** Mapping description (UPnP). Default 'NatAPI'. */
  description?: string
  /** The router: an address (NAT-PMP, and UPnP's search is then not needed for NAT-PMP) or a
   *  UPnP description URL (opened directly, no search). Default: found on its own. */
  gateway?: string
  /** Accepted: upnp-native always renews (at half of the lease the router granted). */
  autoUpdate?: boolean
  /** Use NAT-PMP (tried first). Default true. */
  enablePMP?: boolean
  /** Use UPnP. Default true. */
  enableUPNP?: boolean
  /** Accepted: a router that only takes permanent UPnP leases (725) always gets one. */
  upnpPermanentFallback?: boolean
}

/** nat-api's object form of `map()` / `unmap()`. */
export interface NatAPIMapOptions {
  /** The external port (always the one mapped: another is never taken instead). */
  publicPort: number
  /** The port on this host (default: `publicPort`). */
  privatePort?: number
  /** 'UDP' or 'TCP'; absent or null maps both. */
  protocol?: string | null
  /** The mapping's description on a UPnP router (default: the client's). */
  description?: string
  /** Seconds. */
  ttl?: number
  /** Accepted for compatibility; the client's `gateway` is used. */
  gateway?: string
}

interface Wanted {
  publicPort: number
  privatePort: number
  protocols: Protocol[]
  description: string
  ttl: number
}

const isUrl = (s: string) => /^[a-z]+:\/\//i.test(s)

/** nat-api's client: maps with NAT-PMP first, then UPnP; `destroy()` deletes what it mapped. */
export class NatAPI {
  /** Lease asked for, in seconds (at least 1200; default 7200). */
  readonly ttl: number
  /** Default mapping description (UPnP). */
  readonly description: string
  /** Whether NAT-PMP is used. */
  readonly enablePMP: boolean
  /** Whether UPnP is used. */
  readonly enableUPNP: boolean
  readonly #gateway: string
  /** NAT-PMP first, then UPnP, as nat-api tries them. */
  readonly #mappers: PortMapper[] = []
  #destroyed = false

  /** Throws an `Error` naming a bad option (a ttl that is not a number, a gateway or
   *  description that is not a string, options that cannot be read). */
  constructor(options?: NatAPIOptions) {
    const read = readOptions(options, CLIENT_KEYS)
    if (!read.values) throw invalid(read.problem)
    const { ttl, description, gateway = '', enablePMP, enableUPNP } = read.values
    if (ttl !== undefined && (typeof ttl !== 'number' || Number.isNaN(ttl))) throw invalid(`ttl ${show(ttl)} is not a number`)
    if (description !== undefined && typeof description !== 'string') throw invalid(`description ${show(description)} is not a string`)
    if (typeof gateway !== 'string') throw invalid(`gateway ${show(gateway)} is not a string`)
    this.ttl = ttl ? Math.max(ttl as number, 1200) : 7200
    this.description = (description as string | undefined) || 'NatAPI'
    this.enablePMP = enablePMP !== false
    this.enableUPNP = enableUPNP !== false
    this.#gateway = gateway
    const common = { maxAttempts: 1, watchAnnouncements: false } as const
    if (this.enablePMP && !isUrl(this.#gateway)) {
      this.#mappers.push(new PortMapper({ ...common, via: 'natpmp', ...(this.#gateway ? { router: this.#gateway } : {}) }))
    }
    if (this.enableUPNP) {
      this.#mappers.push(new PortMapper({ ...common, via: 'upnp', ...(isUrl(this.#gateway) ? { gateway: this.#gateway } : {}) }))
    }
    // A renewal that fails later is not the caller's crash (nat-api's timers could be).
    for (const m of this.#mappers) m.on('error', () => undefined)
  }

  /** `map(port)`, `map(publicPort, privatePort)` or `map({ publicPort, privatePort, protocol, ... })`. */
  map(
    publicPort: number | NatAPIMapOptions,
    privatePort?: number | Callback<boolean>,
    callback?: Callback<boolean>,
  ): Promise<boolean | undefined> {
    return this.#perPort(publicPort, privatePort, callback, async (wanted) => {
      for (const protocol of wanted.protocols) if (!(await this.#mapOne(wanted, protocol))) return false
      return true
    })
  }

  /** Deletes what `map` made for this port (both protocols unless one is named). */
  unmap(
    publicPort: number | NatAPIMapOptions,
    privatePort?: number | Callback<boolean>,
    callback?: Callback<boolean>,
  ): Promise<boolean | undefined> {
    return this.#perPort(publicPort, privatePort, callback, async (wanted) => {
      if (!this.#mappers.length) return false // as nat-api: no protocol, no success
      let ok = true
      for (const mapper of this.#mappers) {
        for (const m of this.#held(mapper, wanted))
          ok =
            (await mapper.unmap(m).then(
              () => true,
              () => false,
            )) && ok
      }
      return ok
    })
  }

  /** nat-api's argument forms of map/unmap: (port[, privatePort][, callback]) or (options[, callback]). */
  #perPort(
    publicPort: number | NatAPIMapOptions,
    privatePort: number | Callback<boolean> | undefined,
    callback: Callback<boolean> | undefined,
    work: (wanted: Wanted) => Promise<boolean>,
  ): Promise<boolean | undefined> {
    const cb = typeof privatePort === 'function' ? privatePort : callback
    return settle(
      this.#run(async () => work(this.#wanted(publicPort, typeof privatePort === 'number' ? privatePort : undefined))),
      cb,
    )
  }

  /** The external address (NAT-PMP first, then UPnP); "" when neither tells. */
  externalIp(callback?: Callback<string>): Promise<string | undefined> {
    return settle(
      this.#run(async () => {
        if (this.enablePMP && !isUrl(this.#gateway)) {
          const report = await probe({ upnp: false, fresh: true, ...(this.#gateway ? { router: this.#gateway } : {}) }).catch(() => null)
          if (report?.natpmp.available && report.natpmp.externalAddress) return report.natpmp.externalAddress
        }
        if (this.enableUPNP) {
          const device = await findGateway({ url: isUrl(this.#gateway) ? this.#gateway : null }).catch(() => null)
          if (device) return device.queryExternalAddress()
        }
        return ''
      }),
      callback,
    )
  }

  /** Deletes every mapping this client made; the client cannot be used afterwards. */
  destroy(callback?: Callback<boolean>): Promise<boolean | undefined> {
    return settle(
      (async () => {
        if (this.#destroyed) throw new Error('client already destroyed')
        this.#destroyed = true
        await Promise.all(this.#mappers.map((m) => m.close().catch(() => undefined)))
        return true
      })(),
      callback,
    )
  }

  /** `await using client = new NatAPI()` (Node 24+): `destroy()` when the scope ends (a client
   *  destroyed already is left as it is). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#destroyed) await this.destroy()
  }

  #run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#destroyed) return Promise.reject(new Error('client is destroyed'))
    return work()
  }

  #wanted(publicPort: unknown, privatePort: number | undefined): Wanted {
    if (publicPort === undefined || publicPort === null) throw invalid('port was not specified')
    const read = typeof publicPort === 'object' ? readOptions(publicPort, MAP_KEYS) : { values: { publicPort, privatePort } }
    if (!read.values) throw invalid(read.problem)
    const o = read.values
    const pub = o.publicPort
    const priv = o.privatePort ?? pub
    if (pub === undefined) throw invalid('port was not specified')
    if (!isIntegerIn(pub, 1, 65535)) throw invalid(`port ${show(pub)} is not an integer 1..65535`)
    if (!isIntegerIn(priv, 1, 65535)) throw invalid(`privatePort ${show(priv)} is not an integer 1..65535`)
    const protocol = typeof o.protocol === 'string' && o.protocol ? o.protocol.toUpperCase() : o.protocol ? '' : null
    if (protocol !== null && protocol !== 'UDP' && protocol !== 'TCP') throw invalid('protocol is invalid')
    if (o.description !== undefined && typeof o.description !== 'string')
      throw invalid(`description ${show(o.description)} is not a string`)
    if (o.ttl !== undefined && !isIntegerIn(o.ttl, 0, 0xffff_ffff)) throw invalid(`ttl ${show(o.ttl)} is not whole seconds`)
    return {
      publicPort: pub,
      privatePort: priv,
      protocols: protocol ? [protocol] : ['UDP', 'TCP'],
      description: (o.description as string | undefined) || this.description,
      ttl: (o.ttl as number | undefined) || this.ttl,
    }
  }

  #held(mapper: PortMapper, w: Wanted): Mapping[] {
    return mapper.mappings.filter(
      (m) => m.externalPort === w.publicPort && m.internalPort === w.privatePort && w.protocols.includes(m.protocol),
    )
  }

  /** NAT-PMP, then UPnP; only the external port asked for counts as success. */
  async #mapOne(w: Wanted, protocol: Protocol): Promise<boolean> {
    for (const mapper of this.#mappers) {
      if (this.#held(mapper, { ...w, protocols: [protocol] }).length) return true
      const mapping = await mapper
        .map({ internalPort: w.privatePort, externalPort: w.publicPort, protocol, description: w.description, lease: w.ttl })
        .catch(() => null)
      if (!mapping) continue
      if (mapping.externalPort === w.publicPort) return true
      await mapper.unmap(mapping).catch(() => undefined) // the router offered another port
    }
    return false
  }
}

export default NatAPI
