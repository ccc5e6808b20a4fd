// One zoo device as stored in __test__/zoo/devices/<id>/: device.json plus its captured and
// modelled files. Read by the replay device and by the tests that drive it.
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../lab/lab.ts'

export const DEVICES_DIR = path.join(repoRoot(), '__test__/zoo/devices')

export interface HttpFile {
  /** Path of the description as the search reply's LOCATION names it. */
  path: string
  /** A whole captured HTTP response (`.http`) or a body (`.xml`, head from the shape). */
  file?: string
  /** A body stored in parts (captured head + modelled tail), served concatenated. */
  files?: string[]
  /** Text replaced in the body before serving (where a source edited the capture). */
  replace?: Record<string, string>
}

export interface DeviceSpec {
  id: string
  dir: string
  name: string
  vendor: string
  model: string
  firmware: string
  /** full: description captured whole; partial-description; ssdp-only: only the search reply;
   *  soap-capture: only SOAP replies (everything else modelled); report: made from a
   *  `doctor --report` file (from-report.ts). */
  replay: 'full' | 'partial-description' | 'ssdp-only' | 'soap-capture' | 'report'
  shape: string
  location: string
  files: Record<string, string>
  http: HttpFile[]
  captured: string
  modelled: string
  expect: { serviceType: string; controlPath: string; controlPort?: number; friendlyName?: string; source: string }
  /** Per connection service in document order: status and external address to report. */
  connections?: { status?: string; externalIp?: string }[]
  tr064?: boolean
  ssdpSourcePort?: 'ephemeral'
  requireSoapActionCase?: string[]
  refuseEmptyDescription?: boolean
  missingEntry?: { code: number; description: string }
  chunked?: boolean
  bom?: boolean
  latin1?: boolean
  /** Action -> a recorded refusal (a whole HTTP reply file), served for every request of it. */
  faults?: Record<string, string>
  /** `<path>#<action>` of a service the replay does not model (an IPv6 firewall) -> the
   *  recorded reply file, served as it is. */
  recorded?: Record<string, string>
  /** NAT-PMP and PCP answers a report recorded (from-report.ts), replayed on UDP 5351. */
  pxp?: PxpSpec
}

/** A report's NAT-PMP/PCP side, replayed by pxp-replay.ts. */
export interface PxpSpec {
  /** The recorded exchanges (`pxp.json`, pxp-replay.ts's `PxpRecording`). */
  file: string
  /** Where the report's requests went (relocated as the device is). */
  address: string
  /** The report's default route led there: the client's does too while it is replayed. */
  defaultRoute: boolean
}

/** A report's router that answered only NAT-PMP/PCP (`doctor --protocol pcp|pmp` finds no UPnP
 *  gateway): its answers and nothing else. Replayed, never a zoo device (zoo.test.ts drives UPnP). */
export interface PxpOnlySpec {
  id: string
  dir: string
  name: string
  replay: 'report'
  files: Record<string, string>
  captured: string
  pxp: PxpSpec
}

/** Anything the zoo's replay can play: a UPnP device (maybe with NAT-PMP/PCP) or a NAT-PMP/PCP one. */
export type ReplaySpec = DeviceSpec | PxpOnlySpec

/** What a replay's device.json holds (a spec without its id and folder). */
export type SpecFile<T extends ReplaySpec = ReplaySpec> = T extends unknown ? Omit<T, 'id' | 'dir'> : never

export const speaksUpnp = (s: ReplaySpec): s is DeviceSpec => 'location' in s

/** The address a replay takes: its LOCATION's host, or where its NAT-PMP/PCP requests went. */
export const replayAddress = (s: ReplaySpec): string => (speaksUpnp(s) ? locationParts(s).address : s.pxp.address)

/** A replay by its zoo id, or the one in a directory given by its path. */
export function loadReplay(id: string): ReplaySpec {
  const dir = path.resolve(DEVICES_DIR, id)
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8')) as SpecFile
  return { ...json, id, dir }
}

/** A UPnP device of the zoo by its id, or the device in a directory given by its path. */
export function loadDevice(id: string): DeviceSpec {
  const spec = loadReplay(id)
  if (!speaksUpnp(spec)) throw new Error(`${id} is no UPnP device (NAT-PMP/PCP only)`)
  return spec
}

export function allDevices(): DeviceSpec[] {
  return fs
    .readdirSync(DEVICES_DIR)
    .filter((d) => fs.existsSync(path.join(DEVICES_DIR, d, 'device.json')))
    .sort()
    .map(loadDevice)
}

/** The search reply file: captured (`ssdp.txt`) or modelled (`ssdp.modelled.txt`). */
export function ssdpFile(d: DeviceSpec): string {
  const captured = path.join(d.dir, 'ssdp.txt')
  return fs.existsSync(captured) ? captured : path.join(d.dir, 'ssdp.modelled.txt')
}

/** Host, port and path of the LOCATION. */
export function locationParts(d: DeviceSpec): { address: string; port: number; path: string } {
  const u = new URL(d.location)
  return { address: u.hostname, port: Number(u.port || 80), path: u.pathname + u.search }
}
