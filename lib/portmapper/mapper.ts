/**
 * PortMapper: mappings that stay alive, over PCP, NAT-PMP or UPnP (the best the router
 * speaks, probed at once; see `probe.ts`). The Godot surface (`UPNP`, `UPNPDevice`) leaves the
 * pitfalls Godot's docs list to every app: leases expire, routers reboot and forget, the
 * external address changes, ports collide, apps exit or crash and leave rules behind.
 * PortMapper handles them once:
 *
 * - renews each lease at half of what the router actually granted, and checks every
 *   mapping (GetSpecificPortMappingEntry) every `verifyInterval` (default 5 min);
 * - a mapping found missing (router reboot, expiry, someone deleted it) emits `lost`, is
 *   re-added with the same external port when free, and emits `restored`; a reboot is
 *   noticed at once when the router announces a new SSDP BOOTID (`watchAnnouncements`);
 * - a new external address is noticed on each check and emitted once;
 * - on 718/729 it picks another external port (never below 1024 unless asked);
 * - on 725, or 402 with a lease, it retries with a permanent lease;
 * - after sleep or a long pause (timers far too late) every mapping is checked at once;
 * - `close()` deletes exactly what it created; SIGINT/SIGTERM/`beforeExit` do the same
 *   (`cleanupOnExit`) without changing how the process exits, and so does an Electron app's
 *   quit (`will-quit`, held until done); an optional journal lets the next start delete what
 *   a crashed process left;
 * - one request at a time per gateway; timers are unref'd, so an idle mapper never keeps
 *   a process alive (unless `keepAlive`);
 * - `family: 'ipv6'` opens a pinhole in the router's IPv6 firewall instead, over PCP or UPnP
 *   (`ipv6.ts`), kept, checked and closed the same way.
 */
import { EventEmitter } from 'node:events'
import { asUpnpError, clientError, UPNPError, UPNPResult } from '../errors.ts'
import type { UPNPDevice } from '../godot/device.ts'
import { deviceFromUrl } from '../godot/from-url.ts'
import { UPNP } from '../godot/upnp.ts'
import { invalidateProbe, probe } from '../probe.ts'
import type { CallOptions, Family, Via } from '../types.ts'
import {
  isIntegerIn,
  isProtocol,
  badPort,
  badProtocol,
  badSignal,
  checkedOptions,
  checkedSignal,
  MAX_UINT32,
  notText,
  show,
} from '../validate.ts'
import { RETRY_AFTER_FAILURE_MS, EXIT_CLEANUP_BUDGET_MS } from '../defaults.ts'
import { AnnouncementWatcher } from './announcements.ts'
import type { Backend, Granted, MappingParams } from './backend.ts'
import { installExitHooks, uninstallExitHooks } from './exit-hooks.ts'
import { Ipv6Backends } from './ipv6.ts'
import { Journal, type JournalEntry, sweepEntry } from './journal.ts'
import { arm, disarm, type Held, renewAt } from './lifetime.ts'
import { Mapping } from './mapping.ts'
import { type MapRequest, type PortMapperOptions, readMapperOptions, resolveOptions, type ResolvedOptions } from './options.ts'
import { prune, type PruneOptions, type PruneReport, readPruneOptions } from './prune.ts'
import { pxpBackend } from './pxp-backend.ts'
import { UpnpBackend } from './upnp-backend.ts'
import { WakeWatch } from './wake-watch.ts'

export interface PortMapperEvents {
  mapped: [mapping: Mapping]
  renewed: [mapping: Mapping]
  lost: [mapping: Mapping, reason: string]
  restored: [mapping: Mapping, previousExternalPort: number]
  externalAddressChanged: [address: string, previous: string]
  /** Leftovers of a crashed run deleted from the journal at start. */
  swept: [count: number]
  /** Something went wrong in the background (renewal, check, restore). Without a listener
   *  it becomes a process warning: a background failure never crashes the app. */
  error: [error: UPNPError, mapping: Mapping | null]
}

const MAP_KEYS = ['internalPort', 'externalPort', 'protocol', 'family', 'description', 'lease', 'signal'] as const

