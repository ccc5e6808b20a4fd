//! The N-API surface: plain data in, plain data out. The only module that uses napi.

pub mod pxp;
pub mod upnp;

use napi_derive::napi;

/// "public", "cgnat" or "private" for an IP address (the double-NAT ranges, one copy in
/// `address.rs`); "invalid" for text that is not an address.
#[napi]
pub fn classify_address(address: String) -> &'static str {
    match address.trim().trim_matches(['[', ']']).parse() {
        Ok(ip) => crate::address::classify(ip).name(),
        Err(_) => "invalid",
    }
}
