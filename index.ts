/**
 * upnp-native: Godot's `UPNP` and `UPNPDevice` for Node.js and Electron.
 *
 * Same names (camelCase), same defaults, same `UPNPResult` numbers and the same order of
 * argument checks as Godot 4; every network call is a Promise whose work runs in the Rust
 * addon on tokio, so the JS thread never waits on the network. Beside them, `PortMapper`
 * keeps mappings alive over PCP, NAT-PMP or UPnP, and `probe()` tells which the router speaks.
 *
 * @module upnp-native
 */
// This file only gathers the public surface; the library lives in `lib/` (see
// docs/contributing/architecture.md), and nothing there imports this file.
export { classifyAddress } from './lib/address.ts'
export type { AddressKind } from './lib/address.ts'
export { REQUEST_TIMEOUT_MS as DEFAULT_REQUEST_TIMEOUT } from './lib/defaults.ts'
export { IGDStatus, UPNPError, UPNPResult } from './lib/errors.ts'
export type { UPNPErrorInfo } from './lib/errors.ts'
export { codeText, explainFailure, NATPMP_CODES, PCP_CODES, UPNP_CODES, VIA_NAME } from './lib/explain.ts'
export type { CodeInfo, Explanation, FailureInfo } from './lib/explain.ts'
export { explainPinholeFailure, PINHOLE_CODES } from './lib/explain-pinholes.ts'
export { UPNPDevice } from './lib/godot/device.ts'
export type { UPNPConnection } from './lib/godot/device.ts'
export { UPNP } from './lib/godot/upnp.ts'
export type { DiscoverOptions, UPNPOptions } from './lib/godot/upnp.ts'
export { channelName, LOG_SECTIONS } from './lib/log/records.ts'
export type { Logger, LogRecord, LogSection } from './lib/log/records.ts'
export type { DeviceFromUrlOptions } from './lib/godot/from-url.ts'
export { PortMapper } from './lib/portmapper/mapper.ts'
export type { PortMapperEvents } from './lib/portmapper/events.ts'
export { Mapping } from './lib/portmapper/mapping.ts'
export type { MapRequest, PortMapperOptions } from './lib/portmapper/options.ts'
export type { PruneOptions, PruneReport } from './lib/portmapper/prune.ts'
export { defaultGateway, invalidateProbe, PREFERENCE, probe } from './lib/probe.ts'
export type { DefaultGateway, ProbeOptions, ProbeReport, ProtocolReport } from './lib/probe.ts'
export { checkNat } from './lib/reachability/check-nat.ts'
export type { CheckNatOptions } from './lib/reachability/check-nat.ts'
export { checkReachability, CHECK_DESCRIPTION } from './lib/reachability/check.ts'
export type { ReachabilityOptions, ReachabilityReport, ReachabilityVerdict } from './lib/reachability/check.ts'
export type { InboundCheck, NatDependence, NatRelation, NatView, StunFailure, StunServerView } from './lib/reachability/nat-view.ts'
export type { UnreachableEvidence, VerifyReachable } from './lib/portmapper/reachability.ts'
export type { CallOptions, Family, FirewallStatus, PortMappingEntry, Protocol, Via } from './lib/types.ts'