/** Keeps port mappings alive on the router, over the best protocol it speaks. */
export class PortMapper extends EventEmitter<PortMapperEvents> {
  readonly #options: ResolvedOptions
  #gateway: UPNPDevice | null
  /** A gateway given by the caller is never swapped for a rediscovered one. */
  readonly #fixedGateway: boolean
  /** `gateway` given as a description URL: opened (again) from it, never searched for. */
  readonly #gatewayUrl: string | null
  readonly #held = new Map<Mapping, Held>()
  readonly #backends = new Map<Via, Backend>()
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #externalAddress = ''
  #started: Promise<void> | null = null
  readonly #journal: Journal | null
  readonly #announcements: AnnouncementWatcher
  /** Notices sleep and stalls while mappings are held. */
  readonly #wake = new WakeWatch(() => this.#checkAllNow())
  /** IPv6 pinholes: their own gateway and backends. */
  readonly #ipv6: Ipv6Backends

  /** Throws a `UPNPError` (INVALID_PARAM, INVALID_PORT or INVALID_DURATION) naming a bad option. */
  constructor(options?: PortMapperOptions) {
    super()
    options = readMapperOptions(options)
    this.#options = resolveOptions(options)
    this.#gatewayUrl = typeof options.gateway === 'string' ? options.gateway : null
    this.#gateway = typeof options.gateway === 'string' ? null : (options.gateway ?? null)
    this.#fixedGateway = options.gateway !== undefined && this.#gatewayUrl === null
    this.#journal = this.#options.journal ? new Journal(this.#options.journal, (e) => this.#report(e, null)) : null
    this.#ipv6 = new Ipv6Backends({
      options: this.#options,
      fixedGateway: this.#fixedGateway ? this.#gateway : null,
      gatewayUrl: this.#gatewayUrl,
      serial: this.#serial,
    })
    this.#announcements = new AnnouncementWatcher(
      () => this.#gateway,
      () => this.#checkUpnpNow(),
    )
  }

  /** Whether this mapper deletes its mappings on SIGINT/SIGTERM/`beforeExit` (Electron: quit). */
  get cleanupOnExit(): boolean {
    return this.#options.cleanupOnExit
  }

  /** The UPnP gateway in use, if UPnP holds (or was probed for) a mapping. */
  get gateway(): UPNPDevice | null {
    return this.#gateway
  }

  /** The router's external address as last seen ("" before the first mapping). */
  get externalAddress(): string {
    return this.#externalAddress
  }

  /** The mappings currently held. */
  get mappings(): Mapping[] {
    return [...this.#held.keys()]
  }

  /** Maps `internalPort` on the router and keeps the mapping alive until closed. Rejects with a
   *  `UPNPError` naming a bad field of `request`, with `signal.reason` when the signal aborts. */
  async map(request: MapRequest): Promise<Mapping> {
    const given = checkedOptions(request, MAP_KEYS, 'the map request')
    const { internalPort, externalPort, protocol = 'UDP', family = 'ipv4', signal } = given
    // "" is no description, as Godot's empty desc is: the mapper's (the app's name).
    const description = given.description === undefined || given.description === '' ? this.#options.description : given.description
    const lease = given.lease ?? this.#options.lease
    if (!isIntegerIn(internalPort, 1, 65535)) throw clientError(UPNPResult.INVALID_PORT, badPort('internalPort', internalPort))
    if (!isProtocol(protocol)) throw clientError(UPNPResult.INVALID_PROTOCOL, badProtocol(protocol))
    if (externalPort !== undefined && !isIntegerIn(externalPort, 1, 65535)) {
      throw clientError(UPNPResult.INVALID_PORT, badPort('externalPort', externalPort))
    }
    if (!isIntegerIn(lease, 0, MAX_UINT32)) throw clientError(UPNPResult.INVALID_DURATION, `lease ${show(lease)} is not whole seconds >= 0`)
    const badDescription = notText('description', description)
    if (badDescription) throw clientError(UPNPResult.INVALID_ARGS, badDescription)
    if (family !== 'ipv4' && family !== 'ipv6') throw clientError(UPNPResult.INVALID_PARAM, `family ${show(family)} is not ipv4 or ipv6`)
    const badAbort = badSignal(signal)
    if (badAbort) throw clientError(UPNPResult.INVALID_ARGS, badAbort)
    return this.#map(
      { internalPort, externalPort, protocol, family, lease, description: description as string },
      signal as AbortSignal | undefined,
    )
  }

  async #map(
    request: Required<Omit<MapRequest, 'signal' | 'externalPort'>> & { externalPort: number | undefined },
    signal: AbortSignal | undefined,
  ): Promise<Mapping> {
    const { internalPort, protocol, description, family, lease } = request
    if (family === 'ipv6' && request.externalPort !== undefined && request.externalPort !== internalPort) {
      throw clientError(
        UPNPResult.INVALID_PORT,
        `an IPv6 pinhole has no port translation: externalPort must be internalPort (${internalPort})`,
      )
    }
    this.#assertOpen()
    signal?.throwIfAborted()
    await this.#start()
    const params: MappingParams = { internalPort, protocol, description, lease }
    const wanted = request.externalPort ?? internalPort

    // Best protocol first; on failure the next one (a different protocol may be allowed
    // what another was refused, or simply work where another is broken).
    const failures: UPNPError[] = []
    const candidates = family === 'ipv6' ? await this.#ipv6.candidates(signal) : await this.#candidates(signal)
    for (const via of candidates) {
      signal?.throwIfAborted()
      let backend: Backend
      let granted: Granted
      try {
        backend = family === 'ipv6' ? await this.#ipv6.backend(via, signal) : await this.#backend(via, signal)
        granted = await backend.add(params, wanted, signal)
      } catch (error) {
        if (signal?.aborted) throw error
        failures.push(asUpnpError(error))
        invalidateProbe()
        continue
      }
      if (signal?.aborted) {
        // Aborted as the router answered: the caller gets no mapping, so none may stay.
        await backend.remove(params, granted).catch(() => undefined)
        throw signal.reason
      }
      if (this.#closed) {
        // close() ran while we were adding: do not leave this one behind.
        await backend.remove(params, granted).catch(() => undefined)
        throw clientError(UPNPResult.UNKNOWN_ERROR, 'the PortMapper was closed')
      }
      return this.#hold(backend, params, granted, family)
    }
    const first = failures[0] ?? clientError(UPNPResult.NO_GATEWAY, 'no port-mapping protocol answered (UPnP, NAT-PMP, PCP)')
    if (failures.length > 1) {
      throw new UPNPError(first, `every protocol failed (${failures.map((f) => `${f.via ?? '?'}: ${UPNPResult[f.result]}`).join('; ')})`)
    }
    throw first
  }

  /** Deletes one mapping (also `mapping.close()`); one this mapper does not hold is nothing to do. */
  async unmap(mapping: Mapping, options?: CallOptions): Promise<void> {
    const signal = checkedSignal(options)
    const held = this.#held.get(mapping)
    if (!held) return
    signal?.throwIfAborted()
    this.#forget(held)
    // A check in flight may still renew: delete only after it, so the delete is the last word.
    await held.checking
    await held.backend.remove(held.params, held.granted)
  }

  /** Deletes every mapping this mapper created and stops all its timers. Idempotent. */
  async close(options?: CallOptions): Promise<void> {
    checkedSignal(options)?.throwIfAborted()
    this.#closed = true
    const failures: UPNPError[] = []
    await Promise.all(
      this.mappings.map((m) =>
        this.unmap(m).catch((e: unknown) => {
          failures.push(asUpnpError(e))
        }),
      ),
    )
    uninstallExitHooks(this)
    this.#announcements.close()
    this.#wake.stop()
    if (failures.length) {
      const first = failures[0] as UPNPError
      throw new UPNPError(first, `close: ${failures.length} mapping(s) could not be deleted`)
    }
  }

  /** `await using mapper = new PortMapper()` (Node 24+): `close()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Deletes this app's leftovers from the UPnP gateway's table: entries that forward to this
   * machine, carry the owner's description (`options.owner`, default the mapper's
   * `description`: the app's name) and are not held by this mapper; with `olderThan`, only
   * those whose lease shows they were not renewed for that long. Never another machine's
   * entry. Warning: another running instance of the same app on this machine has entries
   * that match too; give `olderThan` (more than half the `lease`) to spare them.
   */
  async prune(options?: PruneOptions): Promise<PruneReport> {
    const o = readPruneOptions(options)
    this.#assertOpen()
    o.signal?.throwIfAborted()
    const gateway = await this.#ensureGateway(o.signal)
    const held = [...this.#held.values()].filter((h) => h.backend.via === 'upnp' && h.mapping.family === 'ipv4')
    return prune(
      {
        gateway,
        owner: this.#options.description,
        lease: this.#options.lease,
        held: (e) => held.some((h) => h.mapping.externalPort === e.externalPort && h.mapping.protocol === e.protocol),
        serial: this.#serial,
      },
      o,
    )
  }

  // ---- internals -------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw clientError(UPNPResult.INVALID_PARAM, 'this PortMapper is closed')
  }

  /** Routers are fragile: one request at a time per mapper (so per router). */
  #serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = this.#queue.then(work, work)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #start(): Promise<void> {
    this.#started ??= this.#sweepJournal()
    return this.#started
  }

  /** Protocols to try, best first. */
  async #candidates(signal?: AbortSignal): Promise<Via[]> {
    const { protocol } = this.#options
    if (protocol !== 'auto') return [protocol]
    const report = await probe({
      gateway: this.#options.router,
      multicastIf: this.#options.discoverMulticastIf,
      budgetMs: this.#options.probeBudget,
      ...(signal ? { signal } : {}),
    })
    if (!this.#gateway && report.upnp.device) {
      this.#gateway = report.upnp.device
      this.#gateway.requestTimeout = this.#options.requestTimeout
    }
    // UPnP stays the last resort even when the short probe missed it: a full discovery
    // (discoverTimeout) may still find a slow router.
    return report.available.includes('upnp') ? report.available : [...report.available, 'upnp']
  }

  async #backend(via: Via, signal?: AbortSignal): Promise<Backend> {
    const existing = this.#backends.get(via)
    if (existing) return existing
    let backend: Backend
    if (via === 'upnp') {
      await this.#ensureGateway(signal)
      backend = new UpnpBackend({
        portRange: this.#options.portRange,
        maxAttempts: this.#options.maxAttempts,
        gateway: () => this.#gateway as UPNPDevice,
        rediscover: this.#fixedGateway ? null : () => this.#ensureGateway(undefined, true),
        serial: this.#serial,
      })
    } else {
      backend = pxpBackend(via, { router: this.#options.router, budgetMs: this.#options.pmpBudget, serial: this.#serial })
    }
    this.#backends.set(via, backend)
    return backend
  }

  async #ensureGateway(signal?: AbortSignal, rediscover = false): Promise<UPNPDevice> {
    if (this.#gateway && !rediscover) return this.#gateway
    if (this.#gatewayUrl !== null) return this.#openGateway(this.#gatewayUrl, signal)
    const upnp = new UPNP()
    upnp.discoverMulticastIf = this.#options.discoverMulticastIf
    upnp.discoverIpv6 = this.#options.discoverIpv6
    upnp.discoverLocalPort = this.#options.discoverLocalPort
    upnp.requestTimeout = this.#options.requestTimeout
    const result = await upnp.discover({ timeout: this.#options.discoverTimeout, untilGateway: true, ...(signal ? { signal } : {}) })
    const gateway = upnp.getGateway()
    if (!gateway) {
      const why = upnp.lastError ?? { result, description: 'no UPnP gateway answered' }
      throw new UPNPError(
        { ...why, result: why.result === UPNPResult.SUCCESS ? UPNPResult.NO_GATEWAY : why.result, via: 'upnp' },
        'discovery',
      )
    }
    this.#gateway = gateway
    return gateway
  }

  async #openGateway(url: string, signal?: AbortSignal): Promise<UPNPDevice> {
    const device = await deviceFromUrl(url, { requestTimeout: this.#options.requestTimeout, ...(signal ? { signal } : {}) })
    if (!device.isValidGateway()) {
      const why = device.lastError ?? { result: UPNPResult.INVALID_GATEWAY, description: 'not a valid gateway' }
      throw new UPNPError({ ...why, via: 'upnp' }, 'opening the gateway from its description URL')
    }
    this.#gateway = device
    return device
  }

  #hold(backend: Backend, params: MappingParams, granted: Granted, family: Family): Mapping {
    const mapping = new Mapping(
      (m, o) => this.unmap(m, o),
      backend.via,
      params.internalPort,
      params.protocol,
      params.description,
      params.lease,
      granted,
      family,
    )
    const now = Date.now()
    const held: Held = {
      mapping,
      backend,
      params,
      granted,
      timer: null,
      renewAt: renewAt(now, granted.lease),
      verifyAt: now + this.#options.verifyInterval,
      checking: null,
    }
    this.#held.set(mapping, held)
    if (family === 'ipv4') {
      this.#noteExternalAddress(granted.externalAddress)
      mapping.update({ externalAddress: this.#externalAddress || granted.externalAddress })
    }
    this.#schedule(held)
    this.#writeJournal()
    installExitHooks(this)
    this.#wake.start()
    if (backend.via === 'upnp' && family === 'ipv4') this.#listen()
    this.emit('mapped', mapping)
    return mapping
  }

  #noteExternalAddress(address: string): void {
    if (!address || address === this.#externalAddress) return
    const previous = this.#externalAddress
    this.#externalAddress = address
    // IPv6 pinholes have their own address (the host's): only IPv4 mappings share this one.
    for (const m of this.#held.keys()) if (m.family === 'ipv4') m.update({ externalAddress: address })
    // The first address is not a change.
    if (previous) this.emit('externalAddressChanged', address, previous)
  }

  #schedule(held: Held, delay?: number): void {
    arm(held, () => void this.#tick(held), this.#options.keepAlive, delay)
  }

  #forget(held: Held): void {
    disarm(held)
    held.mapping.update({ closed: true })
    this.#held.delete(held.mapping)
    this.#writeJournal()
    if (this.#held.size === 0) {
      uninstallExitHooks(this)
      this.#announcements.close()
      this.#wake.stop()
    }
  }

  #tick(held: Held): Promise<void> {
    if (this.#closed || held.mapping.closed || held.checking) return Promise.resolve()
    const checking = this.#check(held).finally(() => {
      held.checking = null
    })
    held.checking = checking
    return checking
  }

  /** One check or renewal; never rejects (failures are reported and retried sooner). */
  async #check(held: Held): Promise<void> {
    try {
      await this.#maintain(held)
    } catch (error) {
      this.#report(error, held.mapping)
      if (!held.mapping.closed && !this.#closed) this.#schedule(held, Math.min(RETRY_AFTER_FAILURE_MS, this.#options.verifyInterval))
      return
    }
    if (!held.mapping.closed && !this.#closed) this.#schedule(held)
  }

  async #maintain(held: Held): Promise<void> {
    const m = held.mapping
    const now = Date.now()
    const outcome = await held.backend.maintain(held.params, held.granted, now >= held.renewAt)
    if (this.#closed || m.closed) {
      // Closed meanwhile; a check that re-created the mapping must not leave it behind.
      if (outcome.kind === 'lost' && outcome.granted) await held.backend.remove(held.params, outcome.granted).catch(() => undefined)
      return
    }
    let granted: Granted
    if (outcome.kind === 'lost') {
      this.emit('lost', m, outcome.reason)
      const previousPort = m.externalPort
      granted = outcome.granted ?? (await held.backend.add(held.params, previousPort))
      if (this.#closed || m.closed) {
        await held.backend.remove(held.params, granted).catch(() => undefined)
        return
      }
      this.#apply(held, granted)
      this.emit('restored', m, previousPort)
    } else {
      granted = outcome.granted
      this.#apply(held, granted)
      if (outcome.renewed) this.emit('renewed', m)
    }
    if (m.family === 'ipv4') this.#noteExternalAddress(granted.externalAddress)
  }

  #apply(held: Held, granted: Granted): void {
    const now = Date.now()
    const moved = granted.externalPort !== held.granted.externalPort
    held.granted = granted
    held.mapping.update({ externalPort: granted.externalPort, lease: granted.lease, internalClient: granted.internalClient })
    if (held.mapping.family === 'ipv6') held.mapping.update({ externalAddress: granted.externalAddress })
    held.renewAt = renewAt(now, granted.lease)
    if (now >= held.verifyAt || moved) held.verifyAt = now + this.#options.verifyInterval
    if (moved) this.#writeJournal()
  }

  #report(error: unknown, mapping: Mapping | null): void {
    const e = asUpnpError(error)
    if (this.listenerCount('error') > 0) this.emit('error', e, mapping)
    else process.emitWarning(e.message, { type: 'UPNPWarning', code: 'UPNP_PORTMAPPER' })
  }

  /** After sleep or a long stall the network may be another, the router may have rebooted
   *  and leases run out: the cached probe is forgotten and every mapping is checked now. */
  #checkAllNow(): void {
    if (this.#closed) return
    invalidateProbe()
    const now = Date.now()
    for (const held of this.#held.values()) {
      held.verifyAt = now
      if (!held.checking) this.#schedule(held, 0)
    }
  }

  // ---- SSDP announcements: a rebooted UPnP router says so --------------------------

  #listen(): void {
    if (this.#announcements.listening || !this.#options.watchAnnouncements) return
    try {
      this.#announcements.start({ multicastIf: this.#options.discoverMulticastIf, ipv6: this.#options.discoverIpv6 })
    } catch (error) {
      // Port 1900 may be unavailable; periodic checks still find a reboot.
      this.#report(clientError(UPNPResult.SOCKET_ERROR, `not watching SSDP announcements: ${(error as Error).message}`), null)
    }
  }

  /** A new boot: every UPnP mapping may be gone. Check them all now. */
  #checkUpnpNow(): void {
    if (this.#closed) return
    for (const held of this.#held.values()) {
      if (held.backend.via !== 'upnp') continue
      held.verifyAt = Date.now()
      if (!held.checking) this.#schedule(held, 0)
    }
  }

  // ---- journal: what a crashed process left behind ---------------------------------

  async #sweepJournal(): Promise<void> {
    const leftovers = this.#journal?.takeOver()
    if (!leftovers) return
    let swept = 0
    const how = { requestTimeout: this.#options.requestTimeout, pxpBudget: this.#options.pmpBudget, serial: this.#serial }
    for (const e of leftovers) {
      if (await sweepEntry(e, how).catch(() => false)) swept++
    }
    this.#writeJournal()
    if (swept) this.emit('swept', swept)
  }

  #writeJournal(): void {
    if (!this.#journal) return
    // UPnP pinholes are left out: they cannot be looked up by port, and their lease (at most a
    // day, an hour by default) ends them anyway.
    const journaled = [...this.#held.values()].filter((h) => !(h.backend.via === 'upnp' && h.backend.family === 'ipv6'))
    const entries: JournalEntry[] = journaled.map(({ mapping: m, backend, granted }) => {
      const entry: JournalEntry = {
        via: backend.via,
        internalClient: m.internalClient,
        internalPort: m.internalPort,
        externalPort: m.externalPort,
        protocol: m.protocol,
      }
      if (backend.via === 'upnp' && this.#gateway) {
        entry.controlUrl = this.#gateway.igdControlUrl
        entry.serviceType = this.#gateway.igdServiceType
      } else {
        entry.router = backend.router ?? this.#options.router
        if (granted.nonce) entry.nonce = granted.nonce
      }
      return entry
    })
    this.#journal.write(entries)
  }

  /** @internal Cleanup for process exit: bounded, never throws. */
  closeForExit(): Promise<void> {
    const budget = new Promise<void>((resolve) => setTimeout(resolve, EXIT_CLEANUP_BUDGET_MS).unref())
    return Promise.race([this.close().catch(() => undefined), budget])
  }
}
