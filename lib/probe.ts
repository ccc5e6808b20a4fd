/**
 * Which port-mapping protocols the router speaks: UPnP, NAT-PMP and PCP probed at once
 * within one short budget (the work runs in the addon), cached, and re-probed when the
 * default route's gateway or our address towards it changes.
 */
import { PROBE_MAX_AGE_MS, REQUEST_TIMEOUT_MS } from './defaults.ts'
import { clientError, UPNPResult } from './errors.ts'
import { UPNPDevice } from './godot/device.ts'
import * as native from './native/index.ts'
import { checkServers, natView, type NatView } from './reachability/nat-view.ts'
import { abortable } from './signal.ts'
import type { CallOptions, Via } from './types.ts'
import type { Logger } from './log/records.ts'
import { note, traced } from './log/trace.ts'
import { shown } from './log/visible.ts'
import { badSignal, checkedOptions, checkedSignal, isIntegerIn, MAX_TIMER_MS, notText, renamedOption, show } from './validate.ts'

/**
 * Preference when several answer, as Tailscale's portmapper does: PCP and NAT-PMP are small
 * stateless request/response protocols with real leases and an epoch that reveals reboots;
 * UPnP IGD implementations vary most between routers. UPnP stays the fallback (and the only
 * protocol that carries a mapping description).
 */
export const PREFERENCE: readonly Via[] = ['pcp', 'natpmp', 'upnp']

/** What one protocol's probe found. */
export interface ProtocolReport {
  /** The router answers this protocol and it can map. */
  available: boolean
  /** How long its answer took, in ms. */
  latencyMs: number
  /** External address if this protocol told it. */
  externalAddress: string
  /** NAT-PMP / PCP: seconds since the server's epoch. */
  epoch?: number
  /** Raw meaning of the answer (`SUCCESS`, `TIMEOUT`, `REFUSED`, `UNSUPP_VERSION`, ...). */
  meaning: string
}

/** What `probe()` found: each protocol's answer, and which are available, best first. */
export interface ProbeReport {
  /** The router NAT-PMP/PCP were asked (the default route's gateway unless `router` was given). */
  router: string
  /**
   * The same as `router`, under its old name (which the rest of the API uses for UPnP devices).
   * @deprecated Use `router`; this field goes in 0.2 (docs/api.md, "Deprecated names").
   */
  gateway: string
  /** Our address towards it. */
  localAddress: string
  /** UPnP's answer, with the gateway it found. */
  upnp: ProtocolReport & {
    /** The UPnP gateway found (usable for `PortMapper({ gateway })`), or `null`. */
    device: UPNPDevice | null
  }
  /** NAT-PMP's answer. */
  natpmp: ProtocolReport
  /** PCP's answer. */
  pcp: ProtocolReport
  /** Available protocols, best first (see `PREFERENCE`). */
  available: Via[]
  /** How long the whole probe took, in ms. */
  elapsedMs: number
  /** When it was measured (ms since epoch). */
  at: number
  /** Why a gateway could not be determined, if so (NAT-PMP and PCP were skipped). */
  error?: string
  /** With `stun`: the view from outside (public address, NAT behaviour) against the router's
   *  external address. */
  nat?: NatView
}

/** What `probe()` asks, and how long it may take. */
export interface ProbeOptions {
  /** The NAT-PMP/PCP server (the router) to ask ("" or absent = the default route's gateway). */
  router?: string
  /**
   * The old name of `router`.
   * @deprecated Use `router`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  gateway?: string
  /** UPnP search interface (as `UPNP.discoverMulticastIf`). */
  multicastIf?: string
  /** Total budget in ms (default 250). */
  budgetMs?: number
  /** Ask UPnP too (default true); false sends no SSDP search, for callers that already
   *  have their UPnP gateway (the report's `upnp` is then `NOT_PROBED`). */
  upnp?: boolean
  /** STUN servers (`host[:port]`, default port 3478) to ask for the address seen from outside
   *  and the NAT's behaviour (RFC 5780 needs a server with two addresses). None by default:
   *  nothing is sent to any server the caller does not name. */
  stun?: string[]
  /** Ignore the cache. */
  fresh?: boolean
  /** How long a result stays valid, in ms (default 10 minutes). */
  maxAgeMs?: number
  /** Aborts the probe: it rejects with `signal.reason`. */
  signal?: AbortSignal
  /** Receives a record of every exchange of the probe and its outcome (see `UPNP`'s
   *  `logger`); the UPnP device found gets it too. */
  logger?: Logger | null
}

