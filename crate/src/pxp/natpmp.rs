//! NAT-PMP (RFC 6886): the external address request, UDP/TCP mapping requests (a lifetime of
//! 0 deletes), their responses, and the client calls built on [`crate::pxp::transport::exchange`].
//!
//! Result codes stay raw (`u16` on the wire, 0..=5 defined); [`result_meaning`] names them
//! and [`result_to_upnp`] gives the closest Godot number for callers that mix protocols.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::errors::UpnpResult;
use crate::pxp::client::{self, be16, be32, Accepted};
use crate::pxp::transport::{self, Protocol, Timing};

pub const VERSION: u8 = 0;
pub const OP_EXTERNAL_ADDRESS: u8 = 0;
pub const OP_MAP_UDP: u8 = 1;
pub const OP_MAP_TCP: u8 = 2;
/// Set in the opcode of every response (RFC 6886 3.2).
pub const RESPONSE_BIT: u8 = 0x80;

pub const RESULT_SUCCESS: u16 = 0;
pub const RESULT_UNSUPPORTED_VERSION: u16 = 1;
pub const RESULT_NOT_AUTHORIZED: u16 = 2;
pub const RESULT_NETWORK_FAILURE: u16 = 3;
pub const RESULT_OUT_OF_RESOURCES: u16 = 4;
pub const RESULT_UNSUPPORTED_OPCODE: u16 = 5;

/// RFC 6886 3.5's names.
pub fn result_meaning(code: u16) -> &'static str {
    match code {
        RESULT_SUCCESS => "SUCCESS",
        RESULT_UNSUPPORTED_VERSION => Protocol::NatPmp.unsupported_version(),
        RESULT_NOT_AUTHORIZED => "NOT_AUTHORIZED",
        RESULT_NETWORK_FAILURE => "NETWORK_FAILURE",
        RESULT_OUT_OF_RESOURCES => "OUT_OF_RESOURCES",
        RESULT_UNSUPPORTED_OPCODE => "UNSUPPORTED_OPCODE",
        _ => "UNKNOWN",
    }
}

/// The closest Godot `UPNPResult`, so that one mapper can report every protocol alike.
pub fn result_to_upnp(code: u16) -> UpnpResult {
    match code {
        RESULT_SUCCESS => UpnpResult::Success,
        // The gateway does not speak this protocol (version) at all.
        RESULT_UNSUPPORTED_VERSION => UpnpResult::InvalidGateway,
        RESULT_NOT_AUTHORIZED => UpnpResult::NotAuthorized,
        // No external address yet (e.g. DHCP on the WAN side has not completed).
        RESULT_NETWORK_FAILURE => UpnpResult::ActionFailed,
        RESULT_OUT_OF_RESOURCES => UpnpResult::NoPortMapsAvailable,
        RESULT_UNSUPPORTED_OPCODE => UpnpResult::ActionFailed,
        _ => UpnpResult::UnknownError,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapProtocol {
    Udp,
    Tcp,
}

impl MapProtocol {
    pub fn opcode(self) -> u8 {
        match self {
            Self::Udp => OP_MAP_UDP,
            Self::Tcp => OP_MAP_TCP,
        }
    }
}

/// RFC 6886 3.2.
pub fn external_address_request() -> [u8; 2] {
    [VERSION, OP_EXTERNAL_ADDRESS]
}

/// RFC 6886 3.3. `lifetime` 0 with `suggested_external_port` 0 deletes the mapping of
/// `internal_port` (3.4); `internal_port` 0 too deletes all of this client's mappings of that
/// protocol.
pub fn map_request(
    protocol: MapProtocol,
    internal_port: u16,
    suggested_external_port: u16,
    lifetime: u32,
) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[0] = VERSION;
    out[1] = protocol.opcode();
    // out[2..4] reserved, zero.
    out[4..6].copy_from_slice(&internal_port.to_be_bytes());
    out[6..8].copy_from_slice(&suggested_external_port.to_be_bytes());
    out[8..12].copy_from_slice(&lifetime.to_be_bytes());
    out
}

/// The opcode-specific part of a response, when the datagram is long enough to hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Header and epoch only (error responses may stop there).
    None,
    ExternalAddress(Ipv4Addr),
    Map {
        internal_port: u16,
        external_port: u16,
        lifetime: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's opcode (the response bit removed).
    pub opcode: u8,
    pub result_code: u16,
    /// Seconds since the server's epoch; absent when the datagram stops before it, or for
    /// "unsupported opcode", where RFC 6886 3.5 echoes the request instead.
    pub epoch: Option<u32>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than the 4 header bytes.
    Short(usize),
    /// Larger than any NAT-PMP or PCP message.
    Oversized(usize),
    /// Not NAT-PMP (version 0): a PCP server says 2 (RFC 6887 9).
    Version(u8),
    /// Response bit missing: a request (ours reflected, or another client's).
    NotAResponse(u8),
    /// A success whose body is cut short.
    Truncated { opcode: u8, len: usize },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short(n) => write!(f, "{n}-byte datagram is too short"),
            Self::Oversized(n) => write!(f, "{n}-byte datagram is too large"),
            Self::Version(v) => write!(f, "version {v}, not NAT-PMP"),
            Self::NotAResponse(op) => write!(f, "opcode {op} is not a response"),
            Self::Truncated { opcode, len } => {
                write!(f, "response to opcode {opcode} cut at {len} bytes")
            }
        }
    }
}

