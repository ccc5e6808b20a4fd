//! A SOAP reply body as a hostile gateway sends it, and a mapping-table entry read from it
//! the way listing and checking a mapping do.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::upnp::{gateway, soap};

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    if let Ok(soap::Parsed::Response(values)) = soap::parse_reply(&text, "GetGenericPortMappingEntry") {
        let _ = gateway::entry(&values);
    }
});