interface Cached {
  key: string
  route: string
  report: ProbeReport
}

let cache: Cached | null = null

/** The default route as seen now: a change means another network, so probe again. */
async function routeFingerprint(): Promise<string> {
  const r = await native.defaultGateway().catch(() => null)
  return r ? `${r.gateway ?? ''}|${r.localAddress ?? ''}|${r.gateway6 ?? ''}|${r.localAddress6 ?? ''}` : ''
}

function pxpReport(r: native.NativePxpAnswer | undefined | null): ProtocolReport {
  if (!r) return { available: false, latencyMs: 0, externalAddress: '', meaning: 'NOT_PROBED' }
  const report: ProtocolReport = {
    available: !r.failure,
    latencyMs: r.latencyMs,
    externalAddress: r.externalAddress ?? '',
    meaning: r.failure?.meaning ?? 'SUCCESS',
  }
  if (r.epoch != null) report.epoch = r.epoch
  return report
}

const PROBE_KEYS = ['router', 'gateway', 'multicastIf', 'upnp', 'budgetMs', 'fresh', 'maxAgeMs', 'signal', 'stun', 'logger'] as const

/** The probe's options, checked: a bad one is a `UPNPError` (INVALID_PARAM) naming it. */
function probeOptions(
  options: unknown,
): Required<Omit<ProbeOptions, 'signal' | 'stun' | 'gateway'>> & { signal?: AbortSignal; stun?: string[] } {
  const given = checkedOptions(options, PROBE_KEYS, 'options', UPNPResult.INVALID_PARAM)
  const { multicastIf = '', upnp = true, budgetMs = native.PROBE_BUDGET_MS, fresh = false } = given
  const { maxAgeMs = PROBE_MAX_AGE_MS, signal, stun, logger = null } = given
  const renamed = renamedOption(given, 'router', 'gateway')
  const router = renamed.value ?? ''
  const problem =
    renamed.problem ??
    notText(renamed.name, router) ??
    notText('multicastIf', multicastIf) ??
    (isIntegerIn(budgetMs, 1, MAX_TIMER_MS) ? null : `budgetMs ${show(budgetMs)} is not 1..${MAX_TIMER_MS} ms`) ??
    (typeof maxAgeMs === 'number' && maxAgeMs >= 0 ? null : `maxAgeMs ${show(maxAgeMs)} is not a number of ms >= 0`) ??
    badSignal(signal) ??
    (logger === null || typeof logger === 'function' ? null : `logger ${show(logger)} is not a function`) ??
    (stun === undefined ? null : checkServers(stun))
  if (problem) throw clientError(UPNPResult.INVALID_PARAM, problem)
  return {
    router: router as string,
    multicastIf: multicastIf as string,
    upnp: Boolean(upnp),
    budgetMs: budgetMs as number,
    fresh: Boolean(fresh),
    maxAgeMs: maxAgeMs as number,
    logger: logger as Logger | null,
    ...(signal ? { signal: signal as AbortSignal } : {}),
    ...(stun === undefined ? {} : { stun: stun as string[] }),
  }
}

/** Probes UPnP, NAT-PMP and PCP at once (cached; see `ProbeOptions`). Rejects with a
 *  `UPNPError` for a bad option, with `signal.reason` when the signal aborts. */
