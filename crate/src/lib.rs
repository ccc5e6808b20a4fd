//! upnp-native: Godot's `UPNP` / `UPNPDevice` for Node.js, with all network I/O on tokio.
//!
//! Modules in the order data flows through them:
//! - [`upnp`]: UPnP IGD: `ssdp` (search datagrams, sockets, one header reader for replies
//!   and NOTIFYs), `http` (one bounded request), `description` (device XML), `soap`
//!   (envelopes and faults), `gateway` (one device: classification and the port-mapping
//!   actions), `search_plan` (where a search goes: unicast at the default gateways,
//!   multicast on their interfaces), `discovery` (the search orchestration), `from_url` (one
//!   device from a known description URL, no search), `notify` (hearing announcements),
//!   `boot` (BOOTID: has a device rebooted?).
//! - [`pxp`]: NAT-PMP and PCP ("pxp", as Tailscale names the pair; "pmp" alone means
//!   NAT-PMP): `transport` (retransmission, epochs), `client` (the request skeleton both
//!   share), `natpmp`, `pcp` (wire formats, calls), `announcements` (what a server
//!   announces on port 5350).
//! - [`route`]: the default routes' gateways (Linux /proc, netdev on macOS and Windows), our
//!   address towards them, and which server a request or a probe goes to; shared by
//!   probing, discovery and the CLI.
//! - [`probe`]: UPnP, NAT-PMP and PCP asked at once within one budget.
//! - [`stun`]: STUN (RFC 8489, RFC 5780): the address seen from outside, the NAT's
//!   behaviour, and whether a mapped port lets unsolicited traffic in.
//! - [`address`]: public, CGNAT or private: the one copy of the address ranges.
//! - [`limits`]: caps on what the network can make us hold (string lengths, devices,
//!   replies, table bytes), each stated once.
//! - [`listener`]: passive listeners on shared ports (SSDP 1900, NAT-PMP/PCP 5350): the
//!   socket and the interfaces a group is joined on.
//! - [`errors`]: Godot's `UPNPResult` / `IGDStatus` numbers and the fault table.
//! - [`trace`]: exchange events for diagnostics, built only for calls someone listens to.
//! - [`napi`]: the N-API surface, the only module that uses napi: `mod` (the one failure
//!   shape, the defaults Rust owns), `upnp`, `pxp`, `probe`, `stun`; it converts and checks
//!   arguments, nothing more.

pub mod address;
pub mod errors;
pub mod limits;
pub mod listener;
pub mod napi;
pub mod probe;
pub mod pxp;
pub mod route;
pub mod stun;
pub mod trace;
pub mod upnp;
