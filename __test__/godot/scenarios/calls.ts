// The calls after discovery: every SOAP fault code, HTTP failures, argument edge cases,
// descriptions, the device list, hand-built devices, and what miniupnpd itself refuses.
import type { Device } from '../../lab/lab.ts'
import { LAB } from '../../lab/lab.ts'
import type { SoapOverride } from '../../fake-gateway/types.ts'
import type { Step } from '../program.ts'
import {
  add,
  count,
  del,
  devices,
  discover,
  external,
  fakeControl,
  fakeIgd,
  gateway,
  knownGateway,
  newDevice,
  onDevice,
  type Scenario,
  SERVICE,
  silentFake,
} from '../scenario.ts'

const ACTIONS = ['AddPortMapping', 'DeletePortMapping', 'GetExternalIPAddress'] as const

/** One silent fake device per case, every action answered the same way, driven by hand-built
 *  devices: no discovery, so each case costs one round trip. */
function perDevice(cases: Array<[name: string, answer: SoapOverride]>, firstPort: number): { fake: Device[]; steps: Step[] } {
  const fake: Device[] = []
  const steps: Step[] = []
  cases.forEach(([name, answer], i) => {
    const port = firstPort + i
    fake.push(silentFake(name, port, { soap: Object.fromEntries(ACTIONS.map((a) => [a, answer])) }))
    steps.push(
      knownGateway(name, fakeControl(port), SERVICE.ip1),
      onDevice.add(name, 7777),
      onDevice.del(name, 7777),
      onDevice.external(name),
    )
  })
  return { fake, steps }
}

// Every code Godot maps, and a few it does not (they become UNKNOWN_ERROR).
const FAULT_CODES = [402, 403, 501, 606, 714, 715, 716, 718, 724, 725, 726, 727, 728, 729, 732, 733, 401, 500, 713, 730]
const faults = perDevice(
  FAULT_CODES.map((code) => [`f${code}`, { fault: { code, description: `Fault ${code}` } }]),
  6000,
)
const http = perDevice(
  [
    ['http500', { status: 500 }],
    ['http404', { status: 404 }],
    ['empty200', { status: 200, body: '' }],
    ['notsoap', { status: 200, body: '<html>router</html>' }],
    ['cutxml', { status: 200, body: '<?xml version="1.0"?><s:Envelope' }],
    ['slow2s', { delayMs: 2000 }],
    ['silent', { neverAnswer: true }],
  ],
  6100,
)

export const callScenarios: Scenario[] = [
  {
    id: 'fault-codes',
    title: `SOAP faults ${FAULT_CODES.join(', ')} on add, delete and query`,
    env: { router: 'down', fake: faults.fake },
    steps: faults.steps,
  },
  {
    id: 'http-failures',
    title: 'HTTP 500/404, empty 200, not SOAP, cut XML, 2 s late, never answers, connection refused',
    env: { router: 'down', fake: http.fake },
    steps: [
      ...http.steps,
      knownGateway('refused', fakeControl(6199), SERVICE.ip1),
      onDevice.add('refused', 7777),
      onDevice.del('refused', 7777),
      onDevice.external('refused'),
    ],
  },
  {
    id: 'fault-through-upnp',
    title: 'UPNP.add_port_mapping on a discovered gateway that answers 718',
    env: {
      router: 'down',
      fake: [fakeIgd('a', 5001, { soap: { AddPortMapping: { fault: { code: 718, description: 'ConflictInMappingEntry' } } } })],
    },
    steps: [discover(1000), add(7777), del(7777)],
  },
  {
    id: 'replace-mapping',
    title: 'mapping the same port twice (what the router is sent)',
    env: { router: 'down', fake: [fakeIgd('a', 5001)] },
    steps: [discover(1000), add(7400, 7401, 'first'), add(7400, 7402, 'second', 'UDP', 60)],
  },
  {
    id: 'add-arguments',
    title: 'add_port_mapping argument checks and edges (miniupnpd)',
    env: {},
    steps: [
      discover(1000),
      add(0),
      add(65536),
      add(-1),
      add(7001, -1),
      add(7001, 65536),
      add(7001, 0, '', 'udp'),
      add(7001, 0, '', ''),
      add(7001, 0, '', 'UDP', -1),
      add(7001, 0, '', 'UDP', 4294967295),
      add(7001, 0, '', 'UDP', 4294967296),
      add(7002, 0, 'max int', 'UDP', 2147483647),
      // A short lease, but not so short that it ends before the table is read on a loaded machine.
      add(7003, 65535, 'top', 'TCP', 60),
    ],
  },
  {
    // Godot's add_port_mapping takes C ints: 2^32 + 7011 arrives as 7011 and is mapped.
    id: 'ports-past-32-bits',
    title: 'ports at or above 2^32 (miniupnpd)',
    env: {},
    steps: [discover(1000), add(2 ** 32 + 7011, 0, 'external past 2^32'), add(7012, 2 ** 32 + 7013, 'internal past 2^32')],
  },
  {
    id: 'delete-arguments',
    title: 'delete_port_mapping argument checks, and deleting what is not mapped',
    env: {},
    steps: [discover(1000), del(0), del(65536), del(7001, 'tcp'), del(7001, ''), del(7004), del(7004, 'TCP')],
  },
  {
    id: 'descriptions',
    title: 'descriptions as the router stores them',
    env: {},
    steps: [
      discover(1000),
      add(7501, 0, ''),
      add(7502, 0, 'my_game_udp'),
      add(7503, 0, 'Tom & Jerry <3>'),
      add(7504, 0, 'café ✓'),
      add(7505, 0, 'x'.repeat(60)),
    ],
  },
  {
    id: 'router-refusals',
    title: "what miniupnpd refuses: another host's port, a port outside its rules; re-mapping our own",
    env: { held: [{ port: 7100, protocol: 'UDP' }] },
    steps: [discover(1000), add(7100), add(80), add(7101, 0, 'same'), add(7101, 0, 'again', 'UDP', 120), del(7100), del(7101)],
  },
  {
    id: 'device-list',
    title: 'get/add/remove/clear on the device list, get_gateway after each',
    env: {},
    steps: [
      discover(1000),
      { op: 'get_device', index: -1 },
      { op: 'get_device', index: 1 },
      { op: 'remove_device', index: 3 },
      count,
      newDevice('fresh'),
      { op: 'add_device', device: 'fresh' },
      gateway,
      { op: 'remove_device', index: 0 },
      gateway,
      add(7200),
      { op: 'clear_devices' },
      external,
      del(7200),
    ],
  },
  {
    id: 'fresh-device',
    title: 'a new UPNPDevice: not a gateway, empty control URL',
    env: {},
    steps: [
      newDevice('fresh'),
      onDevice.valid('fresh'),
      onDevice.add('fresh', 7300),
      onDevice.del('fresh', 7300),
      onDevice.external('fresh'),
    ],
  },
  {
    id: 'hand-built',
    title: 'hand-built gateways for miniupnpd: without igd_our_addr, with IGD v1 service type, for another host',
    env: {},
    steps: [
      newDevice('noaddr', { igd_control_url: LAB.routerControlUrl, igd_service_type: SERVICE.ip2, igd_status: 0 }),
      onDevice.add('noaddr', 7301),
      knownGateway('v1', LAB.routerControlUrl, SERVICE.ip1),
      onDevice.add('v1', 7302),
      onDevice.external('v1'),
      knownGateway('other', LAB.routerControlUrl, SERVICE.ip2, LAB.client2),
      onDevice.add('other', 7303),
      { op: 'add_device', device: 'v1' },
      devices,
      gateway,
      del(7302),
    ],
  },
]
