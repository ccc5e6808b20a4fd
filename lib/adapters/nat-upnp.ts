/**
 * `upnp-native/nat-upnp`: the API of nat-upnp (`createClient()`: portMapping, portUnmapping,
 * getMappings, externalIp, findGateway, close, with callbacks) and of its promise fork
 * @runonflux/nat-upnp (`new Client()`: createMapping, removeMapping, getMappings,
 * getPublicIp, getGateway, close). Every name takes an optional trailing callback and returns
 * a promise.
 *
 * Like nat-upnp, each call is one UPnP action and nothing is renewed (use `PortMapper` for
 * mappings that stay alive). Unlike it: the gateway is searched for once and reused (nat-upnp
 * searches before every call), IGD v2 routers work (nat-upnp only knows WANIPConnection:1),
 * a `gateway` description URL skips the search, and failures carry the router's UPnP code.
 *
 * @module upnp-native/nat-upnp
 */
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import { findGateway } from '../find-gateway.ts'
import { UPNPDevice } from '../godot/device.ts'
import type { Protocol } from '../types.ts'
import { checkedOptions, isIntegerIn, show } from '../validate.ts'
import { type Callback, settle, trailingCallback } from './callback.ts'

export type { Callback } from './callback.ts'

/** Options of `createClient()` / `new Client()`. */
export interface ClientOptions {
  /** How long to search for the gateway, in ms (nat-upnp's 1800). */
  timeout?: number
  /** The gateway's description URL: opened directly, no search. */
  gateway?: string
  /** Per-request cap in ms. Default 3000. */
  requestTimeout?: number
}

/** A port as nat-upnp takes it: a number, a numeric string, or `{ host, port }`. */
export type PortSpec =
  | number
  | string
  | {
      /** Ignored for a private port (it is this host); a public `host` (remote-host filter) is refused. */
      host?: string
      /** The port number. */
      port?: number | string
    }

/** What `createMapping()` / `portMapping()` maps. */
export interface NewPortMappingOpts {
  /** The external port. */
  public?: PortSpec
  /** The port on this host (default: the public port). */
  private?: PortSpec
  /** 'TCP' (default) or 'UDP', either case. */
  protocol?: string
  /** Default 'node:nat:upnp'. */
  description?: string
  /** Lease in seconds; 0 = permanent. Default 1800, as nat-upnp. */
  ttl?: number | string
}

/** What `removeMapping()` / `portUnmapping()` deletes. */
export interface DeletePortMappingOpts {
  /** The external port. */
  public?: PortSpec
  /** 'TCP' (default) or 'UDP', either case. */
  protocol?: string
}

/** Filters of `getMappings()`. */
export interface GetMappingOpts {
  /** Only mappings to this host. */
  local?: boolean
  /** Only mappings whose description contains this, or matches it. */
  description?: string | RegExp
}

/** One row of the router's table, as nat-upnp reports it. */
export interface NatUpnpMapping {
  /** The remote-host filter ("" = anyone) and the external port. */
  public: {
    /** The remote-host filter ("" = anyone). */
    host: string
    /** The external port. */
    port: number
  }
  /** Where it forwards to. */
  private: {
    /** The internal client's address. */
    host: string
    /** The internal port. */
    port: number
  }
  /** 'udp' or 'tcp', lower case as nat-upnp reports it. */
  protocol: string
  /** Whether the router has it switched on. */
  enabled: boolean
  /** Its description on the router (network text). */
  description: string
  /** Seconds left on its lease (0 = permanent). */
  ttl: number
  /** It forwards to this host. */
  local: boolean
}

/** The gateway a client uses, and this host's address towards it. */
export interface FoundGateway {
  /** The gateway, as a Godot-style device. */
  gateway: UPNPDevice
  /** This host's address towards the gateway. */
  address: string
}

const DEFAULT_SEARCH_MS = 1800
const DEFAULT_TTL_S = 1800

/** A port as nat-upnp takes it (a number, a numeric string, `{ host, port }`), checked:
 *  anything else is a `UPNPError` naming `what`. */
function endpoint(spec: unknown, what: string): { host: string; port: number } {
  const { host = '', port } = typeof spec === 'object' && spec !== null ? checkedOptions(spec, ['host', 'port'], what) : { port: spec }
  const number = typeof port === 'string' && /^\d{1,5}$/.test(port) ? Number(port) : port
  if (typeof host !== 'string') throw clientError(UPNPResult.INVALID_ARGS, `${what}.host ${show(host)} is not a string`)
  if (!isIntegerIn(number, 1, 65535)) throw clientError(UPNPResult.INVALID_PORT, `${what} port ${show(port)} is not an integer 1..65535`)
  return { host, port: number }
}

