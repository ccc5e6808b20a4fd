//! SSDP search (UPnP Device Architecture 1.1, section 1.3): the socket, the M-SEARCH burst
//! and the parsing of unicast replies.
//!
//! Unlike miniupnpc (one search type after another, each waiting its turn) every search
//! target goes out at once, so the first gateway is found one router reply-delay after the
//! call instead of after several timeouts.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::limits::{cap, MAX_NAME_CHARS, MAX_URL_BYTES};
use crate::listener;

pub const SSDP_PORT: u16 = 1900;
pub const IPV4_MULTICAST: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const IPV6_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xc);
pub const IPV6_SITE_LOCAL: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, 0xc);
/// Larger datagrams are cut; real replies are ~300 bytes.
pub const MAX_DATAGRAM: usize = 4096;

/// Godot's discovery properties, decoded.
#[derive(Clone, Debug, Default)]
pub struct SocketOptions {
    pub ipv6: bool,
    /// Interface name or address; "" = the system's choice.
    pub multicast_if: String,
    /// Godot's `discover_local_port`: 0 = ephemeral, 1 = 1900, anything else = that port.
    pub local_port: u16,
    pub ttl: u32,
}

impl SocketOptions {
    fn bind_port(&self) -> u16 {
        match self.local_port {
            1 => SSDP_PORT,
            p => p,
        }
    }
}

/// Where the burst goes.
pub fn destinations(ipv6: bool) -> Vec<SocketAddr> {
    if ipv6 {
        vec![
            SocketAddr::V6(SocketAddrV6::new(IPV6_LINK_LOCAL, SSDP_PORT, 0, 0)),
            SocketAddr::V6(SocketAddrV6::new(IPV6_SITE_LOCAL, SSDP_PORT, 0, 0)),
        ]
    } else {
        vec![SocketAddr::V4(SocketAddrV4::new(IPV4_MULTICAST, SSDP_PORT))]
    }
}

pub fn m_search(destination: &SocketAddr, search_target: &str, mx: u32) -> String {
    let host = match destination {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip().to_string().to_uppercase(), v6.port()),
    };
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {host}\r\nST: {search_target}\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nUSER-AGENT: {}\r\n\r\n",
        crate::upnp::link::http::USER_AGENT_VALUE
    )
}

/// The interface `multicast_if` names, resolved for the address family in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interface {
    Default,
    V4(Ipv4Addr),
    V6Index(u32),
}

/// `multicast_if` names no interface this host has (for the family searched). Carried
/// inside the `io::Error` so that callers can tell it from the socket itself failing.
#[derive(Debug)]
pub struct NoSuchInterface(String);

impl std::fmt::Display for NoSuchInterface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoSuchInterface {}

pub fn is_no_such_interface(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<NoSuchInterface>())
}

fn resolve_interface(spec: &str, ipv6: bool) -> io::Result<Interface> {
    if spec.trim().is_empty() {
        return Ok(Interface::Default);
    }
    resolve_interface_in(spec, ipv6, &if_addrs::get_if_addrs()?)
}

/// [`resolve_interface`] among `interfaces` (an interface name or one of its addresses).
pub fn resolve_interface_in(
    spec: &str,
    ipv6: bool,
    interfaces: &[if_addrs::Interface],
) -> io::Result<Interface> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(Interface::Default);
    }
    let no_such = |why: String| io::Error::new(io::ErrorKind::NotFound, NoSuchInterface(why));
    let not_found = || no_such(format!("no usable network interface {spec:?}"));
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return match (ip, ipv6) {
            (IpAddr::V4(v4), false) => Ok(Interface::V4(v4)),
            (IpAddr::V6(v6), true) => interfaces
                .iter()
                .find(|i| i.ip() == IpAddr::V6(v6))
                .and_then(|i| i.index)
                .map(Interface::V6Index)
                .ok_or_else(not_found),
            _ => Err(no_such(format!(
                "{spec:?} is not an address of the family being searched"
            ))),
        };
    }
    let named = interfaces.iter().filter(|i| i.name == spec);
    if ipv6 {
        named
            .clone()
            .find_map(|i| i.index)
            .map(Interface::V6Index)
            .ok_or_else(not_found)
    } else {
        named
            .filter_map(|i| match i.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .next()
            .map(Interface::V4)
            .ok_or_else(not_found)
    }
}

