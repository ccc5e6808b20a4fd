// Runs a program (program.ts) through upnp-native's Godot surface, step by step, in this
// process: the counterpart of driver.gd. Values are reported in Godot's shapes (device
// fields by Godot's names, the gateway as a list index, a missing device as null).
import { UPNP, UPNPDevice } from '../../index.ts'
import type { DeviceField, DeviceView, Step, StepOutcome } from './program.ts'

const PROPS = {
  discover_multicast_if: 'discoverMulticastIf',
  discover_local_port: 'discoverLocalPort',
  discover_ipv6: 'discoverIpv6',
} as const

const FIELDS: Record<DeviceField, keyof UPNPDevice> = {
  description_url: 'descriptionUrl',
  service_type: 'serviceType',
  igd_control_url: 'igdControlUrl',
  igd_service_type: 'igdServiceType',
  igd_our_addr: 'igdOurAddr',
  igd_status: 'igdStatus',
}

function describe(device: UPNPDevice | null): DeviceView | null {
  if (!device) return null
  const view = {} as DeviceView
  for (const [godot, ours] of Object.entries(FIELDS) as Array<[DeviceField, keyof UPNPDevice]>) {
    view[godot] = device[ours] as string | number
  }
  return view
}

// Godot prints an engine error for an ignored device-list call; ours is a process warning.
// Neither is compared, so keep them off the table's output.
process.removeAllListeners('warning')
process.on('warning', () => undefined)

export async function runNative(steps: Step[]): Promise<StepOutcome[]> {
  const upnp = new UPNP()
  const named = new Map<string, UPNPDevice>()
  const target = (s: { device?: string; index?: number }): UPNPDevice => {
    const device = s.device !== undefined ? named.get(s.device) : upnp.getDevice(s.index ?? -1)
    if (!device) throw new Error(`program error: no device ${s.device ?? s.index}`)
    return device
  }
  // Positional arguments, exactly as given: the API's own defaults fill what is left out.
  const call = <T>(fn: (...a: never[]) => T, args: unknown[] = []): T => fn(...(args as never[]))

  const run = async (step: Step): Promise<unknown> => {
    switch (step.op) {
      case 'set':
        ;(upnp as unknown as Record<string, unknown>)[PROPS[step.prop]] = step.value
        return (upnp as unknown as Record<string, unknown>)[PROPS[step.prop]]
      case 'discover':
        return call(upnp.discover.bind(upnp), step.args)
      case 'count':
        return upnp.getDeviceCount()
      case 'devices':
        return Array.from({ length: upnp.getDeviceCount() }, (_, i) => describe(upnp.getDevice(i)))
      case 'gateway': {
        const gateway = upnp.getGateway()
        for (let i = 0; i < upnp.getDeviceCount(); i++) if (upnp.getDevice(i) === gateway) return i
        return -1
      }
      case 'external':
        return upnp.queryExternalAddress()
      case 'clear_devices':
        upnp.clearDevices()
        return upnp.getDeviceCount()
      case 'add':
        return call(upnp.addPortMapping.bind(upnp), step.args)
      case 'delete':
        return call(upnp.deletePortMapping.bind(upnp), step.args)
      case 'new_device': {
        const device = new UPNPDevice()
        for (const [godot, value] of Object.entries(step.fields ?? {}) as Array<[DeviceField, string | number]>) {
          ;(device as unknown as Record<string, unknown>)[FIELDS[godot]] = value
        }
        named.set(step.name, device)
        return describe(device)
      }
      case 'add_device':
        upnp.addDevice(named.get(step.device))
        return upnp.getDeviceCount()
      case 'get_device':
        return describe(upnp.getDevice(step.index))
      case 'remove_device':
        upnp.removeDevice(step.index)
        return upnp.getDeviceCount()
      case 'dev_add': {
        const device = target(step)
        return call(device.addPortMapping.bind(device), step.args)
      }
      case 'dev_delete': {
        const device = target(step)
        return call(device.deletePortMapping.bind(device), step.args)
      }
      case 'dev_external':
        return target(step).queryExternalAddress()
      case 'dev_valid':
        return target(step).isValidGateway()
    }
  }

  const outcomes: StepOutcome[] = []
  for (const step of steps) {
    const started = performance.now()
    const value = await run(step)
    outcomes.push({ value, ms: Math.round(performance.now() - started) })
  }
  return outcomes
}