function protocolOf(value: unknown): Protocol {
  const p = value === undefined ? 'TCP' : typeof value === 'string' ? value.toUpperCase() : ''
  if (p !== 'TCP' && p !== 'UDP') throw clientError(UPNPResult.INVALID_PROTOCOL, `protocol ${show(value)} is not "TCP" or "UDP"`)
  return p
}

function failed(device: UPNPDevice, result: UPNPResult, context: string): UPNPError {
  return new UPNPError({ ...(device.lastError ?? { result, description: UPNPResult[result] ?? 'failed' }), via: 'upnp' }, context)
}

/** A nat-upnp client: one UPnP action per call, the gateway searched for once and reused. */
export class Client {
  /** How long a search for the gateway lasts, in ms. */
  readonly timeout: number
  readonly #options: ClientOptions
  #gateway: Promise<FoundGateway> | null = null

  /** Throws a `UPNPError` (INVALID_ARGS) naming a bad option. */
  constructor(options?: ClientOptions) {
    const o = checkedOptions(options, ['timeout', 'gateway', 'requestTimeout'])
    if (o.timeout !== undefined && !isIntegerIn(o.timeout, 0, 2 ** 31 - 1))
      throw clientError(UPNPResult.INVALID_ARGS, `timeout ${show(o.timeout)} is not whole ms`)
    if (o.gateway !== undefined && typeof o.gateway !== 'string')
      throw clientError(UPNPResult.INVALID_ARGS, `gateway ${show(o.gateway)} is not a string`)
    if (o.requestTimeout !== undefined && !isIntegerIn(o.requestTimeout, 1, 2 ** 31 - 1))
      throw clientError(UPNPResult.INVALID_ARGS, `requestTimeout ${show(o.requestTimeout)} is not whole ms`)
    this.timeout = (o.timeout as number | undefined) ?? DEFAULT_SEARCH_MS
    this.#options = o as ClientOptions
  }

  /** Adds a mapping (not renewed: use `PortMapper` for one that must stay). */
  createMapping(options: NewPortMappingOpts, callback?: Callback<void>): Promise<void | undefined> {
    return settle(this.#map(options), callback)
  }

  /** Deletes a mapping by external port and protocol. */
  removeMapping(options: DeletePortMappingOpts, callback?: Callback<void>): Promise<void | undefined> {
    return settle(this.#unmap(options), callback)
  }

  /** The router's mapping table, optionally filtered. */
  getMappings(
    options?: GetMappingOpts | Callback<NatUpnpMapping[]>,
    callback?: Callback<NatUpnpMapping[]>,
  ): Promise<NatUpnpMapping[] | undefined> {
    const cb = trailingCallback<NatUpnpMapping[]>([options, callback].filter((a) => a !== undefined))
    return settle(this.#list(typeof options === 'function' ? {} : (options as GetMappingOpts)), cb)
  }

  /** The router's external address. */
  getPublicIp(callback?: Callback<string>): Promise<string | undefined> {
    return settle(this.#externalIp(), callback)
  }

  /** The gateway and this host's address towards it; the callback gets them as two arguments. */
  getGateway(callback?: (error: Error | null, gateway?: UPNPDevice, address?: string) => void): Promise<FoundGateway | undefined> {
    const cb: Callback<FoundGateway> | undefined =
      typeof callback === 'function' ? (error, found) => callback(error, found?.gateway, found?.address) : undefined
    return settle(this.#find(), cb)
  }

  /** Forgets the gateway; nothing is left open (there is no socket between calls). */
  close(): void {
    this.#gateway = null
  }

  /** nat-upnp's name for `createMapping()`. */
  portMapping(options: NewPortMappingOpts, callback?: Callback<void>): Promise<void | undefined> {
    return this.createMapping(options, callback)
  }
  /** nat-upnp's name for `removeMapping()`. */
  portUnmapping(options: DeletePortMappingOpts, callback?: Callback<void>): Promise<void | undefined> {
    return this.removeMapping(options, callback)
  }
  /** nat-upnp's name for `getPublicIp()`. */
  externalIp(callback?: Callback<string>): Promise<string | undefined> {
    return this.getPublicIp(callback)
  }
  /** nat-upnp's name for `getGateway()`. */
  findGateway(callback?: (error: Error | null, gateway?: UPNPDevice, address?: string) => void): Promise<FoundGateway | undefined> {
    return this.getGateway(callback)
  }

  /** Searched for (or opened) once; searched again after a call that could not reach it. */
  #find(): Promise<FoundGateway> {
    this.#gateway ??= this.#locate().catch((error: unknown) => {
      this.#gateway = null
      throw error
    })
    return this.#gateway
  }

  async #locate(): Promise<FoundGateway> {
    const { gateway: url, requestTimeout } = this.#options
    const device = await findGateway({ url, timeout: this.timeout, ...(requestTimeout !== undefined ? { requestTimeout } : {}) })
    return { gateway: device, address: device.igdOurAddr }
  }

  /** Runs one action on the gateway; a gateway that stopped answering is searched for again next time. */
  async #on<T>(action: (found: FoundGateway) => Promise<T>): Promise<T> {
    const found = await this.#find()
    try {
      return await action(found)
    } catch (error) {
      if (error instanceof UPNPError && error.result === UPNPResult.HTTP_ERROR) this.#gateway = null
      throw error
    }
  }

