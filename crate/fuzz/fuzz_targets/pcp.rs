//! A PCP datagram (RFC 6887), options included, as any host can send it to our socket.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::pxp::pcp;

fuzz_target!(|datagram: &[u8]| {
    let _ = pcp::parse_response(datagram);
});