/// Opens the search socket with Godot's options applied; the interface each search leaves
/// from is chosen per datagram (see `search_plan`, [`set_multicast_interface`]).
pub fn open_socket(options: &SocketOptions) -> io::Result<UdpSocket> {
    let domain = if options.ipv6 {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    let port = options.bind_port();
    if port == SSDP_PORT {
        // Share 1900 with any SSDP listener already on this host.
        socket.set_reuse_address(true)?;
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        socket.set_reuse_port(true)?;
    }
    if options.ipv6 {
        socket.set_only_v6(true)?;
        socket.set_multicast_hops_v6(options.ttl)?;
        socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    } else {
        socket.set_multicast_ttl_v4(options.ttl)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    }
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Makes the next multicast datagrams of `socket` leave from `interface`
/// (`Interface::Default`: the system's choice).
pub fn set_multicast_interface(socket: &UdpSocket, interface: &Interface) -> io::Result<()> {
    // The family from the bound address: socket2's `domain()` exists on Linux only.
    let ipv6 = socket.local_addr()?.is_ipv6();
    let socket = socket2::SockRef::from(socket);
    match interface {
        Interface::V4(address) => socket.set_multicast_if_v4(address),
        Interface::V6Index(index) => socket.set_multicast_if_v6(*index),
        Interface::Default if ipv6 => socket.set_multicast_if_v6(0),
        Interface::Default => socket.set_multicast_if_v4(&Ipv4Addr::UNSPECIFIED),
    }
}

/// Splits an SSDP datagram (HTTP over UDP) into its start line and its headers, the one
/// header reader for search replies and NOTIFYs: names upper-cased, values trimmed, lines
/// without a colon skipped, CRLF or bare LF. Text that is not UTF-8 gives `None`.
fn split_message(datagram: &[u8]) -> Option<(&str, impl Iterator<Item = (String, &str)>)> {
    let text = std::str::from_utf8(datagram).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let start = lines.next()?.trim();
    let headers = lines.filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        Some((name.trim().to_ascii_uppercase(), value.trim()))
    });
    Some((start, headers))
}

/// One answer to our search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchReply {
    pub location: String,
    pub st: String,
    pub usn: String,
    pub server: String,
    pub boot_id: Option<u32>,
}

/// Parses a unicast search reply (`HTTP/1.1 200 OK` + headers). NOTIFYs and other
/// M-SEARCHes seen on a shared port 1900 are not replies and give `None`.
pub fn parse_reply(datagram: &[u8]) -> Option<SearchReply> {
    let (status, headers) = split_message(datagram)?;
    let mut parts = status.split_whitespace();
    let version = parts.next()?;
    if !version.to_ascii_uppercase().starts_with("HTTP/1.") || parts.next()? != "200" {
        return None;
    }
    let mut reply = SearchReply {
        location: String::new(),
        st: String::new(),
        usn: String::new(),
        server: String::new(),
        boot_id: None,
    };
    for (name, value) in headers {
        match name.as_str() {
            "LOCATION" => reply.location = value.to_string(),
            "ST" => reply.st = cap(value, MAX_NAME_CHARS),
            "USN" => reply.usn = cap(value, MAX_NAME_CHARS),
            "SERVER" => reply.server = cap(value, MAX_NAME_CHARS),
            "BOOTID.UPNP.ORG" => reply.boot_id = value.parse().ok(),
            _ => {}
        }
    }
    // A LOCATION longer than any URL we would fetch makes the whole reply worthless.
    if reply.location.is_empty() || reply.location.len() > MAX_URL_BYTES {
        return None;
    }
    Some(reply)
}

