//! PCP version 2 (RFC 6887): ANNOUNCE and MAP requests over IPv4 or IPv6, response parsing
//! with options, and the client calls built on [`crate::pxp::transport::exchange`].
//!
//! Addresses travel as 128-bit fields, IPv4 ones IPv4-mapped (`::ffff:a.b.c.d`, RFC 6887 5).
//! A mapping is owned by its 96-bit nonce: renewals and the delete must repeat it, so
//! callers keep the nonce they gave [`map`] ([`new_nonce`] makes a fresh one).
//!
//! miniupnpd 2.3.1, as seen in the lab: answers ANNOUNCE and MAP over IPv4 and IPv6 (an IPv6
//! MAP opens a firewall pinhole), clamps lifetimes to 120..=86400 s, answers a delete of an
//! unknown mapping with NO_RESOURCES, ignores PREFER_FAILURE (assigns another port but echoes
//! the option), lets a MAP with another nonce take over an existing mapping, answers
//! versions 1 and 2 (ANNOUNCE is UNSUPP_OPCODE in version 1) and anything above with
//! UNSUPP_VERSION carrying version 2.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::errors::UpnpResult;
use crate::pxp::client::{self, be16, be32, Accepted};
use crate::pxp::transport::{self, Protocol, Timing};

pub const VERSION: u8 = 2;
pub const OP_ANNOUNCE: u8 = 0;
pub const OP_MAP: u8 = 1;
pub const OP_PEER: u8 = 2;
pub const RESPONSE_BIT: u8 = 0x80;
pub const HEADER_LEN: usize = 24;
pub const MAP_PAYLOAD_LEN: usize = 36;
pub const PEER_PAYLOAD_LEN: usize = 56;
pub const NONCE_LEN: usize = 12;

pub const OPTION_THIRD_PARTY: u8 = 1;
pub const OPTION_PREFER_FAILURE: u8 = 2;
pub const OPTION_FILTER: u8 = 3;

/// IANA protocol numbers used in MAP.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

pub const RESULT_SUCCESS: u8 = 0;
pub const RESULT_UNSUPP_VERSION: u8 = 1;
pub const RESULT_NOT_AUTHORIZED: u8 = 2;
pub const RESULT_MALFORMED_REQUEST: u8 = 3;
pub const RESULT_UNSUPP_OPCODE: u8 = 4;
pub const RESULT_UNSUPP_OPTION: u8 = 5;
pub const RESULT_MALFORMED_OPTION: u8 = 6;
pub const RESULT_NETWORK_FAILURE: u8 = 7;
pub const RESULT_NO_RESOURCES: u8 = 8;
pub const RESULT_UNSUPP_PROTOCOL: u8 = 9;
pub const RESULT_USER_EX_QUOTA: u8 = 10;
pub const RESULT_CANNOT_PROVIDE_EXTERNAL: u8 = 11;
pub const RESULT_ADDRESS_MISMATCH: u8 = 12;
pub const RESULT_EXCESSIVE_REMOTE_PEERS: u8 = 13;

/// RFC 6887 7.4's names.
pub fn result_meaning(code: u8) -> &'static str {
    match code {
        RESULT_SUCCESS => "SUCCESS",
        RESULT_UNSUPP_VERSION => Protocol::Pcp.unsupported_version(),
        RESULT_NOT_AUTHORIZED => "NOT_AUTHORIZED",
        RESULT_MALFORMED_REQUEST => "MALFORMED_REQUEST",
        RESULT_UNSUPP_OPCODE => "UNSUPP_OPCODE",
        RESULT_UNSUPP_OPTION => "UNSUPP_OPTION",
        RESULT_MALFORMED_OPTION => "MALFORMED_OPTION",
        RESULT_NETWORK_FAILURE => "NETWORK_FAILURE",
        RESULT_NO_RESOURCES => "NO_RESOURCES",
        RESULT_UNSUPP_PROTOCOL => "UNSUPP_PROTOCOL",
        RESULT_USER_EX_QUOTA => "USER_EX_QUOTA",
        RESULT_CANNOT_PROVIDE_EXTERNAL => "CANNOT_PROVIDE_EXTERNAL",
        RESULT_ADDRESS_MISMATCH => "ADDRESS_MISMATCH",
        RESULT_EXCESSIVE_REMOTE_PEERS => "EXCESSIVE_REMOTE_PEERS",
        _ => "UNKNOWN",
    }
}

