// The program both drivers run: Godot's UPNP calls as data, so that one scenario is executed
// identically by Godot (driver.gd) and by upnp-native (native-driver.ts). Names are Godot's
// (snake_case); the native driver maps them to the camelCase API.

/** One call. `args` are passed positionally, as a GDScript game would pass them. */
export type Step =
  | { op: 'set'; prop: 'discover_multicast_if' | 'discover_local_port' | 'discover_ipv6'; value: string | number | boolean }
  | { op: 'discover'; args?: Array<number | string> }
  | { op: 'count' | 'devices' | 'gateway' | 'external' | 'clear_devices' }
  | { op: 'add'; args: Array<number | string> }
  | { op: 'delete'; args: Array<number | string> }
  | { op: 'new_device'; name: string; fields?: Partial<Record<DeviceField, string | number>> }
  | { op: 'add_device'; device: string }
  | { op: 'get_device' | 'remove_device'; index: number }
  | { op: 'dev_add' | 'dev_delete'; device?: string; index?: number; args: Array<number | string> }
  | { op: 'dev_external' | 'dev_valid'; device?: string; index?: number }

export type DeviceField = 'description_url' | 'service_type' | 'igd_control_url' | 'igd_service_type' | 'igd_our_addr' | 'igd_status'

export const DEVICE_FIELDS: readonly DeviceField[] = [
  'description_url',
  'service_type',
  'igd_control_url',
  'igd_service_type',
  'igd_our_addr',
  'igd_status',
]

/** A device as both drivers report it. */
export type DeviceView = Record<DeviceField, string | number>

/** What one step returned and how long it took (ms, measured inside the driver). */
export interface StepOutcome {
  value: unknown
  ms: number
}

/** The label of a step in the tables: the call as a game would write it. */
export function stepLabel(step: Step): string {
  const args = 'args' in step && step.args ? step.args.map((a) => JSON.stringify(a)).join(', ') : ''
  const on =
    'device' in step && step.device ? `${step.device}.` : 'index' in step && step.op.startsWith('dev_') ? `device[${step.index}].` : ''
  switch (step.op) {
    case 'set':
      return `${step.prop} = ${JSON.stringify(step.value)}`
    case 'discover':
      return `discover(${args})`
    case 'count':
      return 'get_device_count()'
    case 'devices':
      return 'devices'
    case 'gateway':
      return 'get_gateway()'
    case 'external':
      return 'query_external_address()'
    case 'clear_devices':
      return 'clear_devices()'
    case 'add':
      return `add_port_mapping(${args})`
    case 'delete':
      return `delete_port_mapping(${args})`
    case 'new_device':
      return `${step.name} = UPNPDevice.new()`
    case 'add_device':
      return `add_device(${step.device})`
    case 'get_device':
      return `get_device(${step.index})`
    case 'remove_device':
      return `remove_device(${step.index})`
    case 'dev_add':
      return `${on}add_port_mapping(${args})`
    case 'dev_delete':
      return `${on}delete_port_mapping(${args})`
    case 'dev_external':
      return `${on}query_external_address()`
    case 'dev_valid':
      return `${on}is_valid_gateway()`
  }
}
