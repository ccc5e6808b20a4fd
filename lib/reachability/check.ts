/**
 * Is a mapped UDP port reachable from outside? A probe socket is mapped through the same path
 * PortMapper uses (PCP, NAT-PMP or UPnP), then an RFC 5780 STUN server is asked to answer from
 * its *other* address and port to the mapping's external port (RESPONSE-PORT when the NAT
 * rewrote the source port): that answer is unsolicited traffic, which arrives only if the
 * router forwards it. An unmapped socket asks the same at the same time: if its answer
 * arrives too, the port is "reachable anyway" (the NAT does not filter, RFC 5780's
 * endpoint-independent filtering), not because of the mapping. A mapping that the router
 * lists but does not forward is deleted and added again once (a hard refresh) and checked
 * again. The probe mapping is always deleted afterwards.
 */
import { clientError, UPNPResult } from '../errors.ts'
import { traced } from '../log/trace.ts'
import * as native from '../native/index.ts'
import { PortMapper } from '../portmapper/mapper.ts'
import type { Mapping } from '../portmapper/mapping.ts'
import type { PortMapperOptions } from '../portmapper/options.ts'
import type { Via } from '../types.ts'
import { badSignal, checkedOptions, renamedOption, show } from '../validate.ts'
import { checkServers, type InboundCheck, relate, type NatRelation } from './nat-view.ts'

/** The description of the probe mapping on the router (seen in `upnpc -l` while it runs). */
export const CHECK_DESCRIPTION = 'upnp-native check'
/** The probe mapping's lease: it is deleted at once, this only bounds a crash's leftover. */
const CHECK_LEASE_S = 120

/** What `checkReachability()` asks, and how the probe mapping is made. */
export interface ReachabilityOptions {
  /** STUN servers that implement RFC 5780 (two addresses), `host[:port]`; asked in order
   *  until one answers. Required: no server is built in. */
  stun: string[]
  /** How the probe mapping is made: 'auto' (default: PortMapper's choice), or one protocol
   *  (PortMapper's `via`). */
  via?: 'auto' | Via
  /**
   * The old name of `via`.
   * @deprecated Use `via`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  protocol?: 'auto' | Via
  /** PortMapper options for the probe mapping (router, gateway, timeouts). */
  mapper?: Pick<
    PortMapperOptions,
    'router' | 'gateway' | 'discoverTimeout' | 'discoverMulticastIf' | 'requestTimeout' | 'probeBudget' | 'pxpBudget' | 'pmpBudget'
  >
  /** Budget of each STUN test in ms (default `STUN_BUDGET_MS`, 2000): an answer that never
   *  comes costs this much. */
  budgetMs?: number
  /** Delete and re-add a mapping that is not forwarded, and check once more (default true). */
  repair?: boolean
  /** Cancels the check: it rejects with `signal.reason`; the probe mapping is deleted. */
  signal?: AbortSignal
}

/**
 * - `reachable`: the answer arrived through the mapping (the unmapped socket got none);
 * - `reachable-anyway`: the unmapped socket got its answer too: the NAT lets unsolicited
 *   traffic in without a mapping (endpoint-independent filtering, or no NAT or firewall);
 * - `not-reachable`: no answer through the mapping (see `relation` and `reason`);
 * - `cannot-tell`: the STUN server did not answer, or cannot answer from another address.
 */
export type ReachabilityVerdict = 'reachable' | 'reachable-anyway' | 'not-reachable' | 'cannot-tell'

