// The one list of deliberate differences from Godot that the differential suite accepts.
// Each entry names the scenarios and rows where it shows, says why upnp-native differs, and
// marks the places where Godot 3.2.3 (the engine run here) and Godot 4 differ and we follow
// Godot 4. Any other difference fails the suite; an entry that no longer shows fails it too.
// The table of docs/godot-differences.md, "Differences from Godot", is this list, in words.

export interface Where {
  /** Scenario id and row label: exact text, or a pattern. */
  scenario: string | RegExp
  row: string | RegExp
  /** When given, the Godot / upnp-native value must match too. */
  godot?: string | RegExp
  ours?: string | RegExp
}

export interface Deviation {
  id: string
  /** One line: what differs. */
  what: string
  /** Why upnp-native does it this way. */
  why: string
  /** Godot 3.2.3 differs from Godot 4 here, and upnp-native follows Godot 4. */
  godot4?: string
  where: Where[]
}

const rows = (scenarios: string[], row: string | RegExp, pins: Pick<Where, 'godot' | 'ours'> = {}): Where[] =>
  scenarios.map((scenario) => ({ scenario, row, ...pins }))
/** A device's own connection details in a device list (compare.ts names devices by host). */
const IGD_FIELDS = /^devices \S+ igd_(control_url|service_type|our_addr)$/
const IGD_STATUS = /^devices \S+ igd_status$/

