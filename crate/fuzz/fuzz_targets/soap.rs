//! A SOAP reply body as a hostile gateway sends it, and a mapping-table entry read from it
//! the way listing and checking a mapping do. Whenever the one-pass reader takes the body,
//! roxmltree must take it too and list the same elements (xml_scan.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::upnp::actions;
use upnp_native::upnp::soap::{self, xml_scan};

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    if let Some(scanned) = xml_scan::scan(&text) {
        let doc = roxmltree::Document::parse(&text).expect("scan took what roxmltree refuses");
        assert_eq!(xml_scan::from_document(&doc), scanned);
    }
    if let Ok(soap::Parsed::Response(values)) = soap::parse_reply(&text, "GetGenericPortMappingEntry") {
        let _ = actions::entry(&values);
    }
});