  async #map(given: NewPortMappingOpts): Promise<void> {
    // Checked before the gateway is looked for: a bad argument costs no search.
    const options = checkedOptions(given, ['public', 'private', 'protocol', 'description', 'ttl'])
    const pub = endpoint(options.public, 'public')
    const priv = options.private === undefined ? pub : endpoint(options.private, 'private')
    const protocol = protocolOf(options.protocol)
    if (pub.host) throw clientError(UPNPResult.INVALID_ARGS, 'remote host filters (public.host) are not supported')
    const { ttl: ttlGiven, description = '' } = options
    const ttl = ttlGiven === undefined || ttlGiven === '' ? DEFAULT_TTL_S : typeof ttlGiven === 'string' ? Number(ttlGiven) : ttlGiven
    if (!isIntegerIn(ttl, 0, 0xffff_ffff)) throw clientError(UPNPResult.INVALID_DURATION, `ttl ${show(ttlGiven)} is not whole seconds`)
    if (typeof description !== 'string') throw clientError(UPNPResult.INVALID_ARGS, `description ${show(description)} is not a string`)
    return this.#on(async ({ gateway, address }) => {
      // nat-upnp sends private.host when given, else this host's address towards the router.
      const device = priv.host && priv.host !== address ? Object.assign(new UPNPDevice(), gateway, { igdOurAddr: priv.host }) : gateway
      const result = await device.addPortMapping(pub.port, priv.port, description || 'node:nat:upnp', protocol, ttl)
      if (result !== UPNPResult.SUCCESS) throw failed(device, result, `AddPortMapping ${protocol} ${pub.port}`)
    })
  }

  async #unmap(given: DeletePortMappingOpts): Promise<void> {
    const options = checkedOptions(given, ['public', 'protocol'])
    const { port } = endpoint(options.public, 'public')
    const protocol = protocolOf(options.protocol)
    return this.#on(async ({ gateway }) => {
      const result = await gateway.deletePortMapping(port, protocol)
      if (result !== UPNPResult.SUCCESS) throw failed(gateway, result, `DeletePortMapping ${protocol} ${port}`)
    })
  }

  async #list(given: GetMappingOpts): Promise<NatUpnpMapping[]> {
    const options = checkedOptions(given, ['local', 'description']) as GetMappingOpts
    if (options.description !== undefined && typeof options.description !== 'string' && !(options.description instanceof RegExp))
      throw clientError(UPNPResult.INVALID_ARGS, `description ${show(options.description)} is not a string or a RegExp`)
    return this.#on(async ({ gateway, address }) => {
      const entries = await gateway.listPortMappings()
      if (gateway.lastError && gateway.lastError.result !== UPNPResult.SUCCESS)
        throw failed(gateway, gateway.lastError.result, 'listing mappings')
      const { description } = options
      return entries
        .map((e): NatUpnpMapping => ({
          public: { host: e.remoteHost, port: e.externalPort },
          private: { host: e.internalClient, port: e.internalPort },
          protocol: e.protocol.toLowerCase(),
          enabled: e.enabled,
          description: e.description,
          ttl: e.leaseDuration,
          local: e.internalClient === address,
        }))
        .filter((m) => !options.local || m.local)
        .filter(
          (m) => !description || (description instanceof RegExp ? description.test(m.description) : m.description.includes(description)),
        )
    })
  }

  #externalIp(): Promise<string> {
    return this.#on(async ({ gateway }) => {
      const address = await gateway.queryExternalAddress()
      if (!address) throw failed(gateway, UPNPResult.UNKNOWN_ERROR, 'GetExternalIPAddress')
      return address
    })
  }
}

/** nat-upnp's entry point. */
export function createClient(options?: ClientOptions): Client {
  return new Client(options)
}

/**
 * The module as a default export, for the way nat-upnp's users import it in ES modules and
 * TypeScript (`import natUpnp from 'nat-upnp'`, then `natUpnp.createClient()`). Through
 * `import natUpnp from 'upnp-native/nat-upnp'` in an ES module Node gives the whole
 * CommonJS module (which has these two too); `require()` users keep `createClient` at the top.
 */
const natUpnp = {
  /** nat-upnp's `createClient()`. */
  createClient,
  /** nat-upnp's `Client` class. */
  Client,
}
export default natUpnp
