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
 *   noticed at once when the router announces it (a new SSDP BOOTID, a PCP ANNOUNCE, a
 *   NAT-PMP address announcement: `watchAnnouncements`, `announcements.ts`);
 * - a new external address is noticed on each check and emitted once;
 * - on 718/729 it picks another external port (never below 1024 unless asked);
 * - on 725, or 402 with a lease, it retries with a permanent lease;
 * - after sleep or a long pause (timers far too late) every mapping is checked at once;
 * - `close()` deletes exactly what it created, after the map() calls in flight;
 *   SIGINT/SIGTERM/SIGHUP/`beforeExit` do the same (`cleanupOnExit`) without changing how the
 *   process exits, and so does an Electron app's quit (`will-quit`, held until done); an
 *   optional journal, shareable by processes, lets a later start adopt (same external port)
 *   or delete what a process that died without cleaning up left;
 * - one request at a time per gateway; timers are unref'd, so an idle mapper never keeps
 *   a process alive (unless `keepAlive`);
 * - `family: 'ipv6'` opens a pinhole in the router's IPv6 firewall instead, over PCP or UPnP
 *   (`ipv6.ts`), kept, checked and closed the same way.
 *
 * Which protocols an address family can use, their backends and the UPnP gateway are each
 * family's (`family.ts`: `ipv4.ts`, `ipv6.ts`); how a protocol creates, keeps and deletes a
 * mapping is its backend's (`backends/`). This file is the policy, the same for both.
 */
import { EventEmitter } from 'node:events'
import { asUpnpError, clientError, UPNPError, UPNPResult } from '../errors.ts'
import type { UPNPDevice } from '../godot/device.ts'
import { invalidateProbe } from '../probe.ts'
import type { CallOptions, Family } from '../types.ts'
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
import type { Backend, Granted, MappingParams } from './backends/backend.ts'
import { installExitHooks, uninstallExitHooks } from './exit-hooks.ts'
import type { FamilyBackends, FamilyContext } from './family.ts'
import { Ipv4Backends } from './ipv4.ts'
import { Ipv6Backends } from './ipv6.ts'
import { Journal, type JournalEntry } from './journal.ts'
import { Leftovers, type Place } from './leftovers.ts'
import { arm, disarm, type Held, renewAt } from './lifetime.ts'
import { Mapping } from './mapping.ts'
import { type MapRequest, type PortMapperOptions, readMapperOptions, resolveOptions, type ResolvedOptions } from './options.ts'
import { prune, type PruneOptions, type PruneReport, readPruneOptions } from './prune.ts'
import { askVerify, hardRefresh } from './reachability.ts'
import { WakeWatch } from './wake-watch.ts'
import type { Logger } from '../log/records.ts'
import { note, withLogger } from '../log/trace.ts'
import { mapperRecord, type PortMapperEvents } from './events.ts'

/** Whether the journal records `held`. UPnP pinholes are left out: they cannot be looked up by
 *  port, and their lease (at most a day, an hour by default) ends them anyway. */
const journaled = (held: Held): boolean => !(held.backend.via === 'upnp' && held.backend.family === 'ipv6')

const MAP_KEYS = ['internalPort', 'externalPort', 'protocol', 'family', 'description', 'lease', 'signal'] as const

/** Keeps port mappings alive on the router, over the best protocol it speaks. */
export class PortMapper extends EventEmitter<PortMapperEvents> {
  readonly #options: ResolvedOptions
  readonly #held = new Map<Mapping, Held>()
  /** Deleted from #held, their delete not answered yet: still on the router, and journaled. */
  readonly #removing = new Set<Held>()
  /** map() calls not settled yet: close() and the exit hooks wait for them. */
  readonly #adding = new Set<Promise<Mapping>>()
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #externalAddress = ''
  #started: Promise<void> | null = null
  readonly #journal: Journal | null
  /** What a dead process left: adopted by a matching map(), else deleted. */
  readonly #leftovers: Leftovers
  readonly #announcements: AnnouncementWatcher
  /** Notices sleep and stalls while mappings are held. */
  readonly #wake = new WakeWatch(() => this.#checkAllNow())
  /** IPv4 port mappings and IPv6 pinholes: each family's protocols, backends and gateway. */
  readonly #ipv4: Ipv4Backends
  readonly #ipv6: Ipv6Backends
  /** In effect for all the work this mapper does (`withLogger`). */
  readonly #logger: Logger | null

