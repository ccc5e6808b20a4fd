/**
 * What routers say about IPv6 pinholes, explained: the error codes of UPnP's
 * WANIPv6FirewallControl:1 service with their names, meanings and fixes. Its 70x codes are
 * its own, and 606 or 402 mean something narrower there than for port mappings, so a pinhole
 * failure is explained from this table first, then as any other failure (`explain.ts`).
 */
import type { UPNPErrorInfo } from './errors.ts'
import { type CodeInfo, type Explanation, explainFailure } from './explain.ts'

/** The error codes of WANIPv6FirewallControl:1, as its specification names them. */
export const PINHOLE_CODES: Readonly<Record<number, CodeInfo>> = {
  402: {
    name: 'Invalid Args',
    meaning:
      'the router rejected the pinhole request, or does not know that pinhole (miniupnpd answers 402 for a pinhole it no longer has).',
    fix: 'Open the pinhole again; leases run 1 s to 24 h.',
  },
  606: {
    name: 'Action not authorized',
    meaning:
      'routers let a device open pinholes only to its own IPv6 address (asked over IPv6 from that address) and to ports of 1024 and above.',
    fix: 'Use a port of 1024 or above, from the machine the pinhole is for, searching over IPv6 (--ipv6).',
  },
  701: {
    name: 'PinholeSpaceExhausted',
    meaning: 'the router cannot hold any more pinholes.',
    fix: 'Close pinholes you do not need (they also end when their lease runs out), or restart the router.',
  },
  702: {
    name: 'FirewallDisabled',
    meaning: "the router's IPv6 firewall is off: there is nothing to open, inbound IPv6 already reaches this machine.",
    fix: 'Nothing to do for reachability (a firewall on this machine may still block it).',
  },
  703: {
    name: 'InboundPinholeNotAllowed',
    meaning: "the router's IPv6 firewall does not let programs open pinholes.",
    fix: "Allow IPv6 pinholes (sometimes called 'IPv6 UPnP' or 'allow inbound IPv6') in the router's settings, or open the port there by hand.",
  },
  704: {
    name: 'NoSuchEntry',
    meaning: 'the router does not have that pinhole (it expired, was closed, or the router restarted).',
    fix: 'Open the pinhole again.',
  },
  705: {
    name: 'ProtocolNotSupported',
    meaning: 'the router cannot open pinholes for this transport protocol.',
    fix: 'Try the other of --udp/--tcp.',
  },
  706: {
    name: 'InternalPortWildcardingNotAllowed',
    meaning: 'the router needs a port: it does not open every port at once.',
    fix: 'Give the port to open.',
  },
  707: {
    name: 'ProtocolWildcardingNotAllowed',
    meaning: 'the router needs one transport protocol, UDP or TCP.',
    fix: 'Use --udp or --tcp (or --both, which opens one pinhole for each).',
  },
  708: {
    name: 'WildCardNotPermittedInSrcIP',
    meaning: "the router needs this machine's IPv6 address in the request.",
    fix: 'Search over IPv6 (--ipv6) so that the request comes from, and names, this machine.',
  },
  709: {
    name: 'NoTrafficReceived',
    meaning: 'no packet has gone through the pinhole yet.',
    fix: 'Send something to the port from outside, then check again.',
  },
}

/** A failure of a pinhole action, explained. */
export function explainPinholeFailure(info: UPNPErrorInfo): Explanation {
  const failure = explainFailure(info)
  const known = failure.via === undefined && failure.upnpCode != null ? PINHOLE_CODES[failure.upnpCode] : undefined
  return known ? { ...failure, meaning: known.meaning, fix: known.fix } : failure
}