/// An SSDP announcement (`NOTIFY * HTTP/1.1`): how a router says it is (still, again) there.
/// After a reboot a UPnP 1.1 device announces a new `BOOTID.UPNP.ORG`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// `ssdp:alive`, `ssdp:byebye` or `ssdp:update`.
    pub nts: String,
    pub nt: String,
    pub usn: String,
    pub location: String,
    pub boot_id: Option<u32>,
    /// `NEXTBOOTID.UPNP.ORG` of an `ssdp:update`.
    pub next_boot_id: Option<u32>,
}

/// Parses a NOTIFY; anything else (search replies, M-SEARCHes) gives `None`.
pub fn parse_announcement(datagram: &[u8]) -> Option<Announcement> {
    let (start, headers) = split_message(datagram)?;
    let mut parts = start.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("NOTIFY") || parts.next()? != "*" {
        return None;
    }
    let mut a = Announcement {
        nts: String::new(),
        nt: String::new(),
        usn: String::new(),
        location: String::new(),
        boot_id: None,
        next_boot_id: None,
    };
    for (name, value) in headers {
        match name.as_str() {
            "NTS" => a.nts = cap(value, MAX_NAME_CHARS),
            "NT" => a.nt = cap(value, MAX_NAME_CHARS),
            "USN" => a.usn = cap(value, MAX_NAME_CHARS),
            "LOCATION" => a.location = value.to_string(),
            "BOOTID.UPNP.ORG" => a.boot_id = value.parse().ok(),
            "NEXTBOOTID.UPNP.ORG" => a.next_boot_id = value.parse().ok(),
            _ => {}
        }
    }
    if a.nts.is_empty() || a.location.len() > MAX_URL_BYTES {
        return None;
    }
    Some(a)
}

/// Opens a socket that hears announcements: port 1900 shared with other SSDP listeners,
/// the SSDP group joined on `multicast_if` or on every non-loopback interface. It only
/// listens; nothing is ever sent from it.
pub fn open_listener(multicast_if: &str, ipv6: bool) -> io::Result<std::net::UdpSocket> {
    let interface = resolve_interface(multicast_if, ipv6)?;
    let socket = listener::shared_socket(ipv6, SSDP_PORT)?;
    let interfaces = listener::interfaces();
    let mut joined = 0;
    if ipv6 {
        let indexes: Vec<u32> = match interface {
            Interface::V6Index(i) => vec![i],
            _ => listener::ipv6_indexes(&interfaces),
        };
        for index in indexes {
            joined += usize::from(socket.join_multicast_v6(&IPV6_LINK_LOCAL, index).is_ok());
        }
    } else {
        let addresses: Vec<Ipv4Addr> = match interface {
            Interface::V4(a) => vec![a],
            _ => listener::ipv4_addresses(&interfaces),
        };
        for address in addresses {
            joined += usize::from(socket.join_multicast_v4(&IPV4_MULTICAST, &address).is_ok());
        }
    }
    if joined == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "could not join the SSDP group on any interface",
        ));
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// This host as discovery sees it: its own addresses (a LOCATION on one of them would make a
/// LAN device aim our requests at ourselves) and the IPv6 networks it is directly on.
#[derive(Clone, Debug, Default)]
pub struct LocalView {
    pub own: Vec<IpAddr>,
    pub v6_networks: Vec<(Ipv6Addr, Ipv6Addr)>,
}

impl LocalView {
    pub fn current() -> Self {
        let mut view = Self::default();
        for i in if_addrs::get_if_addrs().unwrap_or_default() {
            view.own.push(i.ip());
            if let if_addrs::IfAddr::V6(v6) = i.addr {
                view.v6_networks.push((v6.ip, v6.netmask));
            }
        }
        view
    }

    fn on_our_v6_link(&self, ip: Ipv6Addr) -> bool {
        self.v6_networks
            .iter()
            .any(|(net, mask)| same_network(ip, *net, *mask))
    }
}

fn same_network(a: Ipv6Addr, b: Ipv6Addr, mask: Ipv6Addr) -> bool {
    let (a, b, m) = (a.to_bits(), b.to_bits(), mask.to_bits());
    m != 0 && a & m == b & m
}

