/**
 * PortMapper: mappings that stay alive. The Godot surface (`UPNP`, `UPNPDevice`) leaves the
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
import { IGDStatus, type Protocol, UPNP, UPNPDevice, type UPNPErrorInfo, UPNPResult } from './index.ts'
import * as native from './native.ts'

/** A failed PortMapper call: Godot's result number plus what the router said. */
export class UPNPError extends Error {
  readonly result: UPNPResult
  readonly upnpCode?: number
  readonly description: string
  readonly httpStatus?: number

  constructor(info: UPNPErrorInfo, context?: string) {
    const code = info.upnpCode != null ? ` (UPnP ${info.upnpCode})` : ''
    super(`${context ? `${context}: ` : ''}${UPNPResult[info.result] ?? info.result}${code}: ${info.description}`)
    this.name = 'UPNPError'
    this.result = info.result
    if (info.upnpCode != null) this.upnpCode = info.upnpCode
    this.description = info.description
    if (info.httpStatus != null) this.httpStatus = info.httpStatus
  }
}

export interface PortMapperOptions {
  /** Use this gateway instead of discovering one. */
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
  /** Which protocol holds it on the router. */
  readonly via = 'upnp' as const
  #externalPort: number
  #externalAddress: string
  #lease: number
  #closed = false
  #owner: PortMapper

  /** @internal */
  constructor(
    owner: PortMapper,
    readonly internalPort: number,
    readonly protocol: Protocol,
    readonly description: string,
    readonly internalClient: string,
    /** The lease asked for, in seconds (0 = permanent). */
    readonly requestedLease: number,
    externalPort: number,
    externalAddress: string,
    lease: number,
  ) {
    this.#owner = owner
    this.#externalPort = externalPort
    this.#externalAddress = externalAddress
    this.#lease = lease
  }