export const DEVIATIONS: Deviation[] = [
  {
    id: 'default-description',
    what: 'An empty description is sent as "upnp-native"; Godot’s miniupnpc sends "libminiupnpc".',
    why: 'Some routers refuse an empty description, so neither sends one; the default names the software that made the mapping, as libminiupnpc names itself (and as the CLI does).',
    where: [{ scenario: /.*/, row: /description$/, godot: '"libminiupnpc"', ours: '"upnp-native"' }],
  },
  {
    id: 'delete-before-add',
    what: 'UPNP.add_port_mapping sends AddPortMapping only; Godot 3 sends DeletePortMapping first.',
    why: 'Deleting first drops a working mapping (and its connections) for a moment and can delete one that another call just made.',
    godot4: 'Godot 4.0 removed the delete (godotengine/godot#63809); we follow Godot 4.',
    where: [
      { scenario: /.*/, row: /^sent to [a-z0-9]+$/, godot: /DeletePortMapping, AddPortMapping/ },
      { scenario: /.*/, row: /^[a-z0-9]+ DeletePortMapping #\d+$/, ours: '—' },
    ],
  },
  {
    id: 'list-order',
    what: 'With several gateways, the list is in answer order after the default route’s gateway, and the first valid one is used; Godot lists the last to answer first.',
    why: 'miniupnpc prepends each answer, so Godot maps on whichever router happened to answer last. The gateway this machine routes through is the one whose mappings work; after it, the first to answer.',
    where: [
      ...rows(['two-fakes', 'two-fakes-one-disconnected', 'two-gateways-router-first'], 'devices'),
      { scenario: 'two-fakes', row: /^(fake [ab] |sent to [ab]$|[ab] (Add|Delete)PortMapping)/ },
      // miniupnpd (the default route's gateway) answers first: Godot maps on the fake that
      // answered after it, and reports the fake's external address.
      { scenario: 'two-gateways-router-first', row: /^(miniupnpd UDP 7777|fake a UDP 7777|a AddPortMapping #1)/ },
      { scenario: 'two-gateways-router-first', row: 'query_external_address()', godot: '"11.22.33.45"', ours: '"11.22.33.44"' },
    ],
  },
  {
    id: 'discovery-window',
    what: 'discover() never takes longer than its timeout (at least 1 s); Godot waits once per search type, up to 4x the timeout when nothing answers, and the whole timeout again after each reply, and fetches descriptions after that.',
    why: 'All search types go out at once and descriptions are fetched while the window runs; a device still being described at the deadline stays IGDStatus.UNKNOWN_ERROR, as a fresh device.',
    where: [
      // Up to 4x the window where nothing answers (router-stopped, upnp-off,
      // multicast-if-loopback, non-igd-only, description-slow); and since miniupnpc waits the
      // whole timeout again after each reply, also wherever replies come late or in a row (a
      // reply at 300 ms: ~1.3 s; several 100 ms apart, on a loaded machine: ~1.5 s).
      { scenario: /.*/, row: /^discover\(.*\) time$/, godot: /^~(1\.5|[2-9])/, ours: '~1 s' },
      { scenario: 'description-slow', row: /^devices \S+ igd_/, ours: /^(""|UNKNOWN_ERROR \(9\))$/ },
    ],
  },
  {
    id: 'filter-sees-every-reply',
    what: 'device_filter "WANIPConnection", "WANPPPConnection" or naming IGD:2 finds a router that also answers IGD:1; Godot finds none.',
    why: 'Godot stops at the first search type that gets an answer (IGD:1), so its filter never sees the router’s other replies; here every search type goes out at once and the filter sees them all.',
    where: rows(['filter-wanip', 'filter-wanppp', 'filter-igd2'], /^devices/, { godot: /^(\(none\)|—)$/ }),
  },
  {
    id: 'one-device-per-description',
    what: 'A device answering several searches is listed once; Godot lists one entry per distinct reply (ssdp:all brings one per service).',
    why: 'One router is one gateway: six copies of it in the list serve no caller.',
    where: [
      { scenario: 'filter-many-replies', row: 'devices', godot: /#6/, ours: '192.168.77.1:5000' },
      { scenario: 'filter-many-replies', row: /^devices 192\.168\.77\.1:5000 #\d+ /, ours: '—' },
    ],
  },
  {
    id: 'location-on-responder',
    what: 'A search reply whose LOCATION names another host than the one that answered is ignored; Godot follows it.',
    why: 'Anything on the LAN could otherwise point discovery, and every mapping after it, at a third machine.',
    where: [
      { scenario: 'location-elsewhere', row: 'devices', ours: '(none)' },
      { scenario: 'location-elsewhere', row: /^devices 192\.168\.77\.21:5002 /, ours: '—' },
      { scenario: 'location-elsewhere', row: 'get_gateway()', godot: '0', ours: '-1' },
      { scenario: 'location-elsewhere', row: 'add_port_mapping(7777)', godot: 'SUCCESS (0)', ours: 'NO_GATEWAY (26)' },
      { scenario: 'location-elsewhere', row: /^(fake b |b AddPortMapping #1)/, ours: /^(\(none\)|—)$/ },
    ],
  },
  {
    id: 'ipv6-address-whole',
    what: 'igd_our_addr holds the whole IPv6 address; Godot cuts it to 15 characters (and, unterminated, reads bytes beyond them).',
    why: 'Godot keeps it in a 16-byte buffer (char addr[16]); an address is only useful whole.',
    where: [
      {
        scenario: 'ipv6-long-address',
        row: /^devices \S+ igd_our_addr$/,
        godot: /^"fd77::1234:5678/,
        ours: '"fd77::1234:5678:9abc:def0"',
      },
    ],
  },
  {
    id: 'reply-size-cap',
    what: 'Replies have size caps (description 256 KiB, SOAP 64 KiB, SSDP 4 KiB): a 1 MB description is HTTP_ERROR; Godot reads all of it (and calls the device UNKNOWN_DEVICE).',
    why: 'Everything from the network is bounded: a broken or hostile device cannot make us buffer without limit.',
    where: [{ scenario: 'description-huge', row: IGD_STATUS, godot: 'UNKNOWN_DEVICE (6)', ours: 'HTTP_ERROR (1)' }],
  },
  {
    id: 'device-describes-itself',
    what: 'Every device keeps its own control URL, service type, local address and status; Godot gives every device those of the best gateway in the list, and none to a device that is not OK.',
    why: 'A device object should describe that device: calls on it reach it, and a disconnected gateway can be asked again later.',
    where: [
      ...rows(
        [
          'disconnected',
          'double-nat',
          'description-404',
          'description-empty',
          'description-not-xml',
          'igd-without-connection',
          'status-fails',
          'external-address-fails',
          'non-igd-only',
          'two-gateways',
          'two-gateways-router-first',
          'two-fakes',
          'two-fakes-one-disconnected',
        ],
        IGD_FIELDS,
      ),
      { scenario: 'two-fakes-one-disconnected', row: IGD_STATUS, godot: 'OK (0)', ours: 'DISCONNECTED (5)' },
    ],
  },
  {
    id: 'status-by-meaning',
    what: 'igd_status says what is wrong: NO_IGD for a description that is not a device, INVALID_CONTROL for an IGD without a working connection service; Godot says UNKNOWN_DEVICE and DISCONNECTED.',
    why: 'miniupnpc’s gateway check only ranks devices; its codes do not say why one is unusable (and Godot 4.3.1+ maps them off by one).',
    where: [
      { scenario: 'description-not-xml', row: IGD_STATUS, godot: 'UNKNOWN_DEVICE (6)', ours: 'NO_IGD (4)' },
      ...rows(['igd-without-connection', 'status-fails', 'external-address-fails'], IGD_STATUS, {
        godot: 'DISCONNECTED (5)',
        ours: 'INVALID_CONTROL (7)',
      }),
    ],
  },
  {
    id: 'double-nat',
    what: 'A connected gateway with a private external address (double NAT) is OK with doubleNat = true; Godot calls it DISCONNECTED and will not map.',
    why: 'Mappings on it work up to the next NAT (often what a LAN game needs); calling it "disconnected" leaves the app nothing to try. CGNAT (100.64/10) is OK in both.',
    where: [
      { scenario: 'double-nat', row: IGD_STATUS, godot: 'DISCONNECTED (5)', ours: 'OK (0)' },
      { scenario: 'double-nat', row: 'add_port_mapping(7777)', godot: 'NO_GATEWAY (26)', ours: 'SUCCESS (0)' },
      { scenario: 'double-nat', row: 'query_external_address()', godot: '""', ours: '"10.0.0.2"' },
      { scenario: 'double-nat', row: /^(fake a |sent to a$|a AddPortMapping #1)/, godot: /^(\(none\)|—)$/ },
    ],
  },
  {
    id: 'not-soap-is-invalid',
    what: 'A 200 reply that is not a SOAP response is INVALID_RESPONSE; Godot’s miniupnpc calls it SUCCESS.',
    why: 'Nothing in such a reply says the router did what was asked; SUCCESS would report a mapping that may not exist.',
    where: [
      {
        scenario: 'http-failures',
        row: /^(notsoap|cutxml)\.(add|delete)_port_mapping\(7777\)$/,
        godot: 'SUCCESS (0)',
        ours: 'INVALID_RESPONSE (21)',
      },
    ],
  },
  {
    id: 'request-timeout',
    what: 'A router that never answers a request is given up after requestTimeout (3 s by default); Godot waits 5 s.',
    why: 'A configurable, shorter cap per request; the result (HTTP_ERROR) is the same.',
    where: [{ scenario: 'http-failures', row: /^silent\..* time$/, godot: '~5 s', ours: '~3 s' }],
  },
  {
    id: 'duration-not-truncated',
    what: 'A duration is used as given: 4294967295 (the largest the protocol carries) is sent, 4294967296 is INVALID_DURATION; Godot cuts it to 32 bits (-1: INVALID_DURATION; 0: permanent).',
    why: 'JavaScript numbers are not C ints: silently turning a lease into "permanent" would be a surprise.',
    where: [
      {
        scenario: 'add-arguments',
        row: 'add_port_mapping(7001, 0, "", "UDP", 4294967295)',
        godot: 'INVALID_DURATION (19)',
        ours: 'SUCCESS (0)',
      },
      {
        scenario: 'add-arguments',
        row: 'add_port_mapping(7001, 0, "", "UDP", 4294967296)',
        godot: 'SUCCESS (0)',
        ours: 'INVALID_DURATION (19)',
      },
    ],
  },
  {
    id: 'port-not-truncated',
    what: 'A port at or above 2^32 is INVALID_PORT; Godot cuts it to 32 bits and maps the result (2^32 + 7011 maps 7011).',
    why: 'JavaScript numbers are not C ints: a port that is not 1..65535 is a mistake to report, not a different port to map.',
    where: [
      {
        scenario: 'ports-past-32-bits',
        row: /^add_port_mapping\(/,
        godot: 'SUCCESS (0)',
        ours: 'INVALID_PORT (17)',
      },
      { scenario: 'ports-past-32-bits', row: /^miniupnpd UDP 701[12]/, ours: '(none)' },
    ],
  },
  {
    id: 'our-address-filled',
    what: 'A hand-built device without igd_our_addr maps to this machine’s address towards the router; Godot sends an empty client and miniupnpd refuses (ACTION_FAILED).',
    why: 'igd_our_addr means exactly that address; an empty one cannot be what the caller wants.',
    where: [
      { scenario: 'hand-built', row: 'noaddr.add_port_mapping(7301)', godot: 'ACTION_FAILED (5)', ours: 'SUCCESS (0)' },
      { scenario: 'hand-built', row: /^miniupnpd UDP 7301/, godot: '(none)' },
    ],
  },
  {
    id: 'xml-escaped',
    what: 'Arguments are XML-escaped; Godot’s miniupnpc sends them raw.',
    why: 'Raw "&" and "<" break the SOAP request (miniupnpd stored "Tom & Jerry <3>" as ""); escaping is what SOAP requires (miniupnpd keeps the entities as text).',
    where: [{ scenario: 'descriptions', row: 'miniupnpd UDP 7503 description', godot: '""', ours: '"Tom &amp; Jerry &lt;3&gt;"' }],
  },
  {
    id: 'unknown-interface',
    what: 'A discover_multicast_if that names no interface is UNKNOWN_ERROR; Godot 3.2.3 ignores it and searches on the default interface.',
    why: 'Searching somewhere the caller did not ask (another LAN, a VPN) hides the mistake.',
    godot4: 'Godot 4’s miniupnpc refuses an unknown interface (UNKNOWN_ERROR); we follow Godot 4.',
    where: [
      ...rows(['multicast-if-unknown', 'multicast-if-unknown-ipv6'], 'discover(1000)', {
        godot: 'SUCCESS (0)',
        ours: 'UNKNOWN_ERROR (28)',
      }),
      ...rows(['multicast-if-unknown', 'multicast-if-unknown-ipv6'], /^(discover\(1000\) time|get_device_count\(\))$/),
    ],
  },
]
