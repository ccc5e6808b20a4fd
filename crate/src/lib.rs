//! upnp-native: Godot's `UPNP` / `UPNPDevice` for Node.js, with all network I/O on tokio.
//!
//! Layout by concern: `ssdp` (search datagrams), `http` (one bounded request),
//! `description` (device XML), `soap` (actions and faults), `gateway` (one device:
//! classification and port-mapping actions), `discovery` (the search orchestration),
//! `errors` (Godot's numbers), `bindings` (the N-API surface).

pub mod bindings;
pub mod bindings_pmp;
pub mod description;
pub mod discovery;
pub mod errors;
pub mod gateway;
pub mod http;
pub mod natpmp;
pub mod pcp;
pub mod pmp;
pub mod probe;
pub mod route;
pub mod soap;
pub mod ssdp;
