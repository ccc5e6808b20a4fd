//! NAT-PMP (RFC 6886) and PCP (RFC 6887): small UDP request/response protocols on port 5351.
//!
//! In the order data flows up from the network:
//! - [`transport`]: retransmission within a budget, the server's epochs (has it rebooted?).
//! - [`client`]: the request skeleton both share: send, accept, another version, the epoch.
//! - [`natpmp`], [`pcp`]: the two wire formats, their key checks and calls.
//! - [`announcements`]: what a server announces on port 5350 (only from the server: a hint).

pub mod announcements;
pub mod client;
pub mod natpmp;
pub mod pcp;
pub mod transport;

/// The lifetime asked when the caller gives none, and what "permanent" means over NAT-PMP
/// and PCP (neither has permanent mappings): RFC 6886 3.3's recommendation, 2 hours.
pub const DEFAULT_LIFETIME_S: u32 = 7200;
