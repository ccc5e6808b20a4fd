//! Hearing what a NAT-PMP/PCP server announces on its own (passive: nothing here sends):
//! PCP's unsolicited ANNOUNCE (RFC 6887 14.1.3), multicast to 224.0.0.1:5350 and
//! [ff02::1]:5350 when the server (re)starts or its external address changes, and NAT-PMP's
//! external address announcement (RFC 6886 3.2.1), multicast to 224.0.0.1:5350.
//!
//! miniupnpd 2.3.1, as heard in the lab: a PCP ANNOUNCE with epoch 0 at every start, over IPv4
//! from its LAN address and over IPv6 from its link-local address, both from port 5351; on an
//! external address change (SIGUSR1) a NAT-PMP announcement with the address, then a PCP
//! ANNOUNCE with the epoch reset. It never sends the NAT-PMP announcement at start.
//!
//! An announcement is a hint, never proof: its holder renews its mappings now, and that
//! renewal's answer (from the server, over a connected socket) is judged by the epoch rule
//! ([`crate::pxp::transport::observe_epoch`]). Announcements are therefore not recorded as
//! epochs: a spoofed one with epoch 0 must not count as a reboot, nor make the next true
//! answer look like a second one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio_util::sync::CancellationToken;

use crate::listener;
use crate::pxp::transport::{self, Protocol};
use crate::pxp::{natpmp, pcp};

/// Where clients hear announcements (RFC 6886 3.2.1, RFC 6887 14.1.3 and 19.1).
pub const CLIENT_PORT: u16 = 5350;
/// All hosts on the link (IPv4) and all nodes (IPv6): where servers multicast them.
pub const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// One announcement from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    pub protocol: Protocol,
    /// The server's epoch as announced (not judged: see the module comment).
    pub epoch: u32,
    /// NAT-PMP's announcement carries the new external address.
    pub external_address: Option<Ipv4Addr>,
    pub from: SocketAddr,
}

