use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::*;
use crate::stun::client;
use crate::stun::message::*;

/// How the loopback server misbehaves.
#[derive(Clone, Copy, Default)]
pub struct Quirks {
    /// Answers a CHANGE-REQUEST from the primary socket (a server that cannot change).
    pub ignore_change: bool,
    /// Sends a garbage datagram and a wrong-id answer before each real answer.
    pub noise_first: bool,
    /// Leaves OTHER-ADDRESS out (a server without RFC 5780).
    pub no_other: bool,
}

/// An RFC 5780 server on loopback: primary 127.0.4.1:P1, other 127.0.4.2:P2, and the two
/// mixed sockets, as coturn listens with two addresses and two ports.
pub async fn fake_server(quirks: Quirks) -> (SocketAddr, SocketAddr) {
    let (a1, a2) = (Ipv4Addr::new(127, 0, 4, 1), Ipv4Addr::new(127, 0, 4, 2));
    loop {
        let s11 = UdpSocket::bind((a1, 0)).await.unwrap();
        let p1 = s11.local_addr().unwrap().port();
        let s12 = UdpSocket::bind((a1, 0)).await.unwrap();
        let p2 = s12.local_addr().unwrap().port();
        let (Ok(s21), Ok(s22)) = (
            UdpSocket::bind((a2, p1)).await,
            UdpSocket::bind((a2, p2)).await,
        ) else {
            continue;
        };
        let sockets: Arc<[UdpSocket; 4]> = Arc::new([s11, s12, s21, s22]);
        let other = SocketAddr::new(IpAddr::V4(a2), p2);
        for i in 0..4 {
            let sockets = sockets.clone();
            tokio::spawn(async move { serve(sockets, i, other, quirks).await });
        }
        return (SocketAddr::new(IpAddr::V4(a1), p1), other);
    }
}

async fn serve(sockets: Arc<[UdpSocket; 4]>, me: usize, other: SocketAddr, quirks: Quirks) {
    let mut buf = [0u8; 1500];
    while let Ok(Ok((len, from))) =
        tokio::time::timeout(Duration::from_secs(5), sockets[me].recv_from(&mut buf)).await
    {
        let d = &buf[..len];
        let id: TransactionId = d[8..20].try_into().unwrap();
        let (mut change, mut port) = (0u32, from.port());
        let mut at = 20;
        while at + 4 <= len {
            let (t, l) = (
                u16::from_be_bytes([d[at], d[at + 1]]),
                usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]])),
            );
            if t == ATTR_CHANGE_REQUEST {
                change = u32::from_be_bytes(d[at + 4..at + 8].try_into().unwrap());
            }
            if t == ATTR_RESPONSE_PORT {
                port = u16::from_be_bytes([d[at + 4], d[at + 5]]);
            }
            at += 4 + l.div_ceil(4) * 4;
        }
        // Socket index: bit 1 = other address, bit 0 = other port.
        let mut answer_from = me;
        if !quirks.ignore_change {
            if change & CHANGE_IP != 0 {
                answer_from ^= 2;
            }
            if change & CHANGE_PORT != 0 {
                answer_from ^= 1;
            }
        }
        let origin = sockets[answer_from].local_addr().unwrap();
        let mut attributes = vec![
            (ATTR_XOR_MAPPED_ADDRESS, xor_address(from, &id)),
            (ATTR_RESPONSE_ORIGIN, plain_address(origin)),
        ];
        if !quirks.no_other {
            attributes.push((ATTR_OTHER_ADDRESS, plain_address(other)));
        }
        let to = SocketAddr::new(from.ip(), port);
        if quirks.noise_first {
            let _ = sockets[answer_from].send_to(b"not stun at all", to).await;
            let _ = sockets[answer_from]
                .send_to(&build(&[0xEE; 12], &attributes), to)
                .await;
        }
        let _ = sockets[answer_from]
            .send_to(&build(&id, &attributes), to)
            .await;
    }
}

fn build(id: &TransactionId, attributes: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(id);
    for (t, v) in attributes {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
    }
    let body = (out.len() - HEADER_LEN) as u16;
    out[2..4].copy_from_slice(&body.to_be_bytes());
    out
}

fn plain_address(a: SocketAddr) -> Vec<u8> {
    let (family, ip) = match a.ip() {
        IpAddr::V4(ip) => (1, ip.octets().to_vec()),
        IpAddr::V6(ip) => (2, ip.octets().to_vec()),
    };
    let mut v = vec![0, family];
    v.extend_from_slice(&a.port().to_be_bytes());
    v.extend_from_slice(&ip);
    v
}

