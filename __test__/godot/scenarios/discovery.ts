// Discovery: the real router (miniupnpd), filters, timeouts, parameters, the search
// socket's options, IPv6, and what happens when nothing (or something else) answers.
import { LAB } from '../../lab/lab.ts'
import { add, count, del, devices, discover, external, fakeIgd, gateway, type Scenario, set } from '../scenario.ts'

const routerDown = { router: 'down' } as const

export const discoveryScenarios: Scenario[] = [
  {
    id: 'router-defaults',
    title: "Godot's example against miniupnpd: discover() with its defaults, map, query, unmap",
    env: {},
    steps: [discover(), devices, gateway, external, add(7777), add(7778, 7779, 'game', 'TCP', 3600), del(7777), del(7777)],
  },
  {
    id: 'filter-empty',
    title: 'device_filter "" (every reply kept)',
    env: {},
    steps: [discover(1000, 2, ''), devices],
  },
  {
    id: 'filter-wanip',
    title: 'device_filter "WANIPConnection"',
    env: {},
    steps: [discover(1000, 2, 'WANIPConnection'), devices],
  },
  {
    id: 'filter-wanppp',
    title: 'device_filter "WANPPPConnection"',
    env: {},
    steps: [discover(1000, 2, 'WANPPPConnection'), devices],
  },
  {
    id: 'filter-igd2',
    title: 'device_filter naming IGD version 2',
    env: {},
    steps: [discover(1000, 2, 'urn:schemas-upnp-org:device:InternetGatewayDevice:2'), devices],
  },
  {
    id: 'filter-rootdevice',
    title: 'device_filter "rootdevice" (Godot searches upnp:rootdevice only when nothing else answers)',
    env: {},
    steps: [discover(1000, 2, 'rootdevice'), devices],
  },
  {
    id: 'filter-wandevice',
    title: 'device_filter "WANDevice" (not a search target: Godot searches ssdp:all)',
    env: {},
    steps: [discover(1000, 2, 'WANDevice'), devices, gateway],
  },
  {
    id: 'filter-many-replies',
    title: "a filter (not a gateway type) that several of one router's replies match",
    env: {},
    steps: [discover(1000, 2, 'schemas-upnp-org:service'), devices, gateway],
  },
  {
    id: 'location-elsewhere',
    title: 'a reply whose LOCATION names another host than the one that answered',
    env: {
      router: 'down',
      fake: [
        fakeIgd('liar', 5001, { ssdp: { location: `http://${LAB.fakeB}:5002/rootDesc.xml` } }),
        fakeIgd('b', 5002, { ip: LAB.fakeB, ssdp: { respond: false } }),
      ],
    },
    steps: [discover(1000), devices, gateway, add(7777)],
  },
  {
    id: 'filter-unknown',
    title: 'device_filter that no device has',
    env: {},
    steps: [discover(1000, 2, 'NoSuchDeviceType'), count],
  },
  {
    id: 'timeouts',
    title: 'timeouts 0, 500 and 1500 ms with the router answering',
    env: {},
    steps: [discover(0), count, discover(500), count, discover(1500), count],
  },
  {
    id: 'discover-parameters',
    title: 'timeout and ttl checks (a rejected call keeps the list), ttl 0 and 255',
    env: {},
    steps: [
      discover(1000),
      discover(-1),
      count,
      discover(1000, 256),
      discover(1000, -1),
      count,
      discover(1000, 0),
      count,
      discover(1000, 255),
      count,
    ],
  },
  {
    id: 'local-port',
    title: 'discover_local_port 1 (= 1900) and 45678',
    env: {},
    steps: [set('discover_local_port', 1), discover(1000), count, set('discover_local_port', 45678), discover(1000), count],
  },
  {
    id: 'multicast-if',
    title: 'discover_multicast_if by name and by address',
    env: {},
    steps: [set('discover_multicast_if', 'lan0'), discover(1000), count, set('discover_multicast_if', LAB.client), discover(1000), count],
  },
  {
    id: 'multicast-if-unknown',
    title: 'discover_multicast_if naming no interface',
    env: {},
    steps: [set('discover_multicast_if', 'nosuch0'), discover(1000), count],
  },
  {
    id: 'multicast-if-unknown-ipv6',
    title: 'discover_multicast_if naming no interface, over IPv6',
    env: {},
    steps: [set('discover_ipv6', true), set('discover_multicast_if', 'nosuch0'), discover(1000), count],
  },
  {
    id: 'multicast-if-foreign',
    title: 'discover_multicast_if an address this host does not have',
    env: {},
    steps: [set('discover_multicast_if', '10.1.2.3'), discover(1000), count],
  },
  {
    id: 'multicast-if-loopback',
    title: 'discover_multicast_if "lo": the search never reaches the router',
    env: {},
    steps: [set('discover_multicast_if', 'lo'), discover(1000), count],
  },
  {
    id: 'ipv6',
    title: 'discover_ipv6: miniupnpd over fd77::/64',
    env: {},
    steps: [set('discover_ipv6', true), discover(1000), devices, external, add(7777)],
  },
  {
    id: 'ipv6-long-address',
    title: 'discover_ipv6 from a 25-character address (fd77::1234:5678:9abc:def0)',
    env: { clientAddress6: 'fd77::1234:5678:9abc:def0' },
    steps: [set('discover_ipv6', true), discover(1000), devices],
  },
  {
    id: 'router-stopped',
    title: 'no router: miniupnpd stopped, nothing answers',
    env: routerDown,
    steps: [discover(1000), count, gateway, add(7777), external, del(7777)],
  },
  {
    id: 'upnp-off',
    title: 'miniupnpd with UPnP switched off (NAT-PMP/PCP only)',
    env: { router: 'no-upnp' },
    steps: [discover(1000), count, add(7777), external],
  },
  {
    id: 'non-igd-only',
    title: 'only a media server answers (no gateway on the LAN)',
    env: { ...routerDown, fake: [fakeIgd('tv', 5001, { description: { kind: 'non-igd' } })] },
    steps: [discover(1000), count, discover(1000, 2, ''), devices, gateway],
  },
  {
    id: 'two-gateways',
    title: 'miniupnpd and a fake IGD both answer',
    env: { fake: [fakeIgd('a', 5001)] },
    steps: [discover(1000), devices, gateway, add(7777), external],
  },
  {
    // The other order: miniupnpd (~50 ms) answers before the fake. Godot lists the last to
    // answer first, so here it maps on the fake; agreement in two-gateways is this order's luck.
    id: 'two-gateways-router-first',
    title: 'miniupnpd answers first, a fake IGD 300 ms later',
    env: { fake: [fakeIgd('a', 5001, { ssdp: { delayMs: 300 } })] },
    steps: [discover(1000), devices, gateway, add(7777), external],
  },
  {
    id: 'two-fakes',
    title: 'two fake IGDs answer, the second 100 ms later (neither is the default route)',
    env: { ...routerDown, fake: [fakeIgd('a', 5001), fakeIgd('b', 5002, { ip: LAB.fakeB, ssdp: { delayMs: 100 } })] },
    steps: [discover(1000), devices, gateway, add(7777)],
  },
  {
    id: 'two-fakes-one-disconnected',
    title: 'a connected IGD answers first, a disconnected one 100 ms later',
    env: {
      ...routerDown,
      fake: [fakeIgd('a', 5001), fakeIgd('b', 5002, { ip: LAB.fakeB, connectionStatus: 'Disconnected', ssdp: { delayMs: 100 } })],
    },
    steps: [discover(1000), devices, gateway, add(7777)],
  },
]