/// Parses any NAT-PMP response. Bytes after a complete body are ignored (NAT-PMP has no
/// options; the RFC allows nothing there, but refusing them would gain nothing).
pub fn parse_response(d: &[u8]) -> Result<Response, ParseError> {
    if d.len() > transport::MAX_MESSAGE {
        return Err(ParseError::Oversized(d.len()));
    }
    if d.len() < 4 {
        return Err(ParseError::Short(d.len()));
    }
    if d[0] != VERSION {
        return Err(ParseError::Version(d[0]));
    }
    let result_code = be16(d, 2);
    let opcode = if d[1] & RESPONSE_BIT != 0 {
        d[1] & !RESPONSE_BIT
    } else if d[1] == 0 && result_code == RESULT_UNSUPPORTED_VERSION {
        // RFC 6886 erratum 3618: the RFC's own figure had OP = 0 for this response, and some
        // servers copied it.
        0
    } else {
        return Err(ParseError::NotAResponse(d[1]));
    };
    let epoch = (d.len() >= 8 && result_code != RESULT_UNSUPPORTED_OPCODE).then(|| be32(d, 4));
    let body = match opcode {
        OP_EXTERNAL_ADDRESS if d.len() >= 12 => {
            Body::ExternalAddress(Ipv4Addr::new(d[8], d[9], d[10], d[11]))
        }
        OP_MAP_UDP | OP_MAP_TCP if d.len() >= 16 => Body::Map {
            internal_port: be16(d, 8),
            external_port: be16(d, 10),
            lifetime: be32(d, 12),
        },
        OP_EXTERNAL_ADDRESS | OP_MAP_UDP | OP_MAP_TCP if result_code == RESULT_SUCCESS => {
            return Err(ParseError::Truncated {
                opcode,
                len: d.len(),
            })
        }
        _ => Body::None,
    };
    if result_code == RESULT_SUCCESS && epoch.is_none() {
        return Err(ParseError::Truncated {
            opcode,
            len: d.len(),
        });
    }
    Ok(Response {
        opcode,
        result_code,
        epoch,
        body,
    })
}

/// An answer from the server, judged (the shared skeleton's, with NAT-PMP's response).
pub type Reply = client::Reply<Response>;
pub use client::Error;

