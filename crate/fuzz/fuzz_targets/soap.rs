//! A SOAP reply body as a hostile gateway sends it, for an action with output values and
//! for one without.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::soap;

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    let _ = soap::parse_reply(&text, "GetGenericPortMappingEntry");
});