/// What a search reply's LOCATION may make us do.
#[derive(Debug, PartialEq, Eq)]
pub enum Location {
    /// It is on the host that answered: fetch this description URL.
    Trusted(String),
    /// IPv6 only: another address on our link. Routers answer from their link-local address
    /// and describe themselves on their ULA/global one, but so could a LAN host name any
    /// other machine. Only that address itself can vouch for it: ask it with a unicast
    /// M-SEARCH, and take its own reply (which must then be on it).
    AskHost(IpAddr),
    Refused(String),
}

/// Judges LOCATION against the address that sent the reply: it must be that address (for
/// IPv6, see [`Location::AskHost`]), and never loopback, unspecified, multicast or one of
/// this host's own addresses. A link-local LOCATION gains the zone it needs (`%25<scope>`),
/// which URLs cannot carry.
pub fn judge_location(location: &str, from: SocketAddr, local: &LocalView) -> Location {
    let endpoint = match crate::upnp::link::http::Endpoint::parse(location) {
        Ok(e) => e,
        Err(why) => return Location::Refused(why),
    };
    let at = endpoint.addr.ip();
    if at.is_loopback() || at.is_unspecified() || at.is_multicast() || local.own.contains(&at) {
        return Location::Refused(format!(
            "LOCATION {location} points at a loopback, unspecified, multicast or own address; ignored"
        ));
    }
    if at != from.ip() {
        return match (at, from.ip()) {
            (IpAddr::V6(at6), IpAddr::V6(_)) if local.on_our_v6_link(at6) => Location::AskHost(at),
            _ => Location::Refused(format!(
                "LOCATION {location} is not on the responder {}; ignored",
                from.ip()
            )),
        };
    }
    if let (SocketAddr::V6(from6), SocketAddr::V6(loc6)) = (from, endpoint.addr) {
        let is_link_local = (loc6.ip().segments()[0] & 0xffc0) == 0xfe80;
        if is_link_local && loc6.scope_id() == 0 && from6.scope_id() != 0 {
            if let Some(pos) = location.find(']') {
                return Location::Trusted(format!(
                    "{}%25{}{}",
                    &location[..pos],
                    from6.scope_id(),
                    &location[pos..]
                ));
            }
        }
    }
    Location::Trusted(location.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_search_matches_the_spec() {
        let msg = m_search(
            &destinations(false)[0],
            crate::upnp::discovery::search::GATEWAY_TARGETS[1],
            2,
        );
        assert!(msg.starts_with("M-SEARCH * HTTP/1.1\r\n"));
        assert!(msg.contains("\r\nHOST: 239.255.255.250:1900\r\n"));
        assert!(msg.contains("\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"));
        assert!(msg.contains("\r\nMAN: \"ssdp:discover\"\r\n"));
        assert!(msg.contains("\r\nMX: 2\r\n"));
        assert!(msg.ends_with("\r\n\r\n"));
        let v6: Vec<String> = destinations(true)
            .iter()
            .map(|d| m_search(d, "x", 1))
            .collect();
        assert!(v6[0].contains("HOST: [FF02::C]:1900"));
        assert!(v6[1].contains("HOST: [FF05::C]:1900"));
    }

    #[test]
    fn parses_miniupnpd_reply() {
        let datagram = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nUSN: uuid:1234::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: http://192.168.77.1:5000/rootDesc.xml\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1700000000\r\nBOOTID.UPNP.ORG: 1700000000\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n";
        let r = parse_reply(datagram).unwrap();
        assert_eq!(r.location, "http://192.168.77.1:5000/rootDesc.xml");
        assert_eq!(r.st, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
        assert!(r.usn.starts_with("uuid:1234"));
        assert_eq!(r.boot_id, Some(1_700_000_000));
        assert!(r.server.contains("MiniUPnPd"));
    }

    #[test]
    fn header_values_are_capped() {
        let long = "S".repeat(3000);
        let datagram = format!("HTTP/1.1 200 OK\r\nSERVER: {long}\r\nST: {long}\r\nLOCATION: http://10.0.0.1/d.xml\r\n\r\n");
        let r = parse_reply(datagram.as_bytes()).unwrap();
        assert_eq!(r.server.chars().count(), MAX_NAME_CHARS + 1);
        assert_eq!(r.st.chars().count(), MAX_NAME_CHARS + 1);
        let far = format!(
            "HTTP/1.1 200 OK\r\nLOCATION: http://10.0.0.1/{}\r\n\r\n",
            "a".repeat(2000)
        );
        assert_eq!(parse_reply(far.as_bytes()), None);
    }

    #[test]
    fn header_names_are_case_insensitive_and_lf_only_is_accepted() {
        let r =
            parse_reply(b"HTTP/1.0 200 OK\nlocation:http://10.0.0.1/d.xml\nst:upnp:rootdevice\n\n")
                .unwrap();
        assert_eq!(r.location, "http://10.0.0.1/d.xml");
        assert_eq!(r.st, "upnp:rootdevice");
    }

    #[test]
    fn ignores_what_is_not_a_search_reply() {
        for bad in [
            &b""[..],
            b"NOTIFY * HTTP/1.1\r\nLOCATION: http://10.0.0.1/\r\n\r\n",
            b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nLOCATION: http://10.0.0.1/\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n",
            b"\xff\xfe\x00garbage",
        ] {
            assert_eq!(parse_reply(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn trusted(location: &str, from: SocketAddr, local: &LocalView) -> Result<String, String> {
        match judge_location(location, from, local) {
            Location::Trusted(url) => Ok(url),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn location_must_be_on_the_responder() {
        let from: SocketAddr = "192.168.77.1:1900".parse().unwrap();
        let none = LocalView::default();
        assert_eq!(
            trusted("http://192.168.77.1:5000/rootDesc.xml", from, &none).unwrap(),
            "http://192.168.77.1:5000/rootDesc.xml"
        );
        assert!(trusted("http://192.168.77.99:5000/rootDesc.xml", from, &none).is_err());
        assert!(trusted("http://evil.example/rootDesc.xml", from, &none).is_err());
        assert!(trusted("not a url", from, &none).is_err());
    }

    #[test]
    fn link_local_location_gains_its_zone() {
        let from = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 1900, 0, 7));
        let none = LocalView::default();
        assert_eq!(
            trusted("http://[fe80::1]:5000/d.xml", from, &none).unwrap(),
            "http://[fe80::1%257]:5000/d.xml"
        );
        let global = SocketAddr::V6(SocketAddrV6::new("fd77::1".parse().unwrap(), 1900, 0, 0));
        assert_eq!(
            trusted("http://[fd77::1]:5000/d.xml", global, &none).unwrap(),
            "http://[fd77::1]:5000/d.xml"
        );
    }

    #[test]
    fn another_ipv6_address_on_our_link_must_vouch_for_itself() {
        // miniupnpd answers from fe80::... and describes itself on its ULA: ask the ULA.
        let from = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 1900, 0, 7));
        let ours = LocalView {
            own: vec!["fd77::10".parse().unwrap()],
            v6_networks: vec![(
                "fd77::10".parse().unwrap(),
                "ffff:ffff:ffff:ffff::".parse().unwrap(),
            )],
        };
        assert_eq!(
            judge_location("http://[fd77::1]:5000/d.xml", from, &ours),
            Location::AskHost("fd77::1".parse().unwrap())
        );
        assert!(trusted("http://[fd78::1]:5000/d.xml", from, &ours).is_err());
        let v4: SocketAddr = "192.168.77.1:1900".parse().unwrap();
        assert!(trusted("http://[fd77::1]:5000/d.xml", v4, &ours).is_err());
    }

    #[test]
    fn never_loopback_unspecified_multicast_or_ourselves() {
        // Issue 10: with IPv6 discovery a LAN host made us GET http://[::1]:PORT/ (loopback
        // counted as "on our link") and ports on this host's own addresses.
        let local = LocalView {
            own: vec![
                "fd77::10".parse().unwrap(),
                "::1".parse().unwrap(),
                "192.168.77.10".parse().unwrap(),
            ],
            v6_networks: vec![
                (
                    "::1".parse().unwrap(),
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
                ),
                (
                    "fd77::10".parse().unwrap(),
                    "ffff:ffff:ffff:ffff::".parse().unwrap(),
                ),
            ],
        };
        let v6 = SocketAddr::V6(SocketAddrV6::new("fe80::66".parse().unwrap(), 1900, 0, 2));
        for location in [
            "http://[::1]:8080/x",
            "http://[fd77::10]:22/x",
            "http://[::]:80/x",
            "http://[ff02::1]:80/x",
        ] {
            assert!(
                matches!(judge_location(location, v6, &local), Location::Refused(_)),
                "{location}"
            );
        }
        // Even a responder that names itself: our own address is never a device.
        let me: SocketAddr = "192.168.77.10:1900".parse().unwrap();
        assert!(trusted("http://192.168.77.10:5000/d.xml", me, &local).is_err());
        let lo: SocketAddr = "127.0.0.1:1900".parse().unwrap();
        assert!(trusted("http://127.0.0.1:5000/d.xml", lo, &LocalView::default()).is_err());
    }

    #[test]
    fn parses_announcements() {
        let alive = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=120\r\nLOCATION: http://192.168.77.1:5000/rootDesc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:x::upnp:rootdevice\r\nBOOTID.UPNP.ORG: 42\r\n\r\n";
        let a = parse_announcement(alive).unwrap();
        assert_eq!(a.nts, "ssdp:alive");
        assert_eq!(a.nt, "upnp:rootdevice");
        assert_eq!(a.location, "http://192.168.77.1:5000/rootDesc.xml");
        assert_eq!(a.boot_id, Some(42));
        let update = b"NOTIFY * HTTP/1.1\r\nNTS: ssdp:update\r\nBOOTID.UPNP.ORG: 42\r\nNEXTBOOTID.UPNP.ORG: 43\r\n\r\n";
        assert_eq!(parse_announcement(update).unwrap().next_boot_id, Some(43));
        let byebye = b"notify * HTTP/1.1\nnts:ssdp:byebye\nusn:uuid:x\n\n";
        assert_eq!(parse_announcement(byebye).unwrap().nts, "ssdp:byebye");
        for other in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\nLOCATION: http://10.0.0.1/\r\n\r\n",
            b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n",
            b"NOTIFY * HTTP/1.1\r\nNT: x\r\n\r\n",
            b"NOTIFY /path HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n",
            b"\xff\xfe",
        ] {
            assert_eq!(
                parse_announcement(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn local_port_follows_godot() {
        let o = |p| SocketOptions {
            local_port: p,
            ..Default::default()
        };
        assert_eq!(o(0).bind_port(), 0);
        assert_eq!(o(1).bind_port(), 1900);
        assert_eq!(o(5555).bind_port(), 5555);
    }

    #[tokio::test]
    async fn multicast_interface_is_set_per_family() {
        let v4 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        set_multicast_interface(&v4, &Interface::V4(Ipv4Addr::LOCALHOST)).unwrap();
        set_multicast_interface(&v4, &Interface::Default).unwrap();
        // An IPv6 interface on an IPv4 socket is refused by the system, not ignored.
        assert!(set_multicast_interface(&v4, &Interface::V6Index(1)).is_err());
        if let Ok(v6) = UdpSocket::bind("[::1]:0").await {
            // Default on an IPv6 socket: the IPv6 option with index 0.
            set_multicast_interface(&v6, &Interface::Default).unwrap();
        }
    }

    #[test]
    fn unknown_interface_is_an_error() {
        assert!(is_no_such_interface(
            &resolve_interface("no-such-if0", false).unwrap_err()
        ));
        assert_eq!(resolve_interface("", false).unwrap(), Interface::Default);
        assert_eq!(
            resolve_interface("127.0.0.1", false).unwrap(),
            Interface::V4(Ipv4Addr::LOCALHOST)
        );
        assert!(is_no_such_interface(
            &resolve_interface("::1", false).unwrap_err()
        ));
    }
}
