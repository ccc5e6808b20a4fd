/**
 * The view from outside: this host's public address and the NAT's behaviour as STUN servers
 * the caller names see them (RFC 5780, in the addon), set against what the router reports.
 * When the two addresses differ, another NAT sits beyond the router, and mappings made on the
 * router do not reach the Internet: this names which kind, as precisely as the addresses
 * allow. No server is built in: without `stun` nothing is sent.
 */
import { classifyAddress } from '../address.ts'
import * as native from '../native/index.ts'

/** RFC 4787 / RFC 5780: on what a NAT's mapping (or filter) depends. */
export type NatDependence = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent'

/**
 * How the public address relates to the router's external address:
 * - `same`: the router's address is the public one: nothing beyond it translates;
 * - `no-nat`: STUN saw this host's own address: no NAT at all on the way;
 * - `double-nat`: the router's address is private: another router (or the ISP) translates again;
 * - `cgnat`: the router's address is in 100.64.0.0/10: the ISP's carrier-grade NAT;
 * - `upstream-nat`: the router reports a public-looking address, but traffic leaves from
 *   another one: an upstream NAT the router does not know about (a carrier-grade NAT using
 *   public space, a second router, a load-balancing ISP);
 * - `unknown`: the router's address or the public one is not known.
 */
export type NatRelation = 'same' | 'no-nat' | 'double-nat' | 'cgnat' | 'upstream-nat' | 'unknown'

/** Why a STUN server gave no answer that could be used. */
export interface StunFailure {
  /** `TIMEOUT`, `REFUSED`, `INVALID_RESPONSE`, `SOCKET_ERROR` or `INVALID_SERVER`. */
  meaning: string
  /** What happened, in words. */
  description: string
}

/** One STUN server's answers to the RFC 5780 behaviour tests. */
export interface StunServerView {
  /** The server as the caller named it. */
  server: string
  /** The address it was asked at (absent when the name could not be resolved). */
  serverAddress?: string
  /** Why it gave no usable answer (absent when it answered). */
  failure?: StunFailure
  /** This host's address as the server saw it (XOR-MAPPED-ADDRESS). */
  mappedAddress?: string
  /** ... and its port. */
  mappedPort?: number
  /** The server's other address (RFC 5780 OTHER-ADDRESS), when it has one. */
  otherAddress?: string
  /** This host's own address towards the server. */
  localAddress?: string
  /** The server saw this host's own address and port: no NAT on the way. */
  noNat: boolean
  /** The NAT's mapping behaviour (RFC 5780 4.3), when it could be told. */
  mapping?: NatDependence
  /** The NAT's filtering behaviour (RFC 5780 4.4), when it could be told. */
  filtering?: NatDependence
  /** Why mapping or filtering could not be told, and other remarks. */
  notes: string[]
  /** How long the server took to answer, in ms. */
  latencyMs: number
}

/** One socket's test from outside: did an answer from the server's other address reach it? */
export interface InboundCheck {
  /** The STUN server asked. */
  server: string
  /** Why the server gave no usable answer (absent when it answered). */
  failure?: StunFailure
  /** The socket's address as the server saw it. */
  mappedAddress?: string
  /** ... and its port. */
  mappedPort?: number
  /** Where the answer was asked to come from (the server's other address and port). */
  otherAddress?: string
  /** The port the answer was sent to (the mapping's external port, or the socket's own). */
  sentToPort?: number
  /** The answer from the other address arrived: unsolicited traffic reaches the socket. */
  reached: boolean
  /** Requests sent. */
  attempts: number
  /** How long the test took, in ms. */
  elapsedMs: number
}