/// The closest Godot `UPNPResult`.
pub fn result_to_upnp(code: u8) -> UpnpResult {
    match code {
        RESULT_SUCCESS => UpnpResult::Success,
        RESULT_UNSUPP_VERSION => UpnpResult::InvalidGateway,
        RESULT_NOT_AUTHORIZED => UpnpResult::NotAuthorized,
        RESULT_MALFORMED_REQUEST | RESULT_UNSUPP_OPTION | RESULT_MALFORMED_OPTION => {
            UpnpResult::InvalidArgs
        }
        RESULT_UNSUPP_OPCODE | RESULT_NETWORK_FAILURE => UpnpResult::ActionFailed,
        RESULT_NO_RESOURCES | RESULT_USER_EX_QUOTA | RESULT_EXCESSIVE_REMOTE_PEERS => {
            UpnpResult::NoPortMapsAvailable
        }
        RESULT_UNSUPP_PROTOCOL => UpnpResult::InvalidProtocol,
        // The suggested external port/address is taken (with PREFER_FAILURE) or unavailable.
        RESULT_CANNOT_PROVIDE_EXTERNAL => UpnpResult::ConflictWithOtherMapping,
        // The client address field is not the packet's source (a NAT between us and it).
        RESULT_ADDRESS_MISMATCH => UpnpResult::InconsistentParameters,
        _ => UpnpResult::UnknownError,
    }
}

/// RFC 6887 5: IPv4 addresses as IPv4-mapped IPv6.
pub fn address_field(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The inverse of [`address_field`]: `::ffff:a.b.c.d` is IPv4.
pub fn address_from_field(field: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(field);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// "No preference" for the external address, in the family of the mapping (RFC 6887 11.1).
pub fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn header(opcode: u8, lifetime: u32, client: IpAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + MAP_PAYLOAD_LEN + 4);
    out.push(VERSION);
    out.push(opcode);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&lifetime.to_be_bytes());
    out.extend_from_slice(&address_field(client));
    out
}

/// RFC 6887 14.1: header only, lifetime 0.
pub fn announce_request(client: IpAddr) -> Vec<u8> {
    header(OP_ANNOUNCE, 0, client)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRequest {
    pub nonce: [u8; NONCE_LEN],
    /// [`PROTO_UDP`], [`PROTO_TCP`] (0 = all protocols; miniupnpd refuses it).
    pub protocol: u8,
    pub internal_port: u16,
    /// 0 = no preference.
    pub suggested_external_port: u16,
    /// Unspecified (of the mapping's family) = no preference.
    pub suggested_external_address: IpAddr,
    /// 0 deletes.
    pub lifetime: u32,
    /// Our address as the server will see it (the datagram's source).
    pub client: IpAddr,
    /// Ask for failure instead of another port/address (RFC 6887 13.2).
    pub prefer_failure: bool,
}

/// RFC 6887 11.1.
pub fn map_request(r: &MapRequest) -> Vec<u8> {
    let mut out = header(OP_MAP, r.lifetime, r.client);
    out.extend_from_slice(&r.nonce);
    out.push(r.protocol);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&r.internal_port.to_be_bytes());
    out.extend_from_slice(&r.suggested_external_port.to_be_bytes());
    out.extend_from_slice(&address_field(r.suggested_external_address));
    if r.prefer_failure {
        // Option with no data: code, reserved, length 0.
        out.extend_from_slice(&[OPTION_PREFER_FAILURE, 0, 0, 0]);
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapPayload {
    pub nonce: [u8; NONCE_LEN],
    pub protocol: u8,
    pub internal_port: u16,
    pub external_port: u16,
    pub external_address: IpAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcpOption {
    pub code: u8,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub opcode: u8,
    pub result_code: u8,
    /// Granted lifetime on success; on an error, how long the error is expected to last.
    pub lifetime: u32,
    pub epoch: u32,
    /// Present when the response carries MAP's payload (errors may stop at the header).
    pub map: Option<MapPayload>,
    /// In order, unknown ones included; the client ignores what it does not know.
    pub options: Vec<PcpOption>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not even the 4 bytes that say version, opcode and result.
    Short(usize),
    Oversized(usize),
    /// Other than version 2. 0 is a NAT-PMP server's answer (RFC 6887 9); `result_code` is
    /// read as that version would place it.
    Version {
        version: u8,
        result_code: u16,
    },
    NotAResponse(u8),
    /// Not a multiple of 4 bytes (RFC 6887 7).
    Unaligned(usize),
    /// Shorter than the header, or than the payload its opcode needs.
    Truncated {
        opcode: u8,
        len: usize,
    },
    /// An option running past the end of the message.
    MalformedOption {
        at: usize,
    },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short(n) => write!(f, "{n}-byte datagram is too short"),
            Self::Oversized(n) => write!(f, "{n}-byte datagram is too large"),
            Self::Version {
                version,
                result_code,
            } => write!(f, "version {version} (result {result_code}), not PCP 2"),
            Self::NotAResponse(op) => write!(f, "opcode {op} is not a response"),
            Self::Unaligned(n) => write!(f, "{n} bytes is not a multiple of 4"),
            Self::Truncated { opcode, len } => {
                write!(f, "response to opcode {opcode} cut at {len} bytes")
            }
            Self::MalformedOption { at } => write!(f, "option at byte {at} overruns the message"),
        }
    }
}

fn field16(d: &[u8], at: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[at..at + 16]);
    out
}

