//! A device description as a hostile device serves it: parsed, then every service URL
//! resolved and checked the way classification does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::upnp::device::description::{resolve_url, Description};
use upnp_native::upnp::link::http::Endpoint;

const DESCRIPTION_URL: &str = "http://192.168.77.1:5000/rootDesc.xml";

fuzz_target!(|body: &[u8]| {
    let text = String::from_utf8_lossy(body);
    // The URLs a description carries (URLBase, controlURL), also alone: odd text reaches
    // URL resolution at once instead of only through well-formed XML.
    if let Some((base, reference)) = text.split_once('\n') {
        let _ = Endpoint::parse(&resolve_url(base, reference));
    }
    let Ok(description) = Description::parse(&text) else {
        return;
    };
    let base = description.base(DESCRIPTION_URL);
    let _ = Endpoint::parse(base);
    for service in &description.services {
        for url in [&service.control_url, &service.scpd_url, &service.event_sub_url] {
            let _ = Endpoint::parse(&resolve_url(base, url));
        }
    }
});
