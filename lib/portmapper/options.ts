/** PortMapper's options: what each means, its default (`../defaults.ts`) and its check. */
import * as defaults from '../defaults.ts'
import * as native from '../native/index.ts'
import { clientError, UPNPResult } from '../errors.ts'
import { isDevice, type UPNPDevice } from '../godot/device.ts'
import { PREFERENCE } from '../probe.ts'
import type { Family, Protocol, Via } from '../types.ts'
import type { VerifyReachable } from './reachability.ts'
import type { Logger } from '../log/records.ts'
import { checkedOptions, isIntegerIn, MAX_TIMER_MS, MAX_UINT32, notText, renamedOption, show } from '../validate.ts'
import { appName } from './entry-owner.ts'

/** How a PortMapper finds the router and keeps mappings (every field optional). */
export interface PortMapperOptions {
  /** Which port-mapping protocol holds mappings (as `Mapping.via` names it): 'auto' (default)
   *  probes all three and uses the best that answers (PCP, then NAT-PMP, then UPnP), falling
   *  back in that order when one fails. */
  via?: 'auto' | Via
  /**
   * The old name of `via`, which read like `map()`'s `protocol` (UDP or TCP).
   * @deprecated Use `via`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  protocol?: 'auto' | Via
  /** The NAT-PMP/PCP server (the router) for IPv4 mappings (default: the default route's gateway). */
  router?: string
  /** The PCP server for IPv6 pinholes (default: the IPv6 default route's gateway, often link-local). */
  router6?: string
  /** Budget for the protocol probe, in ms. Default 250. */
  probeBudget?: number
  /** Budget for each NAT-PMP/PCP exchange (retransmissions included), in ms. Default 2000. */
  pxpBudget?: number
  /**
   * The old name of `pxpBudget` ("pmp" reads as NAT-PMP alone; the budget is PCP's too).
   * @deprecated Use `pxpBudget`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  pmpBudget?: number
  /** Use this UPnP gateway instead of discovering one (implies `via: 'upnp'`): a device, or
   *  its description URL (opened without a search, `UPNP.deviceFromUrl`; opened again when
   *  the router stops answering, e.g. after a reboot). */
  gateway?: UPNPDevice | string
  /** Discovery window in ms when no gateway is given (resolves early on the first gateway). Default 2000. */
  discoverTimeout?: number
  /** Discovery's interface, by name or address (see `UPNP.discoverMulticastIf`). */
  discoverMulticastIf?: string
  /** Discover over IPv6 (see `UPNP.discoverIpv6`). */
  discoverIpv6?: boolean
  /** Discovery's local port (see `UPNP.discoverLocalPort`). */
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
  /** Delete this mapper's mappings on SIGINT, SIGTERM, SIGHUP (Windows: also SIGBREAK) and
   *  `beforeExit`, awaiting the map() calls in flight (in an Electron main
   *  process: when the app quits, on `will-quit`). Default true. */
  cleanupOnExit?: boolean
  /** File recording live mappings, shareable by several processes: what a process that
   *  died without cleaning up left is adopted or deleted by a later start (docs/portmapper.md,
   *  "The journal"). A directory or other non-regular file there is an error, never touched. */
  journal?: string
  /** How long after the start, in ms, a journal's leftover may be taken over (renewed in
   *  place, same external port) by a map() for the same protocol, internal port and
   *  description; leftovers not taken over are deleted then, or at close(). 0 turns adoption
   *  off: leftovers are deleted before the first mapping. Default 30000. */
  adoptWindow?: number
  /** Keep the process alive while mappings are held (timers are unref'd otherwise). Default false. */
  keepAlive?: boolean
  /** Listen (passively) for what the router announces when it reboots, so that the check
   *  happens at once instead of at the next `verifyInterval`: its SSDP NOTIFYs with a new
   *  BOOTID.UPNP.ORG (port 1900, shared) and, while NAT-PMP/PCP hold mappings, its PCP
   *  ANNOUNCE and NAT-PMP address announcements (port 5350, shared). Default true, except on
   *  Windows (see docs/platforms.md, "Platforms"). */
  watchAnnouncements?: boolean
  /** The app's own check that a mapping is reached from outside (a dial-back: libp2p
   *  AutoNAT, a game's lobby server), asked after each check of an IPv4 mapping, with a
   *  signal that aborts after 10 s. Resolving false makes the mapper delete and re-add the
   *  mapping once (hard refresh) and ask again: `restored` if it helped, else `unreachable`
   *  (not repaired again until `verify` says yes once). */
  verify?: VerifyReachable
  /** Renew by deleting and re-adding each mapping instead of refreshing it, for routers known
   *  to stop forwarding mappings they keep listing. Default false. */
  hardRefresh?: boolean
  /** Receives a record of every exchange and decision of this mapper's work (the probe,
   *  discovery, each mapping's requests, renewals, checks, losses and fallbacks); see
   *  docs/troubleshooting.md, "Logging". */
  logger?: Logger | null
  /** The description of mappings whose `map()` gives none, and the owner `prune()` looks for.
   *  Default: the app's name (the nearest package.json's `name` above the entry script, else
   *  the process title), so two apps on one machine can tell their entries apart. */
  description?: string
}

