//! upnp-native: Godot's `UPNP` / `UPNPDevice` for Node.js, with all network I/O on tokio.
//!
//! One line per module, in the order data flows up from the network (a folder's own map is
//! at the top of its `mod.rs`):
//! - [`upnp`]: UPnP IGD: a device's link and HTTP, SOAP, the actions, devices, discovery.
//! - [`pxp`]: NAT-PMP and PCP ("pxp", as Tailscale names the pair; "pmp" alone is NAT-PMP).
//! - [`stun`]: STUN (RFC 8489, 5780): our address seen from outside, the NAT's behaviour.
//! - [`route`]: the default routes' gateways, our address towards them, whom a request asks.
//! - [`probe`]: UPnP, NAT-PMP and PCP asked at once within one budget.
//! - [`listener`]: passive listeners on shared ports (SSDP 1900, NAT-PMP/PCP 5350).
//! - [`address`]: public, CGNAT or private: the one copy of the address ranges.
//! - [`limits`]: every cap on what the network can make us hold, each stated once.
//! - [`errors`]: Godot's `UPNPResult` / `IGDStatus` numbers and the fault table.
//! - [`trace`]: exchange events for diagnostics, built only for calls someone listens to.
//! - [`napi`]: the N-API surface, the only module that uses napi: converts and checks, no more.

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
