//! A STUN datagram (RFC 8489 / RFC 5780 attributes), as any host can send it to our socket;
//! whatever parses is checked against the caps it must respect.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::limits;
use upnp_native::stun::message;

fuzz_target!(|datagram: &[u8]| {
    if let Ok(r) = message::parse_response(datagram) {
        assert!(datagram.len() <= limits::MAX_STUN_MESSAGE);
        if let Some(e) = r.error {
            assert!((300..700).contains(&e.code));
            assert!(e.reason.chars().count() <= limits::MAX_ERROR_CHARS + 1);
        }
    }
});