/** What the STUN servers saw, and how it compares with the router's report. */
export interface NatView {
  /** This host's address as the STUN server saw it ("" when no server answered). */
  publicAddress: string
  /** The STUN server that told it, as named. */
  server: string
  /** ... and the address it was asked at. */
  serverAddress: string
  /** The router's external address as reported (UPnP, NAT-PMP or PCP; "" if unknown). */
  routerAddress: string
  /** How the public address compares with the router's report (see `NatRelation`). */
  relation: NatRelation
  /** One sentence on `relation`, for people. */
  explanation: string
  /** The NAT's mapping behaviour (null: could not tell; see `notes`). */
  mapping: NatDependence | null
  /** The NAT's filtering behaviour (null: could not tell; see `notes`). */
  filtering: NatDependence | null
  /** Each server asked, in order, with what it said or why it failed. */
  servers: StunServerView[]
  /** Why something could not be told, and other remarks. */
  notes: string[]
}

/** How the STUN options are checked: 1..4 non-empty strings. */
export function checkServers(stun: unknown): string | null {
  try {
    if (!Array.isArray(stun) || stun.length === 0) return 'stun must name at least one STUN server (host[:port])'
    if (stun.length > 4) return 'stun names more than 4 servers'
    if (!stun.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 255))
      return 'every stun server must be a host[:port] string'
    return null
  } catch {
    return 'stun could not be read (reading it threw)' // a Proxy with throwing traps
  }
}

/** Compares the public address with the router's report (see `NatRelation`). */
export function relate(publicAddress: string, routerAddress: string, noNat: boolean): { relation: NatRelation; explanation: string } {
  if (noNat)
    return { relation: 'no-nat', explanation: `the STUN server saw this machine's own address ${publicAddress}: no NAT on the way` }
  if (!publicAddress) return { relation: 'unknown', explanation: 'no STUN server answered, so the address seen from outside is not known' }
  if (!routerAddress)
    return { relation: 'unknown', explanation: `seen from outside as ${publicAddress}; the router did not report its external address` }
  if (publicAddress === routerAddress) {
    return {
      relation: 'same',
      explanation: `the router's external address ${routerAddress} is the one seen from outside: no NAT beyond the router`,
    }
  }
  const kind = classifyAddress(routerAddress)
  if (kind === 'cgnat') {
    return {
      relation: 'cgnat',
      explanation: `the router's external address ${routerAddress} is carrier-grade NAT space (100.64.0.0/10); from outside this machine is ${publicAddress}: the ISP's NAT sits beyond the router`,
    }
  }
  if (kind === 'private') {
    return {
      relation: 'double-nat',
      explanation: `the router's external address ${routerAddress} is private; from outside this machine is ${publicAddress}: another router or the ISP translates again (double NAT)`,
    }
  }
  return {
    relation: 'upstream-nat',
    explanation: `the router reports ${routerAddress}, but from outside this machine is ${publicAddress}: a NAT beyond the router that it does not know about (the ISP's carrier-grade NAT, or a second router)`,
  }
}

/** Asks the STUN servers (in order, until one tells the NAT's behaviour) and compares. */
export async function natView(stun: readonly string[], routerAddress: string, budgetMs?: number): Promise<NatView> {
  const servers = await native.stunBehaviour([...stun], budgetMs)
  const answered = servers.find((s) => !s.failure && s.mappedAddress)
  const behaviour = servers.find((s) => s.mapping && s.filtering) ?? answered
  const publicAddress = answered?.mappedAddress ?? ''
  const { relation, explanation } = relate(publicAddress, routerAddress, Boolean(answered?.noNat))
  const notes = servers.flatMap((s) => (s.failure ? [`${s.server}: ${s.failure.description}`] : s.notes.map((n) => `${s.server}: ${n}`)))
  return {
    publicAddress,
    server: answered?.server ?? '',
    serverAddress: answered?.serverAddress ?? '',
    routerAddress,
    relation,
    explanation,
    mapping: (behaviour?.mapping as NatDependence | undefined) ?? null,
    filtering: (behaviour?.filtering as NatDependence | undefined) ?? null,
    servers,
    notes,
  }
}
