//! A NAT-PMP datagram (RFC 6886) as any host can send it to our request socket.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::pxp::natpmp;

fuzz_target!(|datagram: &[u8]| {
    let _ = natpmp::parse_response(datagram);
});
