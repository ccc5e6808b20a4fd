//! UPnP IGD: find gateways with SSDP, read their descriptions, drive them with SOAP.
//!
//! In the order data flows up from the network:
//! - [`link`]: one device's connections (how many, the spare opened ahead, deletes first)
//!   and the bounded HTTP/1.1 exchange on them (`link/http.rs`).
//! - [`charset`]: an XML document's text, decoded by its declared encoding.
//! - [`soap`]: envelopes, replies and faults (`soap/xml_scan.rs` reads the replies).
//! - [`leftovers`]: an add or delete given up after it was sent, settled.
//! - [`actions`]: the port-mapping actions of a connection service.
//! - [`pinholes`]: the IPv6 pinhole actions of the firewall-control service.
//! - [`device`]: one device described and classified (`device/description.rs`,
//!   `device/connections.rs`), or opened from its URL (`device/from_url.rs`).
//! - [`discovery`]: finding devices: the SSDP search and its replies, hearing
//!   announcements, and whether a device has rebooted (`discovery/`).
//! - `testing`: loopback routers for the unit tests.

pub mod link;

pub mod charset;
pub mod soap;

pub mod actions;
pub mod leftovers;
pub mod pinholes;

pub mod device;
pub mod discovery;

#[cfg(test)]
pub mod testing;