/** What `checkReachability()` found: the verdict, why, and the evidence behind it. */
export interface ReachabilityReport {
  /** The answer (see `ReachabilityVerdict`). */
  verdict: ReachabilityVerdict
  /** Why, in one sentence. */
  reason: string
  /** What to do about it ("" when nothing is to be done). */
  fix: string
  /** The protocol that made the probe mapping. */
  via: Via
  /** The probe mapping as the router granted it (deleted again). */
  mapping: {
    /** The router's external address. */
    externalAddress: string
    /** The port mapped on it. */
    externalPort: number
    /** Where it forwarded to (this host). */
    internalClient: string
    /** The probe socket's port. */
    internalPort: number
  }
  /** This host as the STUN server saw it. */
  publicAddress: string
  /** How that compares with the router's report (see `NatRelation`). */
  relation: NatRelation
  /** The STUN server that answered (as named). */
  server: string
  /** The server's other address, where the answers were asked to come from. */
  otherAddress: string
  /** The test of the mapped socket: did the answer reach it through the mapping? */
  probe: InboundCheck
  /** The same test of an unmapped socket: an answer here means no filtering at all. */
  control: InboundCheck
  /** The mapping was deleted and re-added after a first check that it was not forwarded. */
  repaired: boolean
  /** How long the whole check took, in ms. */
  elapsedMs: number
}

/** Both sockets' checks at once, traced when someone listens (section `stun`). */
function inboundBoth(probe: native.StunSocket, control: native.StunSocket, server: string, port: number, budgetMs?: number) {
  return Promise.all([
    traced(null, (trace) => probe.inbound(server, port, budgetMs, trace)),
    traced(null, (trace) => control.inbound(server, undefined, budgetMs, trace)),
  ])
}

/** Maps a probe socket and checks from outside whether unsolicited UDP reaches it. */
export async function checkReachability(options: ReachabilityOptions): Promise<ReachabilityReport> {
  const given = checkedOptions(
    options,
    ['stun', 'via', 'protocol', 'mapper', 'budgetMs', 'repair', 'signal'],
    'options',
    UPNPResult.INVALID_PARAM,
  )
  const via = renamedOption(given, 'via', 'protocol')
  const bad =
    checkServers(given.stun) ??
    via.problem ??
    badSignal(given.signal) ??
    (given.mapper === undefined || (typeof given.mapper === 'object' && given.mapper !== null)
      ? null
      : `mapper ${show(given.mapper)} is not PortMapper options`)
  if (bad) throw clientError(UPNPResult.INVALID_PARAM, bad)
  const { budgetMs, repair = true } = given as Omit<ReachabilityOptions, 'stun'>
  const stun = [...(given.stun as string[])]
  const signal = given.signal as AbortSignal | undefined
  signal?.throwIfAborted()
  const started = performance.now()
  // Under the name the caller gave it, so that PortMapper's message about a bad one names it.
  // Made before the sockets are opened: a bad option throws here and leaves nothing open.
  const chosen = { [via.name]: via.value ?? 'auto' } as Pick<ReachabilityOptions, 'via'>
  const mapper = new PortMapper({ ...(given.mapper as ReachabilityOptions['mapper']), ...chosen, lease: CHECK_LEASE_S, maxAttempts: 4 })
  mapper.on('error', () => undefined) // the report says what failed
  const probe = native.StunSocket.open(0)
  const control = native.StunSocket.open(0)
  try {
    let mapping: Mapping = await mapper.map({
      internalPort: probe.port,
      protocol: 'UDP',
      description: CHECK_DESCRIPTION,
      ...(signal ? { signal } : {}),
    })
    // The first server that can answer from another address decides.
    let server = stun[0] as string
    let [mapped, unmapped] = await inboundBoth(probe, control, server, mapping.externalPort, budgetMs)
    for (const next of stun.slice(1)) {
      if (!mapped.failure) break
      server = next
      ;[mapped, unmapped] = await inboundBoth(probe, control, server, mapping.externalPort, budgetMs)
    }
    signal?.throwIfAborted()
    let repaired = false
    const forwardsNothing = !mapped.failure && !mapped.reached && !unmapped.reached
    if (repair && forwardsNothing && mapped.mappedAddress === mapping.externalAddress) {
      // Listed, on the address traffic really leaves from, yet not forwarded: delete and add
      // it again once (routers that keep a mapping listed but stop forwarding it), then check.
      await mapping.close()
      mapping = await mapper.map({
        internalPort: probe.port,
        protocol: 'UDP',
        description: CHECK_DESCRIPTION,
        externalPort: mapping.externalPort,
        ...(signal ? { signal } : {}),
      })
      repaired = true
      ;[mapped, unmapped] = await inboundBoth(probe, control, server, mapping.externalPort, budgetMs)
    }
    return report(mapping, mapped, unmapped, server, repaired, performance.now() - started)
  } finally {
    await mapper.close().catch(() => undefined)
    probe.close()
    control.close()
  }
}