  /** Throws a `UPNPError` (INVALID_PARAM, INVALID_PORT or INVALID_DURATION) naming a bad option. */
  constructor(options?: PortMapperOptions) {
    super()
    options = readMapperOptions(options)
    this.#options = resolveOptions(options)
    this.#logger = options.logger ?? null
    const family: FamilyContext = {
      options: this.#options,
      givenGateway: typeof options.gateway === 'string' ? null : (options.gateway ?? null),
      gatewayUrl: typeof options.gateway === 'string' ? options.gateway : null,
      serial: this.#serial,
    }
    this.#ipv4 = new Ipv4Backends(family)
    this.#ipv6 = new Ipv6Backends(family)
    this.#journal = this.#options.journal ? new Journal(this.#options.journal, (e) => this.#report(e, null)) : null
    this.#leftovers = new Leftovers({
      serial: this.#serial,
      requestTimeout: this.#options.requestTimeout,
      pxpBudget: this.#options.pxpBudget,
      adoptWindow: this.#options.adoptWindow,
      swept: (count) => this.emit('swept', count),
      changed: () => {
        this.#writeJournal()
        this.#settleIdle()
      },
      closePinholeElsewhere: (p, client) => this.#ipv6.closeOverUpnp(p, client),
    })
    this.#announcements = new AnnouncementWatcher({
      gateway: () => this.#ipv4.gateway,
      servers: () => [...new Set([...this.#held.values()].map((h) => h.granted.server ?? ''))].filter(Boolean),
      onReboot: () => this.#checkAfterAnnouncement(),
    })
  }

  /** Whether this mapper deletes its mappings on SIGINT/SIGTERM/SIGHUP/`beforeExit` (Electron: quit). */
  get cleanupOnExit(): boolean {
    return this.#options.cleanupOnExit
  }

  /** The UPnP gateway in use, if UPnP holds (or was probed for) a mapping. */
  get gateway(): UPNPDevice | null {
    return this.#ipv4.gateway
  }

  /** The router's external address as last seen ("" before the first mapping). */
  get externalAddress(): string {
    return this.#externalAddress
  }

  /** The mappings currently held. */
  get mappings(): Mapping[] {
    return [...this.#held.keys()]
  }

  /** Every event is also a `mapper` record for whoever listens (logger, NODE_DEBUG, channel). */
  override emit<K extends keyof PortMapperEvents>(event: K, ...args: PortMapperEvents[K]): boolean {
    // `error` is noted by #report, also when nobody listens for the event.
    if (event !== 'error') note(this.#logger, 'mapper', `mapper.${event}`, () => mapperRecord(event, args))
    return EventEmitter.prototype.emit.call(this, event, ...args)
  }

  /** Maps `internalPort` on the router and keeps the mapping alive until closed. Rejects with a
   *  `UPNPError` naming a bad field of `request`, with `signal.reason` when the signal aborts. */
  map(request: MapRequest): Promise<Mapping> {
    const call = withLogger(this.#logger, () => this.#checkedMap(request))
    // Until it settles, an exit waits for it (or for its undo, when close() came first).
    this.#adding.add(call)
    installExitHooks(this)
    const settled = (): void => {
      this.#adding.delete(call)
      this.#settleIdle()
    }
    call.then(settled, settled)
    return call
  }

  async #checkedMap(request: MapRequest): Promise<Mapping> {
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
    const side: FamilyBackends = family === 'ipv6' ? this.#ipv6 : this.#ipv4
    const candidates = await side.candidates(signal)
    note(this.#logger, 'mapper', 'mapper.candidates', () => ({
      message: `${protocol} ${internalPort} (${family}): trying ${candidates.join(', ')}`,
    }))
    for (const via of candidates) {
      signal?.throwIfAborted()
      let backend: Backend
      let granted: Granted
      try {
        backend = await side.backend(via, signal)
        this.#assertOpen() // closed while probing or discovering: send nothing
        granted = await this.#leftovers.adoptOrAdd(backend, params, wanted, this.#place(backend), signal)
      } catch (error) {
        if (this.#closed) throw error
        if (signal?.aborted) throw error
        failures.push(asUpnpError(error))
        note(this.#logger, 'mapper', 'mapper.fallback', () => ({ message: `${via} failed: ${asUpnpError(error).message}` }))
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
  unmap(mapping: Mapping, options?: CallOptions): Promise<void> {
    return withLogger(this.#logger, () => this.#unmap(mapping, options))
  }

  async #unmap(mapping: Mapping, options: CallOptions | undefined): Promise<void> {
    const signal = checkedSignal(options)
    const held = this.#held.get(mapping)
    if (!held) return
    signal?.throwIfAborted()
    this.#forget(held)
    this.#removing.add(held)
    try {
      // A check in flight may still renew: delete only after it, so the delete is the last word.
      await held.checking
      await held.backend.remove(held.params, held.granted)
    } catch (error) {
      if (journaled(held)) this.#leftovers.keep(this.#entryOf(held)) // still on the router: the journal keeps it
      throw error
    } finally {
      this.#removing.delete(held)
      this.#writeJournal()
      this.#settleIdle()
    }
  }

  /** Deletes every mapping this mapper created and stops all its timers. Idempotent. */
  close(options?: CallOptions): Promise<void> {
    return withLogger(this.#logger, () => this.#close(options))
  }

  async #close(options: CallOptions | undefined): Promise<void> {
    checkedSignal(options)?.throwIfAborted()
    this.#closed = true
    // Adds in flight see #closed and undo what they made (map() rejects); then nothing new comes.
    await Promise.allSettled([...this.#adding])
    const failures: UPNPError[] = []
    await Promise.all(
      this.mappings.map((m) =>
        this.unmap(m).catch((e: unknown) => {
          failures.push(asUpnpError(e))
        }),
      ),
    )
    await this.#leftovers.sweepAll()
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
    const gateway = await this.#ipv4.ensureGateway(o.signal)
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
    this.#started ??= this.#claimLeftovers()
    return this.#started
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
    this.#leftovers.covered(backend.via, granted.externalPort, params.protocol, family)
    if (family === 'ipv4') {
      this.#noteExternalAddress(granted.externalAddress)
      mapping.update({ externalAddress: this.#externalAddress || granted.externalAddress })
    }
    this.#schedule(held)
    this.#writeJournal()
    installExitHooks(this)
    this.#wake.start()
    if (backend.via !== 'upnp' || family === 'ipv4') this.#listen(granted.server)
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
    arm(held, () => void withLogger(this.#logger, () => this.#tick(held)), this.#options.keepAlive, delay)
  }

  #forget(held: Held): void {
    disarm(held)
    held.mapping.update({ closed: true })
    this.#held.delete(held.mapping)
    if (this.#held.size === 0) {
      this.#announcements.close()
      this.#wake.stop()
    }
  }

  /** Nothing held, being deleted or added, and no leftover: the exit hooks are not needed. */
  #settleIdle(): void {
    if (this.#held.size || this.#removing.size || this.#adding.size || this.#leftovers.entries.length) return
    uninstallExitHooks(this)
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
    if (now >= held.renewAt && this.#options.hardRefresh && m.family === 'ipv4') {
      // Routers known to stop forwarding what they keep listing: renew by delete + add.
      const granted = await hardRefresh(held.backend, held.params, held.granted)
      if (this.#closed || m.closed) return void (await held.backend.remove(held.params, granted).catch(() => undefined))
      this.#apply(held, granted)
      this.emit('renewed', m)
      return this.#confirmForwarding(held)
    }
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
    await this.#confirmForwarding(held)
  }

  /** The app's `verify` after a check: a mapping it cannot reach gets one hard refresh. */
  async #confirmForwarding(held: Held): Promise<void> {
    const verify = this.#options.verify
    const m = held.mapping
    if (!verify || m.family !== 'ipv4' || this.#closed || m.closed) return
    const first = await askVerify(verify, m)
    if (first !== true) {
      if (first !== false) this.#report(first, m)
      if (first !== false || held.unreachable) return
    } else {
      if (held.unreachable) {
        held.unreachable = false
        this.emit('restored', m, m.externalPort)
      }
      return
    }
    this.emit('lost', m, 'not reachable from outside (verify): deleting and adding it again')
    const previousPort = m.externalPort
    const granted = await hardRefresh(held.backend, held.params, held.granted)
    if (this.#closed || m.closed) return void (await held.backend.remove(held.params, granted).catch(() => undefined))
    this.#apply(held, granted)
    const second = await askVerify(verify, m)
    if (second === true) return void this.emit('restored', m, previousPort)
    held.unreachable = true
    const reason =
      second === false
        ? 'still not reachable after a hard refresh (deleted and added again)'
        : `verify failed after a hard refresh: ${second.message}`
    this.emit('unreachable', m, { reason, hardRefreshed: true, answers: [first, second] })
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
    note(this.#logger, 'mapper', 'mapper.error', () => mapperRecord('error', [e, mapping]))
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

  // ---- announcements: a rebooted router says so ------------------------------------

  /** Hears the router's SSDP NOTIFYs and, for a NAT-PMP/PCP mapping, its `server`'s own
   *  announcements (whatever the protocol, a reboot announced either way loses the mapping). */
  #listen(server?: string): void {
    if (!this.#options.watchAnnouncements) return
    try {
      if (!this.#announcements.listening)
        this.#announcements.start({ multicastIf: this.#options.discoverMulticastIf, ipv6: this.#options.discoverIpv6 })
      if (server) this.#announcements.watchServer(server)
    } catch (error) {
      // Port 1900 or 5350 may be unavailable; periodic checks still find a reboot.
      this.#report(clientError(UPNPResult.SOCKET_ERROR, `not watching the router's announcements: ${(error as Error).message}`), null)
    }
  }

  /** A router announced a reboot (or a new external address): every mapping may be gone or
   *  moved. Check them all now (UPnP: a lookup; NAT-PMP/PCP: a renewal, whose epoch says). */
  #checkAfterAnnouncement(): void {
    if (this.#closed) return
    for (const held of this.#held.values()) {
      held.verifyAt = Date.now()
      if (!held.checking) this.#schedule(held, 0)
    }
  }

  // ---- journal: what a crashed process left behind ---------------------------------

  /** At the first map(): the leftovers of dead processes sharing the journal are claimed;
   *  with adoption off they are deleted before anything is mapped. */
  async #claimLeftovers(): Promise<void> {
    const claimed = this.#journal?.takeOver() ?? []
    if (!claimed.length) return
    this.#leftovers.claim(claimed)
    if (this.#options.adoptWindow === 0) await this.#leftovers.sweepAll()
  }

  /** Where `backend` keeps mappings (a leftover is adopted only from the same place). */
  #place(backend: Backend): Place {
    if (backend.via === 'upnp') return { controlUrl: this.#ipv4.gateway?.igdControlUrl ?? '' }
    return { router: backend.router ?? this.#options.router }
  }

  #entryOf({ mapping: m, backend, granted }: Held): JournalEntry {
    const entry: JournalEntry = {
      via: backend.via,
      internalClient: m.internalClient,
      internalPort: m.internalPort,
      externalPort: m.externalPort,
      protocol: m.protocol,
      description: m.description,
      family: m.family,
      ...this.#place(backend),
    }
    const gateway = this.#ipv4.gateway
    if (backend.via === 'upnp' && gateway) entry.serviceType = gateway.igdServiceType
    if (granted.nonce) entry.nonce = granted.nonce
    return entry
  }

  #writeJournal(): void {
    if (!this.#journal) return
    const entries = [...this.#held.values(), ...this.#removing].filter(journaled).map((h) => this.#entryOf(h))
    this.#journal.write([...entries, ...this.#leftovers.entries])
  }

  /** @internal What the exit hooks must report when the process ends before the deletes. */
  outstanding(): string[] {
    const left = [...this.#held.values(), ...this.#removing].map((h) => `${h.params.protocol} ${h.mapping.externalPort}`)
    if (this.#adding.size) left.push(`${this.#adding.size} map() call(s) in flight`)
    return left
  }

  /** @internal Cleanup for process exit: bounded, never throws. */
  closeForExit(): Promise<void> {
    const budget = new Promise<void>((resolve) => setTimeout(resolve, EXIT_CLEANUP_BUDGET_MS).unref())
    return Promise.race([this.close().catch(() => undefined), budget])
  }
}
