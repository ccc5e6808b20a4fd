// What a scenario is (the lab it needs and the calls it makes), plus the small builders the
// scenario files use so that each reads like the GDScript it stands for.
import type { Device } from '../lab/lab.ts'
import { LAB } from '../lab/lab.ts'
import type { Environment } from './environment.ts'
import type { DeviceField, Step } from './program.ts'

export interface Scenario {
  /** Stable name: deviations.ts and docs/godot-differences.md refer to it. */
  id: string
  title: string
  env: Environment
  steps: Step[]
}

type Arg = number | string

export const discover = (...args: Arg[]): Step => ({ op: 'discover', args })
export const add = (...args: Arg[]): Step => ({ op: 'add', args })
export const del = (...args: Arg[]): Step => ({ op: 'delete', args })
export const devices: Step = { op: 'devices' }
export const count: Step = { op: 'count' }
export const gateway: Step = { op: 'gateway' }
export const external: Step = { op: 'external' }
export const set = (prop: 'discover_multicast_if' | 'discover_local_port' | 'discover_ipv6', value: string | number | boolean): Step => ({
  op: 'set',
  prop,
  value,
})

/** `name = UPNPDevice.new()` with the given properties, as a game builds a known gateway. */
export const newDevice = (name: string, fields: Partial<Record<DeviceField, string | number>> = {}): Step => ({
  op: 'new_device',
  name,
  fields,
})

/** A hand-built, valid gateway device that talks to `controlUrl`. */
export const knownGateway = (name: string, controlUrl: string, serviceType: string, ourAddr: string = LAB.client): Step =>
  newDevice(name, { igd_control_url: controlUrl, igd_service_type: serviceType, igd_our_addr: ourAddr, igd_status: 0 })

export const onDevice = {
  add: (device: string, ...args: Arg[]): Step => ({ op: 'dev_add', device, args }),
  del: (device: string, ...args: Arg[]): Step => ({ op: 'dev_delete', device, args }),
  external: (device: string): Step => ({ op: 'dev_external', device }),
  valid: (device: string): Step => ({ op: 'dev_valid', device }),
}

export const SERVICE = {
  ip1: 'urn:schemas-upnp-org:service:WANIPConnection:1',
  ip2: 'urn:schemas-upnp-org:service:WANIPConnection:2',
} as const

/** A fake IGD (v1 unless `more` says otherwise) on 192.168.77.20 (or `more.ip`). */
export const fakeIgd = (id: string, port: number, more: Partial<Device> = {}): Device => ({ id, ip: LAB.fakeA, port, ...more })

/** A fake device that never answers a search: reachable only as a hand-built gateway. */
export const silentFake = (id: string, port: number, more: Partial<Device> = {}): Device =>
  fakeIgd(id, port, { ssdp: { respond: false }, ...more })

/** The control URL of a fake device on 192.168.77.20. */
export const fakeControl = (port: number): string => `http://${LAB.fakeA}:${port}/ctl/IPConn`