/** The NAT beyond the router, in a few words. */
const BEYOND: Record<NatRelation, string> = {
  same: '',
  'no-nat': '',
  unknown: '',
  'double-nat': 'double NAT: the router is behind another router',
  cgnat: "carrier-grade NAT: the ISP's",
  'upstream-nat': "a NAT the router does not know about, likely the ISP's carrier-grade NAT",
}

function report(
  m: Mapping,
  mapped: InboundCheck,
  unmapped: InboundCheck,
  server: string,
  repaired: boolean,
  elapsedMs: number,
): ReachabilityReport {
  const publicAddress = mapped.mappedAddress ?? unmapped.mappedAddress ?? ''
  const { relation } = relate(publicAddress, m.externalAddress, false)
  const other = mapped.otherAddress ?? ''
  const base = {
    via: m.via,
    mapping: {
      externalAddress: m.externalAddress,
      externalPort: m.externalPort,
      internalClient: m.internalClient,
      internalPort: m.internalPort,
    },
    publicAddress,
    relation,
    server,
    otherAddress: other,
    probe: mapped,
    control: unmapped,
    repaired,
    elapsedMs,
  }
  if (mapped.failure) {
    return {
      ...base,
      verdict: 'cannot-tell',
      reason: `the STUN server could not tell: ${mapped.failure.description}`,
      fix: 'Name a STUN server that implements RFC 5780 (it needs two public addresses), and check that UDP to it is not blocked.',
    }
  }
  if (unmapped.reached) {
    return {
      ...base,
      verdict: 'reachable-anyway',
      reason: `an answer from ${other} reached an unmapped port as well: the NAT lets unsolicited traffic in to any port this machine used (endpoint-independent filtering), so the port is reachable with or without the mapping, and only while it is in use`,
      fix: '',
    }
  }
  if (mapped.reached) {
    return {
      ...base,
      verdict: 'reachable',
      reason: repaired
        ? `an answer from ${other} reached ${publicAddress}:${mapped.sentToPort} only after the mapping was deleted and added again: the router listed it without forwarding it`
        : `an answer from ${other} reached ${publicAddress}:${mapped.sentToPort} through the mapping (an unmapped port got none)`,
      fix: repaired
        ? 'This router needs a hard refresh now and then: PortMapper({ hardRefresh: true }) deletes and re-adds mappings at every renewal.'
        : '',
    }
  }
  const why =
    relation === 'same' || relation === 'unknown'
      ? `the router lists the mapping on ${m.externalAddress}:${m.externalPort}, but nothing sent to it from ${other} arrived${repaired ? ', not even after deleting and adding it again' : ''}`
      : `traffic from this machine leaves from ${publicAddress}, not from the router's ${m.externalAddress} (${BEYOND[relation]}); a mapping on the router cannot open the NAT beyond it`
  const fix =
    relation === 'cgnat' || relation === 'upstream-nat'
      ? 'Ask the ISP for a public IPv4 address (or for the port to be forwarded on its NAT), or reach this machine over IPv6.'
      : relation === 'double-nat'
        ? 'Put the upstream modem/router in bridge mode, or forward the same port on it to this router as well (or enable UPnP there).'
        : "Check the router's firewall settings; a firewall beyond the router (the ISP's) may block inbound UDP too."
  return { ...base, verdict: 'not-reachable', reason: why, fix }
}
