/**
 * The `--json` documents (schema 1, docs/cli.md, "JSON output"): the envelope every document has,
 * and the shapes of gateways, mappings and NAT-PMP/PCP reports. Fields are only added within a
 * schema; a change that breaks readers bumps it.
 */
import { explainFailure, type Explanation } from '../lib/explain.ts'
import type { UPNPDevice } from '../lib/godot/device.ts'
import type { ProbeReport, ProtocolReport } from '../lib/probe.ts'
import type { Protocol, Via } from '../lib/types.ts'
import { type CliError, EXIT, type ExitCode, type Library } from './command.ts'
import { hostOf, igdStatusName, igdVersion, type NatKind, natKind, statusName } from './format.ts'

/** Version of the `--json` documents; bumped only for an incompatible change. */
export const JSON_SCHEMA = 1

export interface JsonGateway {
  protocol: 'upnp'
  /** Device type, e.g. "IGD:2". */
  version: string
  /** Host of the description URL. */
  address: string
  descriptionUrl: string
  controlUrl: string
  /** Connection service, e.g. "urn:schemas-upnp-org:service:WANIPConnection:2". */
  serviceType: string
  friendlyName: string
  manufacturer: string
  modelName: string
  server: string
  /** `IGDStatus` name: "OK", "DISCONNECTED", ... */
  status: string
  /** Usable for mappings (status OK). */
  usable: boolean
  /** This machine's address as the gateway sees it (mappings point here). */
  localAddress: string
  /** External address reported at discovery ("" if unknown). */
  externalAddress: string
  nat: NatKind
  /** The gateway this command uses. */
  selected: boolean
  /** Every WAN connection service of the gateway in description order (routers with several
   *  WAN links list one each); `controlUrl` and `serviceType` above name the one in use. */
  connections: JsonConnection[]
  error?: Explanation
}

export interface JsonConnection {
  serviceType: string
  controlUrl: string
  /** `IGDStatus` name; "UNKNOWN_ERROR" for one not asked because an earlier one is used. */
  status: string
  /** What the router said in GetStatusInfo ("Connected", "Disconnected", ...; "" if not asked). */
  connectionStatus: string
  externalAddress: string
  /** The connection the gateway's mappings go to. */
  used: boolean
}

export interface JsonMapping {
  /** Which protocol holds it: "upnp", "natpmp" or "pcp". */
  via: Via
  protocol: Protocol
  externalAddress: string
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  /** Seconds granted by the router (0 = permanent / unknown). */
  lease: number
  requestedLease: number
  /** 'ipv6': a pinhole (externalAddress is this machine's own IPv6 address); absent: IPv4. */
  family?: 'ipv6'
  /** UPnP pinhole: the router's id for it. */
  pinholeId?: number
}

export interface JsonPxpProtocol {
  available: boolean
  /** The router asked (the default route's gateway unless --gateway). */
  router: string
  externalAddress: string
  latencyMs: number
  /** The answer's meaning: "SUCCESS", "TIMEOUT", "REFUSED", "UNSUPP_VERSION", ... */
  meaning: string
  /** Seconds since the router's NAT-PMP/PCP service started. */
  epoch?: number
}

export function envelope(command: string | null, exitCode: ExitCode, rest: object): object {
  return { schema: JSON_SCHEMA, command, ok: exitCode === EXIT.OK, exitCode, ...rest }
}

export function errorJson(error: CliError): object {
  return {
    code: error.code,
    message: error.message,
    ...(error.fix ? { fix: error.fix } : {}),
    ...(error.failure ? { failure: error.failure } : {}),
  }
}

export function gatewayJson(lib: Library, device: UPNPDevice, selected: UPNPDevice | null): JsonGateway {
  return {
    protocol: 'upnp',
    version: igdVersion(device),
    address: hostOf(device.descriptionUrl),
    descriptionUrl: device.descriptionUrl,
    controlUrl: device.igdControlUrl,
    serviceType: device.igdServiceType,
    friendlyName: device.friendlyName,
    manufacturer: device.manufacturer,
    modelName: device.modelName,
    server: device.server,
    status: statusName(device),
    usable: device.isValidGateway(),
    localAddress: device.igdOurAddr,
    externalAddress: device.externalAddress,
    nat: natKind(lib, device.externalAddress),
    selected: device === selected,
    connections: device.connections.map((c) => ({
      serviceType: c.serviceType,
      controlUrl: c.controlUrl,
      status: igdStatusName(c.igdStatus),
      connectionStatus: c.connectionStatus,
      externalAddress: c.externalAddress,
      used: c.controlUrl === device.igdControlUrl && c.serviceType === device.igdServiceType,
    })),
    ...(device.lastError && !device.isValidGateway() ? { error: explainFailure(device.lastError) } : {}),
  }
}

export function mappingJson(
  m: { via: Via; protocol: Protocol; externalPort: number; internalPort: number; description: string },
  externalAddress: string,
  internalClient: string,
  lease: number,
  requestedLease: number,
): JsonMapping {
  return {
    via: m.via,
    protocol: m.protocol,
    externalAddress,
    externalPort: m.externalPort,
    internalClient,
    internalPort: m.internalPort,
    description: m.description,
    lease,
    requestedLease,
  }
}

function pxpJson(report: ProtocolReport, router: string): JsonPxpProtocol {
  return {
    available: report.available,
    router,
    externalAddress: report.externalAddress,
    latencyMs: Math.round(report.latencyMs * 10) / 10,
    meaning: report.meaning,
    ...(report.epoch != null ? { epoch: report.epoch } : {}),
  }
}

export function protocolsJson(probed: ProbeReport | null): { natpmp: JsonPxpProtocol; pcp: JsonPxpProtocol } | null {
  return probed ? { natpmp: pxpJson(probed.natpmp, probed.router), pcp: pxpJson(probed.pcp, probed.router) } : null
}
