/** Leaf types shared by the whole library (imports nothing). */

export type Protocol = 'UDP' | 'TCP'

/** The port-mapping protocols: PCP (RFC 6887), NAT-PMP (RFC 6886) and UPnP IGD. */
export type Via = 'pcp' | 'natpmp' | 'upnp'

/** One row of a router's port-mapping table. */
export interface PortMappingEntry {
  remoteHost: string
  externalPort: number
  protocol: Protocol
  internalPort: number
  internalClient: string
  enabled: boolean
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
