/**
 * The ways PortMapper can hold a mapping, behind one small interface, one file each: UPnP IGD
 * (SOAP, via the Godot classes, `upnp.ts`), PCP (RFC 6887) and NAT-PMP (RFC 6886) via the
 * addon (`pxp.ts`, one base), and for IPv6 pinholes UPnP's firewall service
 * (`upnp-pinhole.ts`) or PCP (`pcp-pinhole.ts`). Each knows how its protocol creates, keeps
 * and deletes a mapping; the address families (`../ipv4.ts`, `../ipv6.ts`) choose and make
 * them; PortMapper owns the policy (scheduling, events, journal, exit cleanup).
 */
import type { Family, Protocol, Via } from '../../types.ts'

export interface MappingParams {
  internalPort: number
  protocol: Protocol
  description: string
  /** Requested lease in seconds; 0 = permanent. */
  lease: number
}

/** What the router granted (and what a backend needs to keep it). */
export interface Granted {
  externalPort: number
  externalAddress: string
  /** Seconds; 0 = permanent. */
  lease: number
  /** The address the router forwards to. */
  internalClient: string
  /** PCP: the mapping's nonce (renew and delete must repeat it). */
  nonce?: string
  /** NAT-PMP / PCP: reboots of the router seen by this process when it was granted. */
  resets?: number
  /** NAT-PMP / PCP: the server that granted it (its announcements concern the mapping). */
  server?: string
  /** UPnP IPv6 pinhole: the router's id for it. */
  pinholeId?: number
}

export type Maintained =
  | { kind: 'ok'; granted: Granted; renewed: boolean }
  /** The router no longer had it. `granted` is set when the check itself re-created it. */
  | { kind: 'lost'; reason: string; granted?: Granted }

export interface Backend {
  readonly via: Via
  /** 'ipv6': it opens pinholes (no address translation); absent: IPv4 mappings. */
  readonly family?: Family
  /** NAT-PMP / PCP: the router it asks, when not the mapper's `router` option. */
  readonly router?: string
  /** Creates the mapping, asking for `wanted` as the external port. */
  add(p: MappingParams, wanted: number, signal?: AbortSignal): Promise<Granted>
  /** Checks (and, when due or when the protocol checks by renewing, renews) the mapping. */
  maintain(p: MappingParams, g: Granted, renewDue: boolean): Promise<Maintained>
  /** Deletes it; already gone counts as deleted. */
  remove(p: MappingParams, g: Granted): Promise<void>
}

/** Runs one request at a time against a router (PortMapper passes its queue). */
export type Serial = <T>(work: () => Promise<T>) => Promise<T>