/// What one datagram announces, read by the protocols' own bounded parsers: a successful PCP
/// ANNOUNCE response, or a successful NAT-PMP external address response. Anything else
/// (requests, MAP answers, errors, junk) announces nothing.
pub fn parse(d: &[u8]) -> Option<(Protocol, u32, Option<Ipv4Addr>)> {
    match *d.first()? {
        pcp::VERSION => {
            let r = pcp::parse_response(d).ok()?;
            (r.opcode == pcp::OP_ANNOUNCE && r.result_code == pcp::RESULT_SUCCESS).then_some((
                Protocol::Pcp,
                r.epoch,
                None,
            ))
        }
        natpmp::VERSION => {
            let r = natpmp::parse_response(d).ok()?;
            match (r.opcode, r.result_code, r.epoch, r.body) {
                (
                    natpmp::OP_EXTERNAL_ADDRESS,
                    natpmp::RESULT_SUCCESS,
                    Some(epoch),
                    natpmp::Body::ExternalAddress(address),
                ) => Some((Protocol::NatPmp, epoch, Some(address))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `from` speaks for `server`: the server's own address and port. Over IPv6 a router
/// multicasts from its link-local address, which need not be the address a host sends its
/// requests to (a unique-local or global one, or another link-local address of the same
/// router): a link-local source on the server's port is taken too. A host cannot tell which
/// link-local address is its router's; the cost of another host's is one renewal (the
/// holder rate-limits them).
pub fn from_server(from: SocketAddr, server: IpAddr, server_port: u16) -> bool {
    if from.port() != server_port {
        return false;
    }
    match (from.ip(), server) {
        (IpAddr::V4(a), IpAddr::V4(s)) => a == s,
        (IpAddr::V6(a), IpAddr::V6(s)) => a == s || a.is_unicast_link_local(),
        // An IPv4-mapped source on a dual-stack socket.
        (IpAddr::V6(a), IpAddr::V4(s)) => a.to_ipv4_mapped() == Some(s),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// Opens a socket that hears announcements of the family of `server`: `port` (5350) shared
/// with every other listener on this host (several programs may hold mappings), the
/// all-hosts / all-nodes group joined on the interface that faces the server (the one the
/// kernel would send to it from), else on every interface. It only listens. Linux and macOS
/// keep every interface in those groups anyway, so a join that fails is not fatal; it is for
/// systems that deliver nothing without one.
pub fn open_listener(server: IpAddr, port: u16) -> io::Result<std::net::UdpSocket> {
    let socket = listener::shared_socket(server.is_ipv6(), port)?;
    let facing = crate::route::local_address_for(SocketAddr::new(server, transport::SERVER_PORT));
    let interfaces = listener::interfaces();
    if server.is_ipv6() {
        let facing_index = interfaces
            .iter()
            .find(|i| facing.as_ref().is_ok_and(|f| *f == i.ip()))
            .and_then(|i| i.index);
        let indexes = facing_index.map_or_else(|| listener::ipv6_indexes(&interfaces), |i| vec![i]);
        for index in indexes {
            let _ = socket.join_multicast_v6(&ALL_NODES, index);
        }
    } else {
        let addresses = match facing {
            Ok(IpAddr::V4(v4)) if !v4.is_unspecified() => vec![v4],
            _ => listener::ipv4_addresses(&interfaces),
        };
        for address in addresses {
            let _ = socket.join_multicast_v4(&ALL_HOSTS, &address);
        }
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Hands every announcement from `server` (its address, `server_port`) that arrives on
/// `socket` to `on`, until `stop` is cancelled. Datagrams from anyone else, and datagrams
/// that announce nothing, are dropped unparsed or after the bounded parse; a failed receive
/// is skipped: the listener lives as long as its owner wants it.
pub async fn listen(
    socket: std::net::UdpSocket,
    server: IpAddr,
    server_port: u16,
    stop: CancellationToken,
    mut on: impl FnMut(Heard),
) {
    let Ok(socket) = tokio::net::UdpSocket::from_std(socket) else {
        return;
    };
    // One byte more than any message, so an oversized datagram is seen as such and refused.
    let mut buffer = vec![0u8; transport::MAX_MESSAGE + 1];
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            received = socket.recv_from(&mut buffer) => {
                let Ok((len, from)) = received else { continue };
                if !from_server(from, server, server_port) {
                    continue;
                }
                let Some((protocol, epoch, external_address)) = parse(&buffer[..len]) else {
                    continue;
                };
                on(Heard { protocol, epoch, external_address, from });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What miniupnpd 2.3.1 multicast in the lab (see the module comment), byte for byte.
    const MINIUPNPD_ANNOUNCE: [u8; 24] = [
        2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    const MINIUPNPD_ADDRESS_CHANGE: [u8; 12] = [0, 0x80, 0, 0, 0, 0, 0, 2, 11, 22, 33, 44];

    #[test]
    fn reads_what_miniupnpd_announces() {
        assert_eq!(parse(&MINIUPNPD_ANNOUNCE), Some((Protocol::Pcp, 0, None)));
        assert_eq!(
            parse(&MINIUPNPD_ADDRESS_CHANGE),
            Some((Protocol::NatPmp, 2, Some(Ipv4Addr::new(11, 22, 33, 44))))
        );
    }

    #[test]
    fn announces_nothing_else() {
        let mut request = MINIUPNPD_ANNOUNCE;
        request[1] = 0; // an ANNOUNCE request (another client's), not a response
        let mut refused = MINIUPNPD_ANNOUNCE;
        refused[3] = pcp::RESULT_NOT_AUTHORIZED;
        let mut map = [0u8; 60];
        map[0] = 2;
        map[1] = 0x81; // a MAP response
        let mut nat_error = MINIUPNPD_ADDRESS_CHANGE;
        nat_error[3] = 3; // network failure
        let mut nat_map = [0u8; 16];
        nat_map[1] = 0x81;
        for junk in [
            &request[..],
            &refused,
            &map,
            &nat_error,
            &nat_map,
            &MINIUPNPD_ANNOUNCE[..20],      // cut
            &MINIUPNPD_ADDRESS_CHANGE[..8], // no address
            &[1, 0x80, 0, 0],               // PCP version 1
            &[],
            &[0xff; 2000], // oversized
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn only_the_server_speaks_for_itself() {
        let server: IpAddr = "192.168.77.1".parse().unwrap();
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(from_server(at("192.168.77.1:5351"), server, 5351));
        assert!(!from_server(at("192.168.77.1:5350"), server, 5351));
        assert!(!from_server(at("192.168.77.11:5351"), server, 5351));
        assert!(from_server(at("[::ffff:192.168.77.1]:5351"), server, 5351));
        assert!(!from_server(at("[fe80::1]:5351"), server, 5351));
        let server6: IpAddr = "fd77::1".parse().unwrap();
        assert!(from_server(at("[fd77::1]:5351"), server6, 5351));
        assert!(from_server(
            at("[fe80::8c20:9bff:fe6c:e50f]:5351"),
            server6,
            5351
        ));
        assert!(!from_server(at("[fd77::11]:5351"), server6, 5351));
        assert!(!from_server(at("[fe80::1]:40000"), server6, 5351));
    }

    #[tokio::test]
    async fn hands_over_announcements_from_the_server_only() {
        let server: IpAddr = "127.0.0.1".parse().unwrap();
        // The server's side: a socket of its own, whose port plays 5351.
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_port = sender.local_addr().unwrap().port();
        let socket = open_listener(server, 0).unwrap();
        let listening = socket.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(listen(
            socket,
            server,
            server_port,
            stop.clone(),
            move |h| {
                let _ = tx.send(h);
            },
        ));
        // Another host's socket (another port on loopback) is not the server.
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        other.send_to(&MINIUPNPD_ANNOUNCE, listening).unwrap();
        sender.send_to(b"junk", listening).unwrap();
        sender
            .send_to(&MINIUPNPD_ADDRESS_CHANGE, listening)
            .unwrap();
        sender.send_to(&MINIUPNPD_ANNOUNCE, listening).unwrap();
        let first = rx.recv().await.unwrap();
        assert_eq!(
            (first.protocol, first.epoch, first.external_address),
            (Protocol::NatPmp, 2, Some(Ipv4Addr::new(11, 22, 33, 44)))
        );
        assert_eq!(first.from.port(), server_port);
        let second = rx.recv().await.unwrap();
        assert_eq!((second.protocol, second.epoch), (Protocol::Pcp, 0));
        assert!(rx.try_recv().is_err(), "nothing from the other host");
        stop.cancel();
        task.await.unwrap();
    }
}