fn parse_options(d: &[u8], mut at: usize) -> Result<Vec<PcpOption>, ParseError> {
    let mut options = Vec::new();
    while at < d.len() {
        if at + 4 > d.len() {
            return Err(ParseError::MalformedOption { at });
        }
        let len = usize::from(be16(d, at + 2));
        let end = at + 4 + len;
        if end > d.len() {
            return Err(ParseError::MalformedOption { at });
        }
        options.push(PcpOption {
            code: d[at],
            data: d[at + 4..end].to_vec(),
        });
        // Data is padded to 4 bytes; the message length is a multiple of 4, so the padded
        // end is within it.
        at = (end + 3) & !3;
    }
    Ok(options)
}

/// Parses a PCP response (RFC 6887 7.2, 8.3).
pub fn parse_response(d: &[u8]) -> Result<Response, ParseError> {
    if d.len() > transport::MAX_MESSAGE {
        return Err(ParseError::Oversized(d.len()));
    }
    if d.len() < 4 {
        return Err(ParseError::Short(d.len()));
    }
    if d[0] != VERSION {
        let result_code = if d[0] == 0 {
            be16(d, 2)
        } else {
            u16::from(d[3])
        };
        return Err(ParseError::Version {
            version: d[0],
            result_code,
        });
    }
    if d[1] & RESPONSE_BIT == 0 {
        return Err(ParseError::NotAResponse(d[1]));
    }
    let opcode = d[1] & !RESPONSE_BIT;
    if d.len() < HEADER_LEN {
        return Err(ParseError::Truncated {
            opcode,
            len: d.len(),
        });
    }
    if !d.len().is_multiple_of(4) {
        return Err(ParseError::Unaligned(d.len()));
    }
    let result_code = d[3];
    let lifetime = be32(d, 4);
    let epoch = be32(d, 8);
    let payload_len = match opcode {
        OP_ANNOUNCE => Some(0),
        OP_MAP => Some(MAP_PAYLOAD_LEN),
        OP_PEER => Some(PEER_PAYLOAD_LEN),
        _ => None,
    };
    let mut map = None;
    let mut options = Vec::new();
    match payload_len {
        // An error may be the header alone (RFC 6887 8.3: the server could not parse more).
        Some(n) if n > 0 && d.len() == HEADER_LEN && result_code != RESULT_SUCCESS => {}
        Some(n) => {
            if d.len() < HEADER_LEN + n {
                return Err(ParseError::Truncated {
                    opcode,
                    len: d.len(),
                });
            }
            if opcode == OP_MAP {
                let p = HEADER_LEN;
                let mut nonce = [0u8; NONCE_LEN];
                nonce.copy_from_slice(&d[p..p + NONCE_LEN]);
                map = Some(MapPayload {
                    nonce,
                    protocol: d[p + 12],
                    internal_port: be16(d, p + 16),
                    external_port: be16(d, p + 18),
                    external_address: address_from_field(field16(d, p + 20)),
                });
            }
            options = parse_options(d, HEADER_LEN + n)?;
        }
        // An opcode we never send: the header is all we can read.
        None => {}
    }
    Ok(Response {
        opcode,
        result_code,
        lifetime,
        epoch,
        map,
        options,
    })
}

/// An answer from the server, judged (the shared skeleton's, with PCP's response; the
/// epoch is always there: every PCP response carries one).
pub type Reply = client::Reply<Response>;
pub use client::Error;

/// What a MAP answer must repeat from its request (RFC 6887 11.3).
struct MapKey {
    nonce: [u8; NONCE_LEN],
    protocol: u8,
    internal_port: u16,
}

