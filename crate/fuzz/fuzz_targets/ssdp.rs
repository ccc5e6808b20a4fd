//! SSDP datagrams as any host on the LAN can send them: search replies and NOTIFYs, and the
//! LOCATION check that decides whether a reply may send us anywhere.
#![no_main]
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use upnp_native::upnp::discovery::ssdp;

fuzz_target!(|datagram: &[u8]| {
    let from4: SocketAddr = "192.168.77.1:1900".parse().unwrap();
    let from6: SocketAddr = "[fe80::1%2]:1900".parse().unwrap();
    let local = ssdp::LocalView {
        own: vec!["192.168.77.10".parse().unwrap(), "fd77::10".parse().unwrap()],
        v6_networks: vec![(
            "fd77::10".parse().unwrap(),
            "ffff:ffff:ffff:ffff::".parse().unwrap(),
        )],
    };
    if let Some(reply) = ssdp::parse_reply(datagram) {
        let _ = ssdp::judge_location(&reply.location, from4, &local);
        let _ = ssdp::judge_location(&reply.location, from6, &local);
    }
    let _ = ssdp::parse_announcement(datagram);
});
