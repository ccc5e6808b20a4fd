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