  get externalPort(): number {
    return this.#externalPort
  }
  get externalAddress(): string {
    return this.#externalAddress
  }
  /** The lease the router granted, in seconds (0 = permanent). */
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
  update(fields: { externalPort?: number; externalAddress?: string; lease?: number; closed?: boolean }): void {
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
  timer: NodeJS.Timeout | null
  renewAt: number
  verifyAt: number
  busy: boolean
}

interface JournalEntry {
  controlUrl: string
  serviceType: string
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

/** Keeps port mappings alive on a UPnP gateway. */
export class PortMapper extends EventEmitter<PortMapperEvents> {
  readonly #options: Required<Omit<PortMapperOptions, 'gateway' | 'journal'>> & Pick<PortMapperOptions, 'journal'>
  #gateway: UPNPDevice | null
  /** A gateway given by the caller is never swapped for a rediscovered one. */
  readonly #fixedGateway: boolean
  readonly #held = new Map<Mapping, Held>()
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
    const { lease, verifyInterval, portRange, maxAttempts, requestTimeout, discoverTimeout } = this.#options
    if (!isInt(lease, 0, 0xffff_ffff)) throw invalid(UPNPResult.INVALID_DURATION, `lease ${lease} is not whole seconds >= 0`)
    if (!isInt(verifyInterval, 1, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `verifyInterval ${verifyInterval} is not 1..${MAX_TIMER_MS} ms`)
    if (!isInt(portRange[0], 1, 65535) || !isInt(portRange[1], portRange[0], 65535)) {
      throw invalid(UPNPResult.INVALID_PORT, `portRange ${JSON.stringify(portRange)} is not [low, high] within 1..65535`)
    }
    if (!isInt(maxAttempts, 1, 1000)) throw invalid(UPNPResult.INVALID_PARAM, `maxAttempts ${maxAttempts} is not 1..1000`)
    if (!isInt(requestTimeout, 1, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `requestTimeout ${requestTimeout} is not 1..${MAX_TIMER_MS} ms`)
    if (!isInt(discoverTimeout, 0, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `discoverTimeout ${discoverTimeout} is not 0..${MAX_TIMER_MS} ms`)
  }

  /** Whether this mapper deletes its mappings on SIGINT/SIGTERM/`beforeExit`. */
  get cleanupOnExit(): boolean {
    return this.#options.cleanupOnExit
  }

  /** The gateway in use (after the first `map()` when none was given). */
  get gateway(): UPNPDevice | null {
    return this.#gateway
  }

  /** The gateway's external address as last seen ("" before the first mapping). */
  get externalAddress(): string {
    return this.#externalAddress
  }

  /** The mappings currently held. */
  get mappings(): Mapping[] {
    return [...this.#held.keys()]
  }

  /** Maps `internalPort` on the gateway and keeps the mapping alive until closed. */
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
    const gateway = await this.#ensureGateway(signal)
    signal?.throwIfAborted()

    const wanted = request.externalPort ?? internalPort
    const added = await this.#add(gateway, wanted, internalPort, protocol, description, lease, signal)
    if (this.#closed) {
      // close() ran while we were adding: do not leave this one behind.
      await this.#serial(() => gateway.deletePortMapping(added.externalPort, protocol))
      throw invalid(UPNPResult.UNKNOWN_ERROR, 'the PortMapper was closed')
    }
    const address = await this.#refreshExternalAddress(gateway)
    const mapping = new Mapping(this, internalPort, protocol, description, gateway.igdOurAddr, lease,
      added.externalPort, address, added.lease)
    const now = Date.now()
    const held: Held = { mapping, timer: null, renewAt: this.#renewAt(now, added.lease), verifyAt: now + this.#options.verifyInterval, busy: false }
    this.#held.set(mapping, held)
    this.#schedule(held)
    this.#writeJournal()
    installExitHooks(this)
    this.#listen()
    this.emit('mapped', mapping)
    return mapping
  }

  /** Deletes one mapping (also `mapping.close()`). */
  async unmap(mapping: Mapping, options: CallOptions = {}): Promise<void> {
    const held = this.#held.get(mapping)
    if (!held) return
    options.signal?.throwIfAborted()
    this.#forget(held)
    const gateway = this.#gateway
    if (!gateway) return
    const result = await this.#serial(() => gateway.deletePortMapping(mapping.externalPort, mapping.protocol))
    // Already gone is what we wanted.
    if (result !== UPNPResult.SUCCESS && result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      throw new UPNPError(gateway.lastError ?? { result, description: 'delete failed' }, `deleting ${mapping.protocol} ${mapping.externalPort}`)
    }
  }

  /** Deletes every mapping this mapper created and stops all its timers. Idempotent. */
  async close(options: CallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    this.#closed = true
    const failures: UPNPError[] = []
    await Promise.all(this.mappings.map((m) => this.unmap(m).catch((e: unknown) => {
      failures.push(e instanceof UPNPError ? e : invalid(UPNPResult.UNKNOWN_ERROR, String(e)))
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

  /** Routers are fragile: one request at a time per mapper (so per gateway). */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #start(): Promise<void> {
    this.#started ??= this.#sweepJournal()
    return this.#started
  }

  async #ensureGateway(signal?: AbortSignal, rediscover = false): Promise<UPNPDevice> {
    if (this.#gateway && !rediscover) return this.#gateway
    const upnp = new UPNP()
    upnp.discoverMulticastIf = this.#options.discoverMulticastIf
    upnp.discoverIpv6 = this.#options.discoverIpv6
    upnp.discoverLocalPort = this.#options.discoverLocalPort
    upnp.requestTimeout = this.#options.requestTimeout
    const options = { timeout: this.#options.discoverTimeout, untilGateway: true, ...(signal ? { signal } : {}) }
    const result = await upnp.discover(options)
    const gateway = upnp.getGateway()
    if (!gateway) {
      const why = upnp.lastError ?? { result: result === UPNPResult.SUCCESS ? UPNPResult.NO_GATEWAY : result, description: 'no UPnP gateway answered' }
      throw new UPNPError(why.result === UPNPResult.SUCCESS ? { ...why, result: UPNPResult.NO_GATEWAY } : why, 'discovery')
    }
    this.#gateway = gateway
    return gateway
  }

  /** AddPortMapping with the conflict and lease-quirk policy; returns what was granted. */
  async #add(gateway: UPNPDevice, wanted: number, internalPort: number, protocol: Protocol, description: string,
    lease: number, signal?: AbortSignal): Promise<{ externalPort: number; lease: number }> {
    const tried = new Set<number>()
    let port = wanted
    let askLease = lease
    for (let attempt = 0; attempt < this.#options.maxAttempts; attempt++) {
      signal?.throwIfAborted()
      tried.add(port)
      const result = await this.#serial(() => gateway.addPortMapping(port, internalPort, description, protocol, askLease))
      if (result === UPNPResult.SUCCESS) {
        return { externalPort: port, lease: await this.#grantedLease(gateway, port, protocol, askLease) }
      }
      const leaseRefused = result === UPNPResult.ONLY_PERMANENT_LEASE_SUPPORTED || (result === UPNPResult.INVALID_ARGS && askLease > 0)
      if (leaseRefused && askLease > 0) {
        askLease = 0 // the router only does permanent mappings: ask again, same port
        continue
      }
      if (result === UPNPResult.CONFLICT_WITH_OTHER_MAPPING || result === UPNPResult.CONFLICT_WITH_OTHER_MECHANISM) {
        port = this.#nextPort(tried)
        continue
      }
      throw new UPNPError(gateway.lastError ?? { result, description: 'AddPortMapping failed' }, `mapping ${protocol} ${port}`)
    }
    throw new UPNPError({ result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING, description: `no free external port after ${this.#options.maxAttempts} attempts (tried ${[...tried].join(', ')})` }, `mapping ${protocol} ${internalPort}`)
  }

  #nextPort(tried: Set<number>): number {
    const [low, high] = this.#options.portRange
    for (let i = 0; i < 64; i++) {
      const port = low + Math.floor(Math.random() * (high - low + 1))
      if (!tried.has(port)) return port
    }
    return low
  }

  /** The lease the router really holds: follow it when it grants less than asked. */
  async #grantedLease(gateway: UPNPDevice, port: number, protocol: Protocol, asked: number): Promise<number> {
    const entry = await this.#serial(() => gateway.getPortMapping(port, protocol))
    if (!entry || entry.leaseDuration <= 0) return asked
    return asked === 0 ? entry.leaseDuration : Math.min(asked, entry.leaseDuration)
  }

  async #refreshExternalAddress(gateway: UPNPDevice): Promise<string> {
    const address = await this.#serial(() => gateway.queryExternalAddress())
    if (address && address !== this.#externalAddress) {
      const previous = this.#externalAddress
      this.#externalAddress = address
      for (const m of this.#held.keys()) m.update({ externalAddress: address })
      // The first address is not a change.
      if (previous) this.emit('externalAddressChanged', address, previous)
    }
    return this.#externalAddress
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

  // ---- SSDP announcements: a rebooted router says so -------------------------------

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
    // A new boot: every mapping may be gone. Check them all now.
    for (const held of this.#held.values()) {
      held.verifyAt = Date.now()
      if (!held.busy) this.#schedule(held, 0)
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
    let gateway = this.#gateway
    if (!gateway) throw invalid(UPNPResult.NO_GATEWAY, 'no gateway')
    let entry = await this.#serial(() => gateway!.getPortMapping(m.externalPort, m.protocol))
    const failure = gateway.lastError
    if (!entry && failure && failure.result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      if (this.#fixedGateway) throw new UPNPError(failure, 'checking mapping')
      // The router did not answer as before: it may have rebooted onto another port/URL.
      const previous = gateway
      gateway = await this.#ensureGateway(undefined, true)
      const rebooted = previous.bootId !== null && gateway.bootId !== null && previous.bootId !== gateway.bootId
      entry = await this.#serial(() => gateway!.getPortMapping(m.externalPort, m.protocol))
      if (!entry && gateway.lastError?.result !== UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
        throw new UPNPError(gateway.lastError ?? failure, 'checking mapping')
      }
      if (rebooted && entry) entry = null // a rebooted router's entry is not ours to trust blindly
    }
    if (this.#closed || m.closed) return
    const ours = entry && entry.internalClient === m.internalClient && entry.internalPort === m.internalPort
    const now = Date.now()
    if (!ours) {
      const reason = entry ? `port now forwards to ${entry.internalClient}:${entry.internalPort}` : 'the router no longer has it'
      this.emit('lost', m, reason)
      const previousPort = m.externalPort
      const added = await this.#add(gateway, previousPort, m.internalPort, m.protocol, m.description, m.requestedLease)
      if (this.#closed || m.closed) {
        await this.#serial(() => gateway!.deletePortMapping(added.externalPort, m.protocol))
        return
      }
      m.update({ externalPort: added.externalPort, lease: added.lease })
      held.renewAt = this.#renewAt(now, added.lease)
      held.verifyAt = now + this.#options.verifyInterval
      this.#writeJournal()
      await this.#refreshExternalAddress(gateway)
      this.emit('restored', m, previousPort)
      return
    }
    if (now >= held.renewAt) {
      const result = await this.#serial(() => gateway!.addPortMapping(m.externalPort, m.internalPort, m.description, m.protocol, m.requestedLease))
      if (result !== UPNPResult.SUCCESS) throw new UPNPError(gateway.lastError ?? { result, description: 'renewal failed' }, `renewing ${m.protocol} ${m.externalPort}`)
      const lease = await this.#grantedLease(gateway, m.externalPort, m.protocol, m.requestedLease)
      m.update({ lease })
      held.renewAt = this.#renewAt(Date.now(), lease)
      this.emit('renewed', m)
    }
    if (now >= held.verifyAt) held.verifyAt = now + this.#options.verifyInterval
    await this.#refreshExternalAddress(gateway)
  }

  #report(error: unknown, mapping: Mapping | null): void {
    const e = error instanceof UPNPError ? error : invalid(UPNPResult.UNKNOWN_ERROR, error instanceof Error ? error.message : String(error))
    if (this.listenerCount('error') > 0) this.emit('error', e, mapping)
    else process.emitWarning(e.message, { type: 'UPNPWarning', code: 'UPNP_PORTMAPPER' })
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
      const device = new UPNPDevice()
      device.igdControlUrl = e.controlUrl
      device.igdServiceType = e.serviceType
      device.igdStatus = IGDStatus.OK
      device.requestTimeout = this.#options.requestTimeout
      const entry = await this.#serial(() => device.getPortMapping(e.externalPort, e.protocol))
      // Only what still forwards to the same client and port is ours to delete.
      if (entry && entry.internalClient === e.internalClient && entry.internalPort === e.internalPort) {
        if ((await this.#serial(() => device.deletePortMapping(e.externalPort, e.protocol))) === UPNPResult.SUCCESS) swept++
      }
    }
    this.#writeJournal()
    if (swept) this.emit('swept', swept)
  }

  #writeJournal(): void {
    const file = this.#options.journal
    if (!file || !this.#journalUsable) return
    const gateway = this.#gateway
    const entries: JournalEntry[] = gateway
      ? this.mappings.map((m) => ({
          controlUrl: gateway.igdControlUrl,
          serviceType: gateway.igdServiceType,
          internalClient: m.internalClient,
          internalPort: m.internalPort,
          externalPort: m.externalPort,
          protocol: m.protocol,
        }))
      : []
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