/** What `PortMapper.map()` maps. */
export interface MapRequest {
  /** The port on this host that receives the traffic. */
  internalPort: number
  /** 'UDP' (default) or 'TCP'. */
  protocol?: Protocol
  /** 'ipv4' (default): a port mapping on the router's external IPv4 address. 'ipv6': a
   *  pinhole in the router's IPv6 firewall for this host's own address and `internalPort`
   *  (no translation: `externalPort`, if given, must be the same), over PCP or UPnP. */
  family?: Family
  /** Wanted external port (default: `internalPort`); another is chosen on conflict. */
  externalPort?: number
  /** Default: the mapper's `description` (the app's name). */
  description?: string
  /** Seconds; 0 = permanent. Default: the mapper's `lease`. */
  lease?: number
  /** Aborts the call: it rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** The options with their defaults, each under its one name (the deprecated ones folded in). */
export type ResolvedOptions = Required<Omit<PortMapperOptions, 'gateway' | 'journal' | 'verify' | 'logger' | 'protocol' | 'pmpBudget'>> &
  Pick<PortMapperOptions, 'journal' | 'verify'>

const OPTION_KEYS = [
  'via',
  'protocol',
  'router',
  'router6',
  'probeBudget',
  'pxpBudget',
  'pmpBudget',
  'gateway',
  'discoverTimeout',
  'discoverMulticastIf',
  'discoverIpv6',
  'discoverLocalPort',
  'requestTimeout',
  'lease',
  'verifyInterval',
  'portRange',
  'maxAttempts',
  'cleanupOnExit',
  'journal',
  'keepAlive',
  'watchAnnouncements',
  'description',
  'adoptWindow',
  'verify',
  'hardRefresh',
  'logger',
] as const satisfies ReadonlyArray<keyof PortMapperOptions>
// Every option is read: a key missing from OPTION_KEYS would be silently ignored.
type Unread = Exclude<keyof PortMapperOptions, (typeof OPTION_KEYS)[number]>
const everyOptionRead: [Unread] extends [never] ? true : Unread = true
void everyOptionRead

/** The `PortMapperOptions` as given, read once each (a getter or Proxy trap that throws, or
 *  options that are not an object, are a `UPNPError` naming them). */
export function readMapperOptions(options: unknown): PortMapperOptions {
  return checkedOptions(options, OPTION_KEYS, 'PortMapper options', UPNPResult.INVALID_PARAM) as PortMapperOptions
}

/** `[low, high]`, copied out of whatever the caller gave (an array-like Proxy included), or null. */
function portPair(value: unknown): [unknown, unknown] | null {
  try {
    return Array.isArray(value) && value.length === 2 ? [value[0], value[1]] : null
  } catch {
    return null
  }
}

/** The options (as `readMapperOptions` read them) with their defaults, checked; throws a
 *  UPNPError naming the bad one. */
export function resolveOptions(options: PortMapperOptions): ResolvedOptions {
  const invalid = (result: UPNPResult, description: string) => clientError(result, description)
  const { gateway } = options
  if (gateway !== undefined && typeof gateway !== 'string' && !isDevice(gateway)) {
    throw invalid(UPNPResult.INVALID_PARAM, `gateway ${show(gateway)} is not a UPNPDevice or a description URL`)
  }
  // The deprecated names (docs/api.md, "Deprecated names") still work.
  const via = renamedOption(options as Record<string, unknown>, 'via', 'protocol')
  const pxpBudget = renamedOption(options as Record<string, unknown>, 'pxpBudget', 'pmpBudget')
  const renameProblem = via.problem ?? pxpBudget.problem
  if (renameProblem) throw invalid(UPNPResult.INVALID_PARAM, renameProblem)
  const pair = options.portRange === undefined ? [...defaults.PORT_RANGE] : portPair(options.portRange)
  if (!pair) throw invalid(UPNPResult.INVALID_PORT, `portRange ${show(options.portRange)} is not [low, high]`)
  const resolved = {
    via: options.gateway ? 'upnp' : ((via.value as ResolvedOptions['via'] | undefined) ?? 'auto'),
    router: options.router ?? '',
    router6: options.router6 ?? '',
    probeBudget: options.probeBudget ?? native.PROBE_BUDGET_MS,
    pxpBudget: (pxpBudget.value as number | undefined) ?? native.PXP_BUDGET_MS,
    discoverTimeout: options.discoverTimeout ?? defaults.DISCOVER_TIMEOUT_MS,
    discoverMulticastIf: options.discoverMulticastIf ?? '',
    discoverIpv6: options.discoverIpv6 ?? false,
    discoverLocalPort: options.discoverLocalPort ?? 0,
    requestTimeout: options.requestTimeout ?? defaults.REQUEST_TIMEOUT_MS,
    lease: options.lease ?? defaults.MAPPER_LEASE_S,
    verifyInterval: options.verifyInterval ?? defaults.VERIFY_INTERVAL_MS,
    portRange: pair as [number, number],
    maxAttempts: options.maxAttempts ?? defaults.MAX_ATTEMPTS,
    cleanupOnExit: options.cleanupOnExit ?? true,
    keepAlive: options.keepAlive ?? false,
    watchAnnouncements: options.watchAnnouncements ?? defaults.WATCH_ANNOUNCEMENTS,
    description: options.description === undefined || options.description === '' ? appName() : options.description,
    journal: options.journal,
    verify: options.verify,
    hardRefresh: options.hardRefresh ?? false,
    adoptWindow: options.adoptWindow ?? defaults.ADOPT_WINDOW_MS,
  } satisfies Record<keyof ResolvedOptions, unknown>
  const { lease, verifyInterval, portRange, maxAttempts, requestTimeout, discoverTimeout, probeBudget } = resolved
  if (resolved.via !== 'auto' && !PREFERENCE.includes(resolved.via)) {
    throw invalid(UPNPResult.INVALID_PARAM, `${via.name} ${show(resolved.via)} is not auto, pcp, natpmp or upnp`)
  }
  if (!isIntegerIn(lease, 0, MAX_UINT32)) throw invalid(UPNPResult.INVALID_DURATION, `lease ${show(lease)} is not whole seconds >= 0`)
  if (!isIntegerIn(verifyInterval, 1, MAX_TIMER_MS)) {
    throw invalid(UPNPResult.INVALID_PARAM, `verifyInterval ${show(verifyInterval)} is not 1..${MAX_TIMER_MS} ms`)
  }
  if (!isIntegerIn(portRange[0], 1, 65535) || !isIntegerIn(portRange[1], portRange[0], 65535)) {
    throw invalid(UPNPResult.INVALID_PORT, `portRange [${show(portRange[0])}, ${show(portRange[1])}] is not [low, high] within 1..65535`)
  }
  if (options.verify !== undefined && typeof options.verify !== 'function')
    throw invalid(UPNPResult.INVALID_PARAM, 'verify must be a function')
  if (!isIntegerIn(maxAttempts, 1, 1000)) throw invalid(UPNPResult.INVALID_PARAM, `maxAttempts ${show(maxAttempts)} is not 1..1000`)
  for (const [name, value] of [
    ['requestTimeout', requestTimeout],
    ['probeBudget', probeBudget],
    [pxpBudget.name, resolved.pxpBudget],
  ] as const) {
    if (!isIntegerIn(value, 1, MAX_TIMER_MS)) throw invalid(UPNPResult.INVALID_PARAM, `${name} ${show(value)} is not 1..${MAX_TIMER_MS} ms`)
  }
  if (!isIntegerIn(resolved.adoptWindow, 0, MAX_TIMER_MS)) {
    throw invalid(UPNPResult.INVALID_PARAM, `adoptWindow ${show(resolved.adoptWindow)} is not 0..${MAX_TIMER_MS} ms`)
  }
  if (options.logger != null && typeof options.logger !== 'function') throw invalid(UPNPResult.INVALID_PARAM, 'logger must be a function')
  if (!isIntegerIn(discoverTimeout, 0, MAX_TIMER_MS)) {
    throw invalid(UPNPResult.INVALID_PARAM, `discoverTimeout ${show(discoverTimeout)} is not 0..${MAX_TIMER_MS} ms`)
  }
  if (!isIntegerIn(resolved.discoverLocalPort, 0, 65535)) {
    throw invalid(UPNPResult.INVALID_PARAM, `discoverLocalPort ${show(resolved.discoverLocalPort)} is not 0..65535`)
  }
  const problem =
    notText('router', resolved.router) ??
    notText('router6', resolved.router6) ??
    notText('discoverMulticastIf', resolved.discoverMulticastIf) ??
    notText('description', resolved.description) ??
    (resolved.journal === undefined ? null : notText('journal', resolved.journal)) ??
    notFlag('discoverIpv6', resolved.discoverIpv6) ??
    notFlag('cleanupOnExit', resolved.cleanupOnExit) ??
    notFlag('keepAlive', resolved.keepAlive) ??
    notFlag('watchAnnouncements', resolved.watchAnnouncements)
  if (problem) throw invalid(UPNPResult.INVALID_PARAM, problem)
  return resolved as ResolvedOptions
}

function notFlag(what: string, value: unknown): string | null {
  return typeof value === 'boolean' ? null : `${what} ${show(value)} is not true or false`
}
