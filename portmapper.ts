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
 * - `close()` deletes exactly what it created; SIGINT/SIGTERM/`beforeExit` do the same
 *   (`cleanupOnExit`) without changing how the process exits; an optional journal lets the
 *   next start delete what a crashed process left;
 * - one request at a time per gateway; timers are unref'd, so an idle mapper never keeps
 *   a process alive (unless `keepAlive`).
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { type Backend, type Granted, LeaseBackend, type MappingParams, UpnpBackend } from './backends.ts'
import { IGDStatus, type Protocol, UPNP, UPNPDevice, UPNPError, UPNPResult } from './index.ts'
import * as native from './native.ts'
import { invalidateProbe, PREFERENCE, probe, type Via } from './probe.ts'

export interface PortMapperOptions {
  /** Which protocol holds mappings: 'auto' (default) probes all three and uses the best that
   *  answers (PCP, then NAT-PMP, then UPnP), falling back in that order when one fails. */
  protocol?: 'auto' | Via
  /** NAT-PMP/PCP router address (default: the default route's gateway). */
  router?: string
  /** Budget for the protocol probe and for each NAT-PMP/PCP exchange, in ms. Default 250 / 2000. */
  probeBudget?: number
  pmpBudget?: number
  /** Use this UPnP gateway instead of discovering one (implies protocol 'upnp'). */
  gateway?: UPNPDevice
  /** Discovery window in ms when no gateway is given (resolves early on the first gateway). Default 2000. */
  discoverTimeout?: number
  /** Passed to discovery: interface name/address, IPv6, local port (see `UPNP`). */
  discoverMulticastIf?: string
  discoverIpv6?: boolean
  discoverLocalPort?: number
  /** Per-request cap in ms. Default 3000. */
  requestTimeout?: number
  /** Lease requested when `map()` does not say, in seconds; 0 = permanent. Default 3600. */
  lease?: number
  /** How often every mapping is checked on the router, in ms. Default 300000 (5 min). */
  verifyInterval?: number
  /** External ports tried after a conflict. Default [1024, 65535]. */
  portRange?: [number, number]
  /** Add attempts with other external ports after conflicts. Default 8. */
  maxAttempts?: number
  /** Delete this mapper's mappings on SIGINT, SIGTERM and `beforeExit`. Default true. */
  cleanupOnExit?: boolean
  /** File recording live mappings; leftovers of a crashed process are deleted on next start. */
  journal?: string
  /** Keep the process alive while mappings are held (timers are unref'd otherwise). Default false. */
  keepAlive?: boolean
  /** Listen (passively, on port 1900 shared) for the gateway's SSDP announcements, so a
   *  reboot (new BOOTID.UPNP.ORG) triggers a check at once instead of at the next
   *  `verifyInterval`. Default true. */
  watchAnnouncements?: boolean
}

export interface MapRequest {
  internalPort: number
  protocol?: Protocol
  /** Wanted external port (default: `internalPort`); another is chosen on conflict. */
  externalPort?: number
  description?: string
  /** Seconds; 0 = permanent. Default: the mapper's `lease`. */
  lease?: number
  signal?: AbortSignal
}

export interface CallOptions {
  signal?: AbortSignal
}

/** One mapping held by a PortMapper. Its fields follow the router (port, lease, address). */
export class Mapping {
  #externalPort: number
  #externalAddress: string
  #lease: number
  #internalClient: string
  #closed = false
  #owner: PortMapper

  /** @internal */
  constructor(
    owner: PortMapper,
    /** Which protocol holds it on the router. */
    readonly via: Via,
    readonly internalPort: number,
    readonly protocol: Protocol,
    readonly description: string,
    /** The lease asked for, in seconds (0 = permanent). */
    readonly requestedLease: number,
    granted: Granted,
  ) {
    this.#owner = owner
    this.#internalClient = granted.internalClient
    this.#externalPort = granted.externalPort
    this.#externalAddress = granted.externalAddress
    this.#lease = granted.lease
  }

  /** The address the router forwards to (this host). */
  get internalClient(): string {
    return this.#internalClient
  }

