//! NAT-PMP (RFC 6886) and PCP (RFC 6887): small UDP request/response protocols on port 5351.

pub mod client;
pub mod natpmp;
pub mod pcp;
pub mod transport;