/// Accepts the response to `opcode` (and, for a mapping, to `internal_port`).
fn accept(d: &[u8], opcode: u8, internal_port: Option<u16>) -> Result<Accepted<Response>, String> {
    match parse_response(d) {
        Ok(r) if r.opcode != opcode => Err(format!("response to opcode {}", r.opcode)),
        Ok(r) => match (&r.body, internal_port) {
            (
                Body::Map {
                    internal_port: p, ..
                },
                Some(ours),
            ) if *p != ours => Err(format!("response for internal port {p}")),
            _ => Ok(Accepted::Response(r)),
        },
        // Only a well-formed answer in another version means "not spoken here"; junk that
        // happens to start with 2 is junk.
        Err(ParseError::Version(v)) if d.len() >= 4 && d[1] & RESPONSE_BIT != 0 => {
            Ok(Accepted::OtherVersion {
                version: v,
                result_code: be16(d, 2),
            })
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn request(
    server: SocketAddr,
    message: &[u8],
    opcode: u8,
    internal_port: Option<u16>,
    timing: &Timing,
) -> Result<Reply, Error> {
    client::request(
        server,
        None,
        Protocol::NatPmp,
        |_| message.to_vec(),
        |d| accept(d, opcode, internal_port),
        |r: &Response| r.epoch,
        timing,
    )
    .await
}

/// The gateway's external IPv4 address (RFC 6886 3.2).
pub async fn external_address(server: SocketAddr, timing: &Timing) -> Result<Reply, Error> {
    request(
        server,
        &external_address_request(),
        OP_EXTERNAL_ADDRESS,
        None,
        timing,
    )
    .await
}

/// Creates or renews a mapping (RFC 6886 3.3). The granted lifetime and external port are
/// in the reply and may differ from what was asked.
pub async fn map(
    server: SocketAddr,
    protocol: MapProtocol,
    internal_port: u16,
    suggested_external_port: u16,
    lifetime: u32,
    timing: &Timing,
) -> Result<Reply, Error> {
    let message = map_request(protocol, internal_port, suggested_external_port, lifetime);
    request(
        server,
        &message,
        protocol.opcode(),
        Some(internal_port),
        timing,
    )
    .await
}

/// Deletes a mapping: one request (lifetime 0, external port 0, RFC 6886 3.4), repeated
/// only while unanswered.
pub async fn delete(
    server: SocketAddr,
    protocol: MapProtocol,
    internal_port: u16,
    timing: &Timing,
) -> Result<Reply, Error> {
    map(server, protocol, internal_port, 0, 0, timing).await
}

/// The server address for a gateway (NAT-PMP is IPv4 only).
pub fn server(gateway: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(gateway), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_the_rfc_layout() {
        assert_eq!(external_address_request(), [0, 0]);
        // RFC 6886 3.3: version, opcode, reserved, internal port, suggested external port,
        // requested lifetime (7200 s recommended).
        assert_eq!(
            map_request(MapProtocol::Udp, 7777, 7778, 7200),
            [0, 1, 0, 0, 0x1e, 0x61, 0x1e, 0x62, 0, 0, 0x1c, 0x20]
        );
        assert_eq!(
            map_request(MapProtocol::Tcp, 0xffff, 0, u32::MAX),
            [0, 2, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff]
        );
        // Delete (3.4): lifetime 0 and external port 0.
        assert_eq!(
            map_request(MapProtocol::Tcp, 80, 0, 0),
            [0, 2, 0, 0, 0, 80, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn parses_an_external_address_response() {
        // What miniupnpd 2.3.1 sent in the lab: epoch 9, 11.22.33.44.
        let d = [0x00, 0x80, 0, 0, 0, 0, 0, 9, 11, 22, 33, 44];
        assert_eq!(
            parse_response(&d).unwrap(),
            Response {
                opcode: 0,
                result_code: 0,
                epoch: Some(9),
                body: Body::ExternalAddress(Ipv4Addr::new(11, 22, 33, 44)),
            }
        );
    }

    #[test]
    fn parses_map_responses() {
        // miniupnpd: UDP 43000 -> external 44000, 3600 s, epoch 25.
        let d = [
            0x00, 0x81, 0, 0, 0, 0, 0, 0x19, 0xa7, 0xf8, 0xab, 0xe0, 0, 0, 0x0e, 0x10,
        ];
        assert_eq!(
            parse_response(&d).unwrap(),
            Response {
                opcode: 1,
                result_code: 0,
                epoch: Some(25),
                body: Body::Map {
                    internal_port: 43000,
                    external_port: 44000,
                    lifetime: 3600
                },
            }
        );
        // TCP, refused (result 2) with the request's ports echoed.
        let d = [0x00, 0x82, 0, 2, 0, 0, 0, 0x19, 0, 80, 0, 80, 0, 0, 0, 30];
        let r = parse_response(&d).unwrap();
        assert_eq!((r.opcode, r.result_code), (2, RESULT_NOT_AUTHORIZED));
        assert_eq!(
            r.body,
            Body::Map {
                internal_port: 80,
                external_port: 80,
                lifetime: 30
            }
        );
    }

    #[test]
    fn error_responses_may_be_header_and_epoch_only() {
        // miniupnpd's answer to opcode 7: 8 bytes, result 5. The epoch slot is not trusted
        // for "unsupported opcode" (RFC 6886 3.5 echoes the request there).
        let r = parse_response(&[0, 0x87, 0, 5, 0, 0, 0, 10]).unwrap();
        assert_eq!(
            r,
            Response {
                opcode: 7,
                result_code: 5,
                epoch: None,
                body: Body::None
            }
        );
        // Unsupported version, with and without the erratum's response bit.
        for op in [0x80, 0x00] {
            let r = parse_response(&[0, op, 0, 1, 0, 0, 1, 0]).unwrap();
            assert_eq!(r.result_code, RESULT_UNSUPPORTED_VERSION);
            assert_eq!(r.epoch, Some(256));
        }
        // A 4-byte error without epoch.
        let r = parse_response(&[0, 0x81, 0, 3]).unwrap();
        assert_eq!((r.result_code, r.epoch, r.body), (3, None, Body::None));
    }

    #[test]
    fn every_result_code_keeps_its_number() {
        for code in 0u16..=7 {
            let d = [0, 0x80, (code >> 8) as u8, code as u8, 0, 0, 0, 1];
            let r = parse_response(&d);
            if code == 0 {
                // A success must carry its body.
                assert_eq!(r, Err(ParseError::Truncated { opcode: 0, len: 8 }));
            } else {
                assert_eq!(r.unwrap().result_code, code);
            }
        }
        let r = parse_response(&[0, 0x80, 0x12, 0x34, 0, 0, 0, 1]).unwrap();
        assert_eq!(r.result_code, 0x1234);
        assert_eq!(result_meaning(0x1234), "UNKNOWN");
        assert_eq!(result_to_upnp(0x1234), UpnpResult::UnknownError);
    }

    #[test]
    fn result_table() {
        let table = [
            (0, "SUCCESS", UpnpResult::Success),
            (1, "UNSUPPORTED_VERSION", UpnpResult::InvalidGateway),
            (2, "NOT_AUTHORIZED", UpnpResult::NotAuthorized),
            (3, "NETWORK_FAILURE", UpnpResult::ActionFailed),
            (4, "OUT_OF_RESOURCES", UpnpResult::NoPortMapsAvailable),
            (5, "UNSUPPORTED_OPCODE", UpnpResult::ActionFailed),
            (6, "UNKNOWN", UpnpResult::UnknownError),
        ];
        for (code, name, upnp) in table {
            assert_eq!(result_meaning(code), name);
            assert_eq!(result_to_upnp(code), upnp);
        }
    }

    #[test]
    fn malformed_responses_are_refused() {
        assert_eq!(parse_response(&[]), Err(ParseError::Short(0)));
        assert_eq!(parse_response(&[0, 0x80, 0]), Err(ParseError::Short(3)));
        // A PCP server's UNSUPP_VERSION (24 bytes, version 2).
        let mut pcp = [0u8; 24];
        pcp[0] = 2;
        pcp[1] = 0x80;
        pcp[3] = 1;
        assert_eq!(parse_response(&pcp), Err(ParseError::Version(2)));
        assert_eq!(
            parse_response(&[1, 0x80, 0, 0]),
            Err(ParseError::Version(1))
        );
        // Our own request reflected back (no response bit).
        assert_eq!(
            parse_response(&map_request(MapProtocol::Udp, 1, 1, 1)),
            Err(ParseError::NotAResponse(1))
        );
        assert_eq!(
            parse_response(&[0, 0, 0, 0]),
            Err(ParseError::NotAResponse(0))
        );
        // Successes cut short.
        assert_eq!(
            parse_response(&[0, 0x80, 0, 0, 0, 0, 0, 9, 11, 22, 33]),
            Err(ParseError::Truncated { opcode: 0, len: 11 })
        );
        assert_eq!(
            parse_response(&[0, 0x81, 0, 0, 0, 0, 0, 9, 0, 1, 0, 1, 0, 0, 0]),
            Err(ParseError::Truncated { opcode: 1, len: 15 })
        );
        assert_eq!(
            parse_response(&[0, 0x80, 0, 0, 0, 0]),
            Err(ParseError::Truncated { opcode: 0, len: 6 })
        );
        let big = vec![0u8; transport::MAX_MESSAGE + 1];
        assert_eq!(
            parse_response(&big),
            Err(ParseError::Oversized(transport::MAX_MESSAGE + 1))
        );
    }

    #[test]
    fn trailing_bytes_and_unknown_opcodes() {
        let mut d = vec![0, 0x80, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4];
        d.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            parse_response(&d).unwrap().body,
            Body::ExternalAddress(Ipv4Addr::new(1, 2, 3, 4))
        );
        // Up to the size cap, trailing bytes are tolerated.
        d.resize(transport::MAX_MESSAGE, 0);
        assert!(parse_response(&d).is_ok());
        // A success for an opcode we never send: header only.
        let r = parse_response(&[0, 0x83, 0, 0, 0, 0, 0, 1]).unwrap();
        assert_eq!((r.opcode, r.body), (3, Body::None));
    }

    #[test]
    fn the_client_matches_opcode_and_port() {
        let ext = [0, 0x80, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4];
        assert!(accept(&ext, OP_EXTERNAL_ADDRESS, None).is_ok());
        assert!(accept(&ext, OP_MAP_UDP, Some(1)).is_err());
        let map = [0, 0x81, 0, 0, 0, 0, 0, 9, 0, 5, 0, 6, 0, 0, 0, 7];
        assert!(accept(&map, OP_MAP_UDP, Some(5)).is_ok());
        assert!(accept(&map, OP_MAP_UDP, Some(6)).is_err());
        assert!(accept(&map, OP_MAP_TCP, Some(5)).is_err());
        // An error without a body cannot be matched by port, but is ours by opcode.
        assert!(accept(&[0, 0x81, 0, 3, 0, 0, 0, 9], OP_MAP_UDP, Some(5)).is_ok());
        // PCP's answer: the server does not speak NAT-PMP.
        let mut pcp = [0u8; 24];
        pcp[0] = 2;
        pcp[1] = 0x80;
        pcp[3] = 1;
        assert!(matches!(
            accept(&pcp, OP_EXTERNAL_ADDRESS, None),
            Ok(Accepted::OtherVersion {
                version: 2,
                result_code: 1
            })
        ));
        // ... but a version-2 datagram without the response bit is just junk.
        pcp[1] = 0;
        assert!(accept(&pcp, OP_EXTERNAL_ADDRESS, None).is_err());
    }

    /// Random and mutated datagrams: the parser answers, never panics.
    #[test]
    fn never_panics_on_random_input() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds: [&[u8]; 3] = [
            &[0, 0x80, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4],
            &[0, 0x81, 0, 0, 0, 0, 0, 9, 0, 5, 0, 6, 0, 0, 0, 7],
            &[0, 0x82, 0, 2, 0, 0, 0, 9],
        ];
        for i in 0..200_000 {
            let d: Vec<u8> = if i % 2 == 0 {
                let len = (next() % 40) as usize + if i % 1000 == 0 { 1100 } else { 0 };
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut d = seeds[i % 3].to_vec();
                let pos = next() as usize % d.len();
                d[pos] ^= 1 << (next() % 8);
                d.truncate(next() as usize % (d.len() + 1));
                d
            };
            let _ = parse_response(&d);
            let _ = accept(&d, OP_MAP_UDP, Some(5));
        }
    }

    /// A loopback server answering every request with `reply`. Each test uses its own
    /// loopback address: epochs are remembered per server address, process-wide.
    async fn fake(ip: &str, reply: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let server = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
        let addr = server.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while let Ok(Ok((len, from))) = tokio::time::timeout(
                std::time::Duration::from_millis(300),
                server.recv_from(&mut buf),
            )
            .await
            {
                got.push(buf[..len].to_vec());
                server.send_to(&reply, from).await.unwrap();
            }
            got
        });
        (addr, task)
    }

    #[tokio::test]
    async fn delete_sends_exactly_one_request_when_answered() {
        let reply = vec![0, 0x82, 0, 0, 0, 0, 0, 40, 0x1e, 0x61, 0, 0, 0, 0, 0, 0];
        let (addr, server) = fake("127.0.1.1", reply).await;
        let timing = Timing::with_budget(std::time::Duration::from_secs(2));
        let r = delete(addr, MapProtocol::Tcp, 7777, &timing).await.unwrap();
        assert_eq!(r.attempts, 1);
        assert_eq!(r.response.result_code, 0);
        let got = server.await.unwrap();
        assert_eq!(
            got,
            vec![map_request(MapProtocol::Tcp, 7777, 0, 0).to_vec()]
        );
    }

    #[tokio::test]
    async fn a_pcp_only_server_is_reported_as_another_version() {
        let mut reply = vec![0u8; 24];
        reply[0] = 2;
        reply[1] = 0x80;
        reply[3] = 1;
        let (addr, _server) = fake("127.0.1.2", reply).await;
        let timing = Timing::with_budget(std::time::Duration::from_millis(500));
        let err = external_address(addr, &timing).await.unwrap_err();
        assert!(matches!(
            err,
            Error::OtherVersion {
                protocol: Protocol::NatPmp,
                version: 2,
                result_code: 1,
                attempts: 1
            }
        ));
        assert_eq!(err.meaning(), "UNSUPPORTED_VERSION");
        assert_eq!(
            err.to_string(),
            "the server answered with protocol version 2 (result 1), not NAT-PMP (0)"
        );
    }

    #[tokio::test]
    async fn epochs_are_observed_per_server() {
        let (addr, _server) = fake("127.0.1.3", vec![0, 0x80, 0, 0, 0, 0, 0, 77, 1, 2, 3, 4]).await;
        let timing = Timing::with_budget(std::time::Duration::from_millis(500));
        let r = external_address(addr, &timing).await.unwrap();
        let check = r.epoch.unwrap();
        assert_eq!(check.epoch, 77);
        assert!(!check.rebooted);
        assert_eq!(r.local.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        // A second answer from the same server, far lower: a reboot.
        let (addr2, _server2) =
            fake("127.0.1.3", vec![0, 0x80, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]).await;
        let r = external_address(addr2, &timing).await.unwrap();
        assert_eq!(
            r.epoch.map(|e| (e.epoch, e.rebooted, e.resets)),
            Some((1, true, 1))
        );
    }
}