fn accept(d: &[u8], opcode: u8, key: Option<&MapKey>) -> Result<Accepted<Response>, String> {
    match parse_response(d) {
        Ok(r) if r.opcode != opcode => Err(format!("response to opcode {}", r.opcode)),
        Ok(r) => match (&r.map, key) {
            (Some(m), Some(k))
                if m.nonce != k.nonce
                    || m.protocol != k.protocol
                    || m.internal_port != k.internal_port =>
            {
                Err("MAP response for another mapping (nonce, protocol or port)".into())
            }
            _ => Ok(Accepted::Response(r)),
        },
        // A well-formed answer in another version: the server does not speak PCP 2. NAT-PMP
        // servers may leave the response bit out of "unsupported version" (RFC 6886
        // erratum 3618).
        Err(ParseError::Version {
            version,
            result_code,
        }) if d[1] & RESPONSE_BIT != 0 || (version == 0 && result_code == 1 && d.len() >= 8) => {
            Ok(Accepted::OtherVersion {
                version,
                result_code,
            })
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn request(
    server: SocketAddr,
    local: Option<IpAddr>,
    opcode: u8,
    key: Option<MapKey>,
    build: impl FnOnce(IpAddr) -> Vec<u8>,
    timing: &Timing,
) -> Result<Reply, Error> {
    client::request(
        server,
        local,
        Protocol::Pcp,
        build,
        |d| accept(d, opcode, key.as_ref()),
        |r: &Response| Some(r.epoch),
        timing,
    )
    .await
}

/// ANNOUNCE (RFC 6887 14.1): is a PCP server there, and what is its epoch.
pub async fn announce(server: SocketAddr, timing: &Timing) -> Result<Reply, Error> {
    request(server, None, OP_ANNOUNCE, None, announce_request, timing).await
}

/// What the caller chooses for a MAP; the client address is filled in from the socket.
#[derive(Clone, Debug)]
pub struct MapParams {
    pub protocol: u8,
    pub internal_port: u16,
    pub suggested_external_port: u16,
    /// `None` = no preference.
    pub suggested_external_address: Option<IpAddr>,
    pub lifetime: u32,
    /// The mapping's nonce: a fresh one ([`new_nonce`]) for a new mapping, the same one to
    /// renew or delete it. The caller chooses it before the exchange, so that even a timeout
    /// can report it: the server may have created the mapping and only the answer was lost.
    pub nonce: [u8; NONCE_LEN],
    pub prefer_failure: bool,
    /// The address to send from, which is the mapping's internal address (over IPv6 the
    /// pinhole's); `None` = the system's choice towards the server. Renewals and the delete
    /// must come from the same one.
    pub local: Option<IpAddr>,
}

/// A fresh nonce from the OS's random source (RFC 6887 11.1: it guards the mapping).
pub fn new_nonce() -> Result<[u8; NONCE_LEN], Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::Invalid(format!("no random source for the nonce: {e}")))?;
    Ok(nonce)
}

/// MAP (RFC 6887 11): creates, renews (same nonce) or, with lifetime 0, deletes a mapping.
pub async fn map(server: SocketAddr, params: &MapParams, timing: &Timing) -> Result<Reply, Error> {
    let nonce = params.nonce;
    let p = params.clone();
    let key = MapKey {
        nonce,
        protocol: p.protocol,
        internal_port: p.internal_port,
    };
    let reply = request(
        server,
        p.local,
        OP_MAP,
        Some(key),
        move |client| {
            map_request(&MapRequest {
                nonce,
                protocol: p.protocol,
                internal_port: p.internal_port,
                suggested_external_port: p.suggested_external_port,
                suggested_external_address: p
                    .suggested_external_address
                    .unwrap_or_else(|| unspecified_like(client)),
                lifetime: p.lifetime,
                client,
                prefer_failure: p.prefer_failure,
            })
        },
        timing,
    )
    .await?;
    Ok(reply)
}

/// Deletes the mapping owned by `nonce` (sent from `local`, as it was made): one MAP with
/// lifetime 0, repeated only while unanswered.
pub async fn delete(
    server: SocketAddr,
    local: Option<IpAddr>,
    protocol: u8,
    internal_port: u16,
    nonce: [u8; NONCE_LEN],
    timing: &Timing,
) -> Result<Reply, Error> {
    let params = MapParams {
        protocol,
        internal_port,
        suggested_external_port: 0,
        suggested_external_address: None,
        lifetime: 0,
        nonce,
        prefer_failure: false,
        local,
    };
    map(server, &params, timing).await
}

pub fn nonce_to_hex(nonce: &[u8; NONCE_LEN]) -> String {
    nonce.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn nonce_from_hex(text: &str) -> Option<[u8; NONCE_LEN]> {
    let text = text.trim();
    if text.len() != NONCE_LEN * 2 || !text.is_ascii() {
        return None;
    }
    let mut nonce = [0u8; NONCE_LEN];
    for (i, byte) in nonce.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(nonce)
}

#[cfg(test)]
mod tests;
