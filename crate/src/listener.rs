//! Passive listeners on a port other programs listen on too (SSDP's 1900, NAT-PMP/PCP's
//! 5350): the shared socket, bound to every address of one family, and the interfaces a
//! multicast group is joined on. Shared by `upnp::ssdp` and `pxp::announcements`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// A UDP socket bound to `port` on every address of the family (IPv6 only for `ipv6`),
/// shared with other sockets on the same port (SO_REUSEADDR, and SO_REUSEPORT where it
/// exists): each of them receives every multicast datagram. Not yet non-blocking.
pub fn shared_socket(ipv6: bool, port: u16) -> io::Result<Socket> {
    let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    if ipv6 {
        socket.set_only_v6(true)?;
        socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    } else {
        socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    }
    Ok(socket)
}

/// This host's interfaces (none when they cannot be read).
pub fn interfaces() -> Vec<if_addrs::Interface> {
    if_addrs::get_if_addrs().unwrap_or_default()
}

/// The IPv4 addresses of every non-loopback interface: where an IPv4 group is joined when no
/// interface is named.
pub fn ipv4_addresses(interfaces: &[if_addrs::Interface]) -> Vec<Ipv4Addr> {
    interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// The indexes of every non-loopback interface: where an IPv6 group is joined when no
/// interface is named.
pub fn ipv6_indexes(interfaces: &[if_addrs::Interface]) -> Vec<u32> {
    interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| i.index)
        .collect()
}