/// XOR-MAPPED-ADDRESS: port and address XORed with the cookie, IPv6 also with the id.
fn xor_address(a: SocketAddr, id: &TransactionId) -> Vec<u8> {
    let mut v = plain_address(a);
    let key: Vec<u8> = MAGIC_COOKIE
        .to_be_bytes()
        .iter()
        .chain(id.iter())
        .copied()
        .collect();
    v[2] ^= key[0];
    v[3] ^= key[1];
    for (b, k) in v[4..].iter_mut().zip(&key) {
        *b ^= k;
    }
    v
}

fn quick() -> Timing {
    client::timing(Duration::from_millis(600))
}

#[tokio::test]
async fn on_loopback_there_is_no_nat_and_nothing_is_filtered() {
    let (server, other) = fake_server(Quirks::default()).await;
    let b = discover(server, &quick()).await.unwrap();
    assert_eq!(b.other, Some(other));
    assert!(b.no_nat, "{b:?}");
    assert_eq!(b.mapping, Some(Dependence::EndpointIndependent));
    assert_eq!(b.filtering, Some(Dependence::EndpointIndependent));
}

#[tokio::test]
async fn noise_and_wrong_ids_are_ignored_and_the_answer_still_taken() {
    let (server, _) = fake_server(Quirks {
        noise_first: true,
        ..Default::default()
    })
    .await;
    let socket = client::bind_for(server).unwrap();
    let run = client::run(&socket, &[client::Transaction::binding(server)], &quick())
        .await
        .unwrap();
    assert!(run.outcomes[0].answered().is_some());
    assert_eq!(run.ignored, 2, "{run:?}");
}

#[tokio::test]
async fn a_server_that_does_not_change_its_address_proves_nothing() {
    // Its answers come from the primary socket: never taken as the other address's.
    let (server, _) = fake_server(Quirks {
        ignore_change: true,
        ..Default::default()
    })
    .await;
    let b = discover(server, &quick()).await.unwrap();
    assert_eq!(b.filtering, Some(Dependence::AddressAndPortDependent));
    let socket = client::bind_for(server).unwrap();
    let inbound = inbound(&socket, server, None, &quick())
        .await
        .unwrap()
        .unwrap();
    assert!(!inbound.reached);
}

#[tokio::test]
async fn a_server_without_other_address_cannot_tell() {
    let (server, _) = fake_server(Quirks {
        no_other: true,
        ..Default::default()
    })
    .await;
    let b = discover(server, &quick()).await.unwrap();
    assert_eq!((b.mapping, b.filtering), (None, None));
    assert!(b.notes[0].contains("OTHER-ADDRESS"), "{:?}", b.notes);
    let socket = client::bind_for(server).unwrap();
    assert!(inbound(&socket, server, None, &quick())
        .await
        .unwrap()
        .is_err());
}

#[tokio::test]
async fn response_port_sends_the_answer_to_another_port() {
    let (server, other) = fake_server(Quirks::default()).await;
    // The "mapped" port: a second socket of ours; the first asks for the answer to go there.
    let asking = client::bind_for(server).unwrap();
    let receiving = client::bind_for(server).unwrap();
    let port = receiving.local_addr().unwrap().port();
    let result = inbound(&asking, server, Some(port), &quick())
        .await
        .unwrap()
        .unwrap();
    // It went to the other socket, so the asking one never saw it.
    assert!(!result.reached && result.sent_to_port == port && result.other == other);
    let mut buf = [0u8; 1500];
    let (len, from) = tokio::time::timeout(Duration::from_secs(1), receiving.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from, other);
    assert!(parse_response(&buf[..len]).unwrap().success);
}

#[tokio::test]
async fn silence_costs_the_budget_and_no_more() {
    let quiet = UdpSocket::bind("127.0.4.3:0").await.unwrap();
    let server = quiet.local_addr().unwrap();
    let started = Instant::now();
    let e = discover(server, &quick()).await.unwrap_err();
    assert_eq!(e.meaning(), "TIMEOUT");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let mut buf = [0u8; 100];
    // Requests were retransmitted: more than one per socket arrived.
    let mut n = 0;
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(10), quiet.recv_from(&mut buf)).await
    {
        n += 1;
    }
    assert!(n >= 4, "{n} requests");
}

#[tokio::test]
async fn a_binding_over_ipv6_reads_the_address_xored_with_the_transaction_id() {
    let server = UdpSocket::bind("[::1]:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let (len, from) = server.recv_from(&mut buf).await.unwrap();
        let id: TransactionId = buf[8..20].try_into().unwrap();
        assert_eq!(len, 28);
        let _ = server
            .send_to(
                &build(&id, &[(ATTR_XOR_MAPPED_ADDRESS, xor_address(from, &id))]),
                from,
            )
            .await;
    });
    let socket = client::bind_for(addr).unwrap();
    let r = binding(&socket, addr, &quick()).await.unwrap();
    assert_eq!(
        r.mapped,
        SocketAddr::new("::1".parse().unwrap(), socket.local_addr().unwrap().port())
    );
    assert_eq!(r.other, None);
}
