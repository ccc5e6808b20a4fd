// Scenario format of the fake UPnP gateway (fake-gateway.ts) and of its control API.
// Shared by the gateway and by the test helpers in __test__/lab/lab.ts.

export type DeviceKind = 'igd-v1' | 'igd-v2' | 'igd-ppp' | 'non-igd' | 'igd-no-control'

export type SoapActionName =
  | 'GetStatusInfo'
  | 'GetExternalIPAddress'
  | 'AddPortMapping'
  | 'DeletePortMapping'
  | 'GetSpecificPortMappingEntry'
  | 'GetGenericPortMappingEntry'
  | 'GetFirewallStatus'
  | 'AddPinhole'
  | 'UpdatePinhole'
  | 'DeletePinhole'
  | 'GetPinholePackets'
  | 'CheckPinholeWorking'
  | 'GetOutboundPinholeTimeout'

export interface SoapOverride {
  /** Answer with a real UPnP SOAP fault (HTTP 500, s:Fault, UPnPError). */
  fault?: { code: number; description: string }
  /** HTTP status to answer with (with `body`, or an empty body). */
  status?: number
  /** Raw response body (e.g. malformed XML, or '' for an empty 200). */
  body?: string
  /** Accept the request and never answer (the connection stays open until reset/scenario). */
  neverAnswer?: boolean
  /** Wait this long before answering. */
  delayMs?: number
}

export interface SsdpBehaviour {
  /** Answer M-SEARCH at all (default true). */
  respond?: boolean
  /** Answer every M-SEARCH (or every one in respondTo) once, with this ST. Default: echo the
   *  searched ST when this device "is" it, a lower version included, like real devices
   *  (ssdp:all gets one reply per type); skip otherwise. */
  st?: string
  /** Delay before the reply is sent. */
  delayMs?: number
  /** Override LOCATION (e.g. point to a wrong host or path). */
  location?: string
  /** Override USN. */
  usn?: string
  /** Exact STs this device answers (replaces its own type list; 'ssdp:all' allowed). */
  respondTo?: string[]
}

export interface DescriptionBehaviour {
  /** HTTP status for the description (default 200). */
  status?: number
  /** Raw description body (overrides `kind`). */
  body?: string
  /** 200 with an empty body. */
  empty?: boolean
  /** What the generated description describes (default 'igd-v1'). */
  kind?: DeviceKind
  /** Adds <URLBase> to the description. */
  urlBase?: string
  /** Override the controlURL of the connection service (relative or absolute). */
  controlURL?: string
  delayMs?: number
  /** Serve a body of this many bytes (valid XML start, then filler); -1 = endless. */
  hugeBytes?: number
}

export interface Device {
  id: string
  /** '192.168.77.20' or '192.168.77.21' in the lab. */
  ip: string
  /** HTTP port for description, SCPDs and control. */
  port: number
  /** IPv6 address to also serve on (default: fd77::<last octet of ip> when present). */
  ip6?: string
  ssdp?: SsdpBehaviour
  description?: DescriptionBehaviour
  soap?: Partial<Record<SoapActionName | string, SoapOverride>>
  /** GetStatusInfo NewConnectionStatus (default 'Connected'). */
  connectionStatus?: string
  /** GetExternalIPAddress (default '11.22.33.45'; e.g. '10.0.0.2' for double NAT). */
  externalIp?: string
  /** Adds a WANIPv6FirewallControl:1 service (IPv6 pinholes) beside the connection service,
   *  with what its GetFirewallStatus says (default: both true). Its other actions succeed
   *  without checks (AddPinhole gives ids 1, 2, ...); faults come from `soap`. */
  firewall?: { enabled?: boolean; inboundPinholeAllowed?: boolean }
  /** Accept a SOAPAction whose service type differs from the service's (default false:
   *  strict routers answer 401 Invalid Action). */
  lenientServiceType?: boolean
}

export interface Scenario {
  devices: Device[]
}

export interface ScenarioResult {
  ok: boolean
  error?: string
  devices: Array<{ id: string; location: string; location6?: string }>
}

/** One request the gateway received (HTTP to a device, or an SSDP M-SEARCH). */
export interface FakeRequest {
  /** ms since the scenario was set */
  t: number
  kind: 'http' | 'ssdp'
  /** device id for HTTP; null for SSDP (see answeredBy) */
  device: string | null
  method: string
  path: string
  /** lower-case header names */
  headers: Record<string, string>
  body: string
  /** SOAP action name (from SOAPAction) for control requests */
  action?: string
  from: string
  /** SSDP only: ids of the devices that (will) answer it */
  answeredBy?: string[]
}

export interface FakeMapping {
  protocol: 'UDP' | 'TCP'
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  leaseDuration: number
  enabled: boolean
  remoteHost: string
}
