/**
 * Every default the TypeScript side owns, each with its reason. The numbers of NAT-PMP and
 * PCP belong to the Rust core, which exports them with its reasons beside them
 * (`crate/src/napi/mod.rs`): `PROBE_BUDGET_MS` (250, asking all three protocols at once),
 * `PXP_BUDGET_MS` (2000, one exchange with retransmissions), `PXP_INITIAL_TIMEOUT_MS` (250)
 * and `PXP_LIFETIME_S` (7200, NAT-PMP/PCP's "permanent"); use them from `./native/index.ts`.
 * This file stays a leaf (the CLI reads it before the addon is loaded).
 */

/** Godot's `discover(timeout = 2000, ttl = 2, device_filter = "InternetGatewayDevice")`. */
export const DISCOVER_TIMEOUT_MS = 2000
export const DISCOVER_TTL = 2
export const DEVICE_FILTER = 'InternetGatewayDevice'
/** Godot's discovery never listens for less than a second (miniupnpc raises any shorter
 *  timeout to 1000 ms, because MX, the time a device may wait before answering, is at
 *  least 1 s): `discover(0)` and `discover(500)` find what Godot's would. */
export const DISCOVER_MIN_WINDOW_MS = 1000

/** Sent as the description of a mapping asked for with "": some routers refuse an empty
 *  one. Godot's miniupnpc sends "libminiupnpc", naming itself; this names the software that
 *  made the mapping the same way (the CLI's default too). */
export const MAPPING_DESCRIPTION = 'upnp-native'

/** Cap on one request to a device (connect + reply): a healthy router answers in
 *  milliseconds; three seconds covers a busy one without hanging a game's start. */
export const REQUEST_TIMEOUT_MS = 3000

/** `listPortMappings()` stops here unless told otherwise: more than any home router holds. */
export const LIST_MAX_ENTRIES = 1024

/** How long a probe result stays valid (Tailscale: 10 minutes). */
export const PROBE_MAX_AGE_MS = 600_000

/** IPv6 pinholes (UPnP WANIPv6FirewallControl): the lease `addPinhole` asks when not told, and
 *  the longest the service allows (its spec's range is 1..86400 s; no permanent pinholes).
 *  The core checks the same range (`upnp::pinholes::MAX_LEASE`); it is restated here because
 *  the CLI refuses a longer --lease before it loads the addon, and
 *  __test__/unit/defaults.test.ts holds the two equal. */
export const PINHOLE_LEASE_S = 3600
export const PINHOLE_MAX_LEASE_S = 86_400

/** PortMapper: lease asked when `map()` does not say. An hour: renewed at half, and a crashed
 *  app's mapping is gone within the hour. */
export const MAPPER_LEASE_S = 3600
/** PortMapper: how often each mapping is checked on the router (Godot's docs advise
 *  re-checking every few minutes). */
export const VERIFY_INTERVAL_MS = 300_000
/** PortMapper: external ports tried after a conflict; below 1024 only when asked. */
export const PORT_RANGE: readonly [number, number] = [1024, 65535]
/** PortMapper: add attempts with other external ports after conflicts. */
export const MAX_ATTEMPTS = 8
/** PortMapper: after a failed background check, try again this soon (or at the next
 *  verification, whichever is first). */
export const RETRY_AFTER_FAILURE_MS = 30_000
/** PortMapper: how long the app's `verify` hook may take before its answer counts as a failure. */
export const VERIFY_HOOK_TIMEOUT_MS = 10_000
/** PortMapper: how long after its start a mapper may take over a journal's leftover (a map()
 *  for the same thing), before the rest are deleted. Apps map their ports at start-up, within
 *  seconds; a leftover kept this long forwards to this machine only. */
export const ADOPT_WINDOW_MS = 30_000
/** PortMapper: what process exit (or an Electron app's quit) may spend deleting mappings. */
export const EXIT_CLEANUP_BUDGET_MS = 3000
/** PortMapper, while it holds mappings: how often the wall and monotonic clocks are compared
 *  to notice sleep and stalls (no network; an unref'd timer). */
export const WAKE_CHECK_INTERVAL_MS = 5000
/** PortMapper: a gap this long (slept, paused, starved) means every mapping is checked at
 *  once. Far above timer jitter and GC pauses; a false alarm costs one check per mapping. */
export const WAKE_GAP_MS = 5000
/** PortMapper: listen for the router's announcements (reboots: SSDP on port 1900, NAT-PMP
 *  and PCP on port 5350). Off on Windows: an unsolicited multicast listener is what Windows
 *  Defender Firewall blocks by default, and binding one can raise the firewall prompt in the
 *  middle of a game; periodic verification, the epoch and the wake check still find a reboot
 *  there. */
export const WATCH_ANNOUNCEMENTS = process.platform !== 'win32'