  get externalPort(): number {
    return this.#externalPort
  }
  get externalAddress(): string {
    return this.#externalAddress
  }
  /** The lease the router granted, in seconds (0 = permanent; PCP/NAT-PMP have no permanent
   *  mappings, so a permanent request is held as 7200 s leases renewed forever). */
  get lease(): number {
    return this.#lease
  }
  get closed(): boolean {
    return this.#closed
  }

  /** Deletes this mapping from the router and stops maintaining it. */
  close(options: CallOptions = {}): Promise<void> {
    return this.#owner.unmap(this, options)
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

interface Held {
  mapping: Mapping
  backend: Backend
  params: MappingParams
  granted: Granted
  timer: NodeJS.Timeout | null
  renewAt: number
  verifyAt: number
  busy: boolean
}

interface JournalEntry {
  via: Via
  /** UPnP: where to delete. */
  controlUrl?: string
  serviceType?: string
  /** NAT-PMP/PCP: which router, and PCP's nonce. */
  router?: string
  nonce?: string
  internalClient: string
  internalPort: number
  externalPort: number
  protocol: Protocol
}

const MAX_TIMER_MS = 2 ** 31 - 1
const RETRY_AFTER_FAILURE_MS = 30_000
const EXIT_CLEANUP_BUDGET_MS = 3000

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max

function invalid(result: UPNPResult, description: string): UPNPError {
  return new UPNPError({ result, description })
}

/** Keeps port mappings alive on the router, over the best protocol it speaks. */
export class PortMapper extends EventEmitter<PortMapperEvents> {
  readonly #options: Required<Omit<PortMapperOptions, 'gateway' | 'journal'>> & Pick<PortMapperOptions, 'journal'>
  #gateway: UPNPDevice | null
  /** A gateway given by the caller is never swapped for a rediscovered one. */
  readonly #fixedGateway: boolean
  readonly #held = new Map<Mapping, Held>()
  readonly #backends = new Map<Via, Backend>()
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #externalAddress = ''
  #started: Promise<void> | null = null
  #journalUsable = false
  #listener: native.NotifyListener | null = null

  constructor(options: PortMapperOptions = {}) {
    super()
    this.#gateway = options.gateway ?? null
    this.#fixedGateway = options.gateway !== undefined
    this.#options = {
      protocol: options.gateway ? 'upnp' : options.protocol ?? 'auto',
      router: options.router ?? '',
      probeBudget: options.probeBudget ?? 250,
      pmpBudget: options.pmpBudget ?? 2000,
      discoverTimeout: options.discoverTimeout ?? 2000,
      discoverMulticastIf: options.discoverMulticastIf ?? '',
      discoverIpv6: options.discoverIpv6 ?? false,
      discoverLocalPort: options.discoverLocalPort ?? 0,
      requestTimeout: options.requestTimeout ?? 3000,
      lease: options.lease ?? 3600,
      verifyInterval: options.verifyInterval ?? 300_000,
      portRange: options.portRange ?? [1024, 65535],
      maxAttempts: options.maxAttempts ?? 8,
      cleanupOnExit: options.cleanupOnExit ?? true,
      keepAlive: options.keepAlive ?? false,
      watchAnnouncements: options.watchAnnouncements ?? true,
      journal: options.journal,
    }
    const { protocol, lease, verifyInterval, portRange, maxAttempts, requestTimeout, discoverTimeout, probeBudget, pmpBudget } = this.#options
    if (protocol !== 'auto' && !PREFERENCE.includes(protocol)) throw invalid(UPNPResult.INVALID_PARAM, `protocol ${JSON.stringify(protocol)} is not auto, pcp, natpmp or upnp`)
    if (!isInt(lease, 0, 0xffff_ffff)) throw invalid(UPNPResult.INVALID_DURATION, `lease ${lease} is not whole seconds >= 0`)
    if (!isInt(verifyInterval, 1, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `verifyInterval ${verifyInterval} is not 1..${MAX_TIMER_MS} ms`)
    if (!isInt(portRange[0], 1, 65535) || !isInt(portRange[1], portRange[0], 65535)) {
      throw invalid(UPNPResult.INVALID_PORT, `portRange ${JSON.stringify(portRange)} is not [low, high] within 1..65535`)
    }
    if (!isInt(maxAttempts, 1, 1000)) throw invalid(UPNPResult.INVALID_PARAM, `maxAttempts ${maxAttempts} is not 1..1000`)
    for (const [name, value] of [['requestTimeout', requestTimeout], ['probeBudget', probeBudget], ['pmpBudget', pmpBudget]] as const) {
      if (!isInt(value, 1, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `${name} ${value} is not 1..${MAX_TIMER_MS} ms`)
    }
    if (!isInt(discoverTimeout, 0, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `discoverTimeout ${discoverTimeout} is not 0..${MAX_TIMER_MS} ms`)
  }

  /** Whether this mapper deletes its mappings on SIGINT/SIGTERM/`beforeExit`. */
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

  /** Maps `internalPort` on the router and keeps the mapping alive until closed. */
  async map(request: MapRequest): Promise<Mapping> {
    const { internalPort, protocol = 'UDP', description = '', signal } = request
    const lease = request.lease ?? this.#options.lease
    if (!isInt(internalPort, 1, 65535)) throw invalid(UPNPResult.INVALID_PORT, `internalPort ${String(internalPort)} is not 1..65535`)
    if (protocol !== 'UDP' && protocol !== 'TCP') throw invalid(UPNPResult.INVALID_PROTOCOL, `protocol ${JSON.stringify(protocol)} is not "UDP" or "TCP"`)
    if (request.externalPort !== undefined && !isInt(request.externalPort, 1, 65535)) {
      throw invalid(UPNPResult.INVALID_PORT, `externalPort ${String(request.externalPort)} is not 1..65535`)
    }
    if (!isInt(lease, 0, 0xffff_ffff)) throw invalid(UPNPResult.INVALID_DURATION, `lease ${String(lease)} is not whole seconds >= 0`)
    if (typeof description !== 'string') throw invalid(UPNPResult.INVALID_ARGS, 'description must be a string')
    this.#assertOpen()
    signal?.throwIfAborted()
    await this.#start()
    const params: MappingParams = { internalPort, protocol, description, lease }
    const wanted = request.externalPort ?? internalPort

    // Best protocol first; on failure the next one (a different protocol may be allowed
    // what another was refused, or simply work where another is broken).
    const failures: UPNPError[] = []
    for (const via of await this.#candidates(signal)) {
      signal?.throwIfAborted()
      let backend: Backend
      let granted: Granted
      try {
        backend = await this.#backend(via, signal)
        granted = await backend.add(params, wanted, signal)
      } catch (error) {
        if (signal?.aborted) throw error
        failures.push(asUpnpError(error))
        invalidateProbe()
        continue
      }
      if (this.#closed) {
        // close() ran while we were adding: do not leave this one behind.
        await backend.remove(params, granted).catch(() => undefined)
        throw invalid(UPNPResult.UNKNOWN_ERROR, 'the PortMapper was closed')
      }
      return this.#hold(backend, params, granted)
    }
    const first = failures[0] ?? invalid(UPNPResult.NO_GATEWAY, 'no port-mapping protocol answered (UPnP, NAT-PMP, PCP)')
    if (failures.length > 1) {
      throw new UPNPError(first, `every protocol failed (${failures.map((f) => `${f.via ?? '?'}: ${UPNPResult[f.result]}`).join('; ')})`)
    }
    throw first
  }

  /** Deletes one mapping (also `mapping.close()`). */
  async unmap(mapping: Mapping, options: CallOptions = {}): Promise<void> {
    const held = this.#held.get(mapping)
    if (!held) return
    options.signal?.throwIfAborted()
    this.#forget(held)
    await held.backend.remove(held.params, held.granted)
  }

  /** Deletes every mapping this mapper created and stops all its timers. Idempotent. */
  async close(options: CallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    this.#closed = true
    const failures: UPNPError[] = []
    await Promise.all(this.mappings.map((m) => this.unmap(m).catch((e: unknown) => {
      failures.push(asUpnpError(e))
    })))
    uninstallExitHooks(this)
    this.#listener?.close()
    this.#listener = null
    if (failures.length) {
      const first = failures[0] as UPNPError
      throw new UPNPError(first, `close: ${failures.length} mapping(s) could not be deleted`)
    }
  }

  // ---- internals -------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw invalid(UPNPResult.INVALID_PARAM, 'this PortMapper is closed')
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
    const report = await probe({ gateway: this.#options.router, multicastIf: this.#options.discoverMulticastIf, budgetMs: this.#options.probeBudget, ...(signal ? { signal } : {}) })
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
      backend = new LeaseBackend(via, { router: this.#options.router, budgetMs: this.#options.pmpBudget, serial: this.#serial })
    }
    this.#backends.set(via, backend)
    return backend
  }

  async #ensureGateway(signal?: AbortSignal, rediscover = false): Promise<UPNPDevice> {
    if (this.#gateway && !rediscover) return this.#gateway
    const upnp = new UPNP()
    upnp.discoverMulticastIf = this.#options.discoverMulticastIf
    upnp.discoverIpv6 = this.#options.discoverIpv6
    upnp.discoverLocalPort = this.#options.discoverLocalPort
    upnp.requestTimeout = this.#options.requestTimeout
    const result = await upnp.discover({ timeout: this.#options.discoverTimeout, untilGateway: true, ...(signal ? { signal } : {}) })
    const gateway = upnp.getGateway()
    if (!gateway) {
      const why = upnp.lastError ?? { result, description: 'no UPnP gateway answered' }
      throw new UPNPError({ ...why, result: why.result === UPNPResult.SUCCESS ? UPNPResult.NO_GATEWAY : why.result, via: 'upnp' }, 'discovery')
    }
    this.#gateway = gateway
    return gateway
  }

  #hold(backend: Backend, params: MappingParams, granted: Granted): Mapping {
    const mapping = new Mapping(this, backend.via, params.internalPort, params.protocol, params.description, params.lease, granted)
    const now = Date.now()
    const held: Held = { mapping, backend, params, granted, timer: null, renewAt: this.#renewAt(now, granted.lease), verifyAt: now + this.#options.verifyInterval, busy: false }
    this.#held.set(mapping, held)
    this.#noteExternalAddress(granted.externalAddress)
    mapping.update({ externalAddress: this.#externalAddress || granted.externalAddress })
    this.#schedule(held)
    this.#writeJournal()
    installExitHooks(this)
    if (backend.via === 'upnp') this.#listen()
    this.emit('mapped', mapping)
    return mapping
  }

  #noteExternalAddress(address: string): void {
    if (!address || address === this.#externalAddress) return
    const previous = this.#externalAddress
    this.#externalAddress = address
    for (const m of this.#held.keys()) m.update({ externalAddress: address })
    // The first address is not a change.
    if (previous) this.emit('externalAddressChanged', address, previous)
  }

  #renewAt(now: number, lease: number): number {
    return lease > 0 ? now + (lease * 1000) / 2 : Number.POSITIVE_INFINITY
  }

  #schedule(held: Held, delay?: number): void {
    if (held.timer) clearTimeout(held.timer)
    const due = Math.min(held.renewAt, held.verifyAt)
    const wait = Math.max(0, Math.min(delay ?? due - Date.now(), MAX_TIMER_MS))
    held.timer = setTimeout(() => void this.#tick(held), wait)
    if (!this.#options.keepAlive) held.timer.unref()
  }

  #forget(held: Held): void {
    if (held.timer) clearTimeout(held.timer)
    held.timer = null
    held.mapping.update({ closed: true })
    this.#held.delete(held.mapping)
    this.#writeJournal()
    if (this.#held.size === 0) {
      uninstallExitHooks(this)
      this.#listener?.close()
      this.#listener = null
    }
  }

  async #tick(held: Held): Promise<void> {
    if (this.#closed || held.mapping.closed || held.busy) return
    held.busy = true
    try {
      await this.#maintain(held)
    } catch (error) {
      this.#report(error, held.mapping)
      if (!held.mapping.closed && !this.#closed) this.#schedule(held, Math.min(RETRY_AFTER_FAILURE_MS, this.#options.verifyInterval))
      return
    } finally {
      held.busy = false
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
      granted = outcome.granted ?? await held.backend.add(held.params, previousPort)
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
    this.#noteExternalAddress(granted.externalAddress)
  }

  #apply(held: Held, granted: Granted): void {
    const now = Date.now()
    const moved = granted.externalPort !== held.granted.externalPort
    held.granted = granted
    held.mapping.update({ externalPort: granted.externalPort, lease: granted.lease, internalClient: granted.internalClient })
    held.renewAt = this.#renewAt(now, granted.lease)
    if (now >= held.verifyAt || moved) held.verifyAt = now + this.#options.verifyInterval
    if (moved) this.#writeJournal()
  }

  #report(error: unknown, mapping: Mapping | null): void {
    const e = asUpnpError(error)
    if (this.listenerCount('error') > 0) this.emit('error', e, mapping)
    else process.emitWarning(e.message, { type: 'UPNPWarning', code: 'UPNP_PORTMAPPER' })
  }

  // ---- SSDP announcements: a rebooted UPnP router says so --------------------------

  #listen(): void {
    if (this.#listener || !this.#options.watchAnnouncements) return
    try {
      this.#listener = new native.NotifyListener(
        { multicastIf: this.#options.discoverMulticastIf, ipv6: this.#options.discoverIpv6 },
        (a) => this.#onAnnouncement(a),
      )
    } catch (error) {
      // Port 1900 may be unavailable; periodic checks still find a reboot.
      this.#report(invalid(UPNPResult.SOCKET_ERROR, `not watching SSDP announcements: ${(error as Error).message}`), null)
    }
  }

  #onAnnouncement(a: native.Announcement): void {
    const gateway = this.#gateway
    if (!gateway || this.#closed || !sameHost(a.location, gateway.descriptionUrl)) return
    if (a.nts === 'ssdp:update' && a.nextBootId != null) {
      gateway.bootId = a.nextBootId // announced change of network, not a reboot
      return
    }
    if (a.nts !== 'ssdp:alive' || a.bootId == null || a.bootId === gateway.bootId) return
    const known = gateway.bootId
    gateway.bootId = a.bootId
    if (known === null) return
    // A new boot: every UPnP mapping may be gone. Check them all now.
    for (const held of this.#held.values()) {
      if (held.backend.via !== 'upnp') continue
      held.verifyAt = Date.now()
      if (!held.busy) this.#schedule(held, 0)
    }
  }

  // ---- journal: what a crashed process left behind ---------------------------------

  async #sweepJournal(): Promise<void> {
    const file = this.#options.journal
    if (!file) return
    let previous: { pid?: number; entries?: JournalEntry[] } = {}
    try {
      previous = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof previous
    } catch {
      previous = {}
    }
    if (previous.pid && previous.pid !== process.pid && processAlive(previous.pid)) {
      this.#report(invalid(UPNPResult.INVALID_PARAM, `journal ${file} belongs to running process ${previous.pid}; not used`), null)
      return
    }
    this.#journalUsable = true
    let swept = 0
    for (const e of previous.entries ?? []) {
      if (await this.#sweepOne(e).catch(() => false)) swept++
    }
    this.#writeJournal()
    if (swept) this.emit('swept', swept)
  }

  /** Deletes one leftover, only if it still forwards to the same client and port. */
  async #sweepOne(e: JournalEntry): Promise<boolean> {
    const params: MappingParams = { internalPort: e.internalPort, protocol: e.protocol, description: '', lease: 0 }
    const granted: Granted = { externalPort: e.externalPort, externalAddress: '', lease: 0, internalClient: e.internalClient }
    if (e.via === 'upnp' || e.via === undefined) {
      const device = new UPNPDevice()
      device.igdControlUrl = e.controlUrl ?? ''
      device.igdServiceType = e.serviceType ?? ''
      device.igdStatus = IGDStatus.OK
      device.requestTimeout = this.#options.requestTimeout
      const entry = await this.#serial(() => device.getPortMapping(e.externalPort, e.protocol))
      if (!entry || entry.internalClient !== e.internalClient || entry.internalPort !== e.internalPort) return false
      return (await this.#serial(() => device.deletePortMapping(e.externalPort, e.protocol))) === UPNPResult.SUCCESS
    }
    // NAT-PMP and PCP deletes are scoped to this client (and, for PCP, the nonce) by the
    // protocol itself, so they cannot remove someone else's mapping.
    const backend = new LeaseBackend(e.via, { router: e.router ?? '', budgetMs: this.#options.pmpBudget, serial: this.#serial })
    if (e.nonce) granted.nonce = e.nonce
    await backend.remove(params, granted)
    return true
  }

  #writeJournal(): void {
    const file = this.#options.journal
    if (!file || !this.#journalUsable) return
    const entries: JournalEntry[] = [...this.#held.values()].map(({ mapping: m, backend, granted }) => {
      const entry: JournalEntry = { via: backend.via, internalClient: m.internalClient, internalPort: m.internalPort, externalPort: m.externalPort, protocol: m.protocol }
      if (backend.via === 'upnp' && this.#gateway) {
        entry.controlUrl = this.#gateway.igdControlUrl
        entry.serviceType = this.#gateway.igdServiceType
      } else {
        entry.router = this.#options.router
        if (granted.nonce) entry.nonce = granted.nonce
      }
      return entry
    })
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, JSON.stringify({ version: 1, pid: process.pid, entries }))
      fs.renameSync(tmp, file) // atomic: a crash never leaves half a journal
    } catch (error) {
      this.#report(invalid(UPNPResult.UNKNOWN_ERROR, `journal ${file}: ${(error as Error).message}`), null)
    }
  }

  /** @internal Cleanup for process exit: bounded, never throws. */
  closeForExit(): Promise<void> {
    const budget = new Promise<void>((resolve) => setTimeout(resolve, EXIT_CLEANUP_BUDGET_MS).unref())
    return Promise.race([this.close().catch(() => undefined), budget])
  }
}

function asUpnpError(error: unknown): UPNPError {
  if (error instanceof UPNPError) return error
  return invalid(UPNPResult.UNKNOWN_ERROR, error instanceof Error ? error.message : String(error))
}

/** Same host (and port) in two URLs; '' never matches. */
function sameHost(a: string, b: string): boolean {
  const origin = (url: string) => /^http:\/\/([^/]+)/i.exec(url)?.[1]?.toLowerCase() ?? ''
  const x = origin(a)
  return x !== '' && x === origin(b)
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// ---- process exit hooks, shared by every live PortMapper ------------------------------

const live = new Set<PortMapper>()
let hooked = false
let exiting = false

function cleanupAll(): Promise<void> {
  return Promise.all([...live].map((m) => m.closeForExit())).then(() => undefined)
}

function onSignal(signal: NodeJS.Signals): void {
  if (exiting) return
  exiting = true
  // Were we the only listener? Then Node's default (exit by this signal) must still happen.
  const othersListen = process.listenerCount(signal) > 1
  void cleanupAll().finally(() => {
    removeHooks()
    exiting = false
    if (!othersListen) process.kill(process.pid, signal)
  })
}

function onBeforeExit(): void {
  // The loop ran dry with mappings held (timers are unref'd): delete them, then let the
  // process end as it was about to. The work below keeps the loop alive until done.
  if (live.size && !exiting) {
    exiting = true
    void cleanupAll().finally(() => {
      exiting = false
    })
  }
}

function addHooks(): void {
  if (hooked) return
  hooked = true
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('beforeExit', onBeforeExit)
}

function removeHooks(): void {
  if (!hooked) return
  hooked = false
  process.removeListener('SIGINT', onSignal)
  process.removeListener('SIGTERM', onSignal)
  process.removeListener('beforeExit', onBeforeExit)
}

function installExitHooks(mapper: PortMapper): void {
  if (!mapper.cleanupOnExit) return
  live.add(mapper)
  addHooks()
}

function uninstallExitHooks(mapper: PortMapper): void {
  live.delete(mapper)
  if (live.size === 0) removeHooks()
}
