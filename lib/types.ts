/** Leaf types shared by the whole library (imports nothing). */

/** A mapping's transport protocol, spelled as UPnP and Godot spell it. */
export type Protocol = 'UDP' | 'TCP'

/** The port-mapping protocols: PCP (RFC 6887), NAT-PMP (RFC 6886) and UPnP IGD. */
export type Via = 'pcp' | 'natpmp' | 'upnp'

/** One row of a router's port-mapping table. */
export interface PortMappingEntry {
  /** The peer the mapping is limited to ("" = anyone). */
  remoteHost: string
  /** The port on the router's external address. */
  externalPort: number
  /** 'UDP' or 'TCP'. */
  protocol: Protocol
  /** The port on the internal client it forwards to. */
  internalPort: number
  /** The LAN address it forwards to. */
  internalClient: string
  /** Whether the router has it switched on. */
  enabled: boolean
  /** The description the router holds (network text: sanitise before showing it). */
  description: string
  /** Seconds left on the lease as the router reports it; 0 = permanent. */
  leaseDuration: number
}

/** The address family of a PortMapper mapping: an IPv4 port mapping (NAT) or an IPv6 pinhole. */
export type Family = 'ipv4' | 'ipv6'

/** What a router's IPv6 firewall says (UPnP `GetFirewallStatus`). */
export interface FirewallStatus {
  /** The router filters inbound IPv6 at all (when false, every port is already reachable). */
  firewallEnabled: boolean
  /** Programs may open pinholes (`addPinhole`). */
  inboundPinholeAllowed: boolean
}

/** The trailing options argument of a call that goes to the network. */
export interface CallOptions {
  /** Cancels the call: it rejects at once with `signal.reason`, and an add or delete the
   *  router may already have carried out is finished as a timed-out one is (an add undone). */
  signal?: AbortSignal
}