export async function probe(options?: ProbeOptions): Promise<ProbeReport> {
  const { router, multicastIf, upnp, budgetMs, fresh, maxAgeMs, signal, logger, stun = [] } = probeOptions(options)
  signal?.throwIfAborted()
  const key = `${router}|${multicastIf}|${upnp}|${stun.join(',')}`
  const route = await routeFingerprint()
  if (!fresh && cache && cache.key === key && cache.route === route && Date.now() - cache.report.at < maxAgeMs) {
    const cached = cache.report
    note(logger, 'upnp', 'upnp.probed', () => probed(cached, true))
    return cached
  }
  const raw = await abortable(signal, () =>
    traced(logger, (trace) => native.probePortMapping({ router, router6: '', budgetMs, multicastIf, upnp, trace })),
  )
  const device = raw.upnp?.device ? UPNPDevice.fromNative(raw.upnp.device, REQUEST_TIMEOUT_MS, logger) : null
  const report: ProbeReport = {
    router: raw.router ?? router,
    gateway: raw.router ?? router,
    localAddress: raw.natpmp?.localAddress ?? raw.pcp?.localAddress ?? '',
    upnp: {
      available: Boolean(raw.upnp?.answered && device?.isValidGateway()),
      latencyMs: raw.upnp?.latencyMs ?? 0,
      externalAddress: device?.externalAddress ?? '',
      meaning: !upnp ? 'NOT_PROBED' : raw.upnp?.answered ? 'SUCCESS' : (raw.upnp?.failure?.description ?? 'TIMEOUT'),
      device,
    },
    natpmp: pxpReport(raw.natpmp),
    pcp: pxpReport(raw.pcp),
    available: [],
    elapsedMs: raw.elapsedMs,
    at: Date.now(),
  }
  if (raw.error) report.error = raw.error
  report.available = PREFERENCE.filter((via) => report[via].available)
  if (stun.length) {
    const routerAddress = report.upnp.externalAddress || report.natpmp.externalAddress || report.pcp.externalAddress
    report.nat = await natView(stun, routerAddress, undefined, logger)
    signal?.throwIfAborted()
  }
  cache = { key, route, report }
  note(logger, 'upnp', 'upnp.probed', () => probed(report, false))
  return report
}

/** The `upnp.probed` record: what answered, best first. */
function probed(report: ProbeReport, cached: boolean): { message: string } {
  const each = (['upnp', 'natpmp', 'pcp'] as const).map((via) => `${via} ${shown(report[via].meaning, 80)}`).join(', ')
  const best = report.available.length ? report.available.join(' > ') : 'none'
  return {
    message: `probe${cached ? ' (cached)' : ''} at ${report.router || '?'} in ${Math.round(report.elapsedMs)} ms: ${each}; usable: ${best}`,
  }
}

/** The default route's gateway and this host's address towards it. */
export interface DefaultGateway {
  /** IPv4 default gateway ("" if none). */
  gateway: string
  /** The interface that holds the IPv4 default route. */
  interface: string
  /** Our address towards it (found without sending anything). */
  localAddress: string
  /** The IPv6 default gateway (`fe80::1%eth0` when link-local; "" if none). */
  gateway6: string
  /** The interface that holds the IPv6 default route. */
  interface6: string
  /** Our IPv6 address towards the IPv6 gateway. */
  localAddress6: string
}

/**
 * The default route's gateway (the router NAT-PMP and PCP talk to), IPv4 and IPv6. Linux
 * reads /proc/net/route and /proc/net/ipv6_route, macOS the routing table and Windows the
 * adapters' gateways (both through the `netdev` crate); a route through a tunnel or VPN
 * adapter counts only when there is no other. `null` when there is no default route (or on
 * another platform): pass the router's address yourself (`PortMapper({ router })`,
 * `probe({ router })`). `options.signal` cancels (the promise rejects with its reason); a
 * bad `options` rejects with a `UPNPError` (INVALID_ARGS).
 */
export async function defaultGateway(options?: CallOptions): Promise<DefaultGateway | null> {
  const r = await abortable(checkedSignal(options), () => native.defaultGateway().catch(() => null))
  if (!r || r.error || (!r.gateway && !r.gateway6)) return null
  return {
    gateway: r.gateway ?? '',
    interface: r.interface ?? '',
    localAddress: r.localAddress ?? '',
    gateway6: r.gateway6 ?? '',
    interface6: r.interface6 ?? '',
    localAddress6: r.localAddress6 ?? '',
  }
}

/** Forgets the cached probe (e.g. after a protocol stopped answering). */
export function invalidateProbe(): void {
  cache = null
}
