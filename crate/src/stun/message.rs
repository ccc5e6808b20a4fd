//! STUN messages (RFC 8489) with the RFC 5780 attributes for behaviour discovery: the Binding
//! request we send (CHANGE-REQUEST, RESPONSE-PORT, FINGERPRINT) and the parser for what comes
//! back (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ERROR-CODE,
//! FINGERPRINT).
//!
//! Any host can send a datagram to our socket, so the parser trusts nothing: the header's
//! length must match the datagram, every attribute must fit, a FINGERPRINT must be last and
//! right, an unknown comprehension-required attribute makes the message unusable (RFC 8489
//! 6.3.3), and the caps in `limits.rs` bound what one message can make us read and keep.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::limits::{self, MAX_STUN_ATTRIBUTES, MAX_STUN_MESSAGE};

/// RFC 8489 5: in every message since RFC 5389; tells STUN from other protocols.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
pub const HEADER_LEN: usize = 20;
/// The standard port (RFC 8489 9).
pub const DEFAULT_PORT: u16 = 3478;

pub const BINDING_REQUEST: u16 = 0x0001;
pub const BINDING_SUCCESS: u16 = 0x0101;
pub const BINDING_ERROR: u16 = 0x0111;

pub const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
pub const ATTR_CHANGE_REQUEST: u16 = 0x0003;
pub const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ATTR_ERROR_CODE: u16 = 0x0009;
pub const ATTR_UNKNOWN_ATTRIBUTES: u16 = 0x000A;
pub const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const ATTR_PADDING: u16 = 0x0026;
pub const ATTR_RESPONSE_PORT: u16 = 0x0027;
pub const ATTR_SOFTWARE: u16 = 0x8022;
pub const ATTR_FINGERPRINT: u16 = 0x8028;
pub const ATTR_RESPONSE_ORIGIN: u16 = 0x802B;
pub const ATTR_OTHER_ADDRESS: u16 = 0x802C;
/// RFC 3489's name for OTHER-ADDRESS; older servers send it instead.
pub const ATTR_CHANGED_ADDRESS: u16 = 0x0005;
/// RFC 3489's SOURCE-ADDRESS, RFC 5780's RESPONSE-ORIGIN before it had that name.
pub const ATTR_SOURCE_ADDRESS: u16 = 0x0004;

/// CHANGE-REQUEST flags (RFC 5780 7.2).
pub const CHANGE_IP: u32 = 0x04;
pub const CHANGE_PORT: u32 = 0x02;

/// RFC 8489 14.7: the CRC is XORed with this, so that a STUN message inside another protocol
/// does not look like a STUN message.
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// A transaction id (RFC 8489 5: 96 bits, random, one per transaction).
pub type TransactionId = [u8; 12];

/// What a Binding request asks beyond "who am I?".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindingRequest {
    /// RFC 5780 CHANGE-REQUEST: answer from the other address and/or port.
    pub change_ip: bool,
    pub change_port: bool,
    /// RFC 5780 RESPONSE-PORT: send the answer to this port of our reflexive address.
    pub response_port: Option<u16>,
}

impl BindingRequest {
    /// The request, FINGERPRINT last.
    pub fn encode(&self, id: &TransactionId) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(id);
        if self.change_ip || self.change_port {
            let flags = if self.change_ip { CHANGE_IP } else { 0 }
                | if self.change_port { CHANGE_PORT } else { 0 };
            push_attribute(&mut out, ATTR_CHANGE_REQUEST, &flags.to_be_bytes());
        }
        if let Some(port) = self.response_port {
            // RFC 5780 7.5: the port, then 16 bits of padding (coturn writes it so too).
            let [hi, lo] = port.to_be_bytes();
            push_attribute(&mut out, ATTR_RESPONSE_PORT, &[hi, lo, 0, 0]);
        }
        add_fingerprint(&mut out);
        out
    }
}

fn push_attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
    set_length(out);
}

fn set_length(out: &mut [u8]) {
    let body = (out.len() - HEADER_LEN) as u16;
    out[2..4].copy_from_slice(&body.to_be_bytes());
}

/// Appends FINGERPRINT: the CRC covers everything before it, with the header's length
/// already counting the attribute itself (RFC 8489 14.7).
fn add_fingerprint(out: &mut Vec<u8>) {
    out.extend_from_slice(&ATTR_FINGERPRINT.to_be_bytes());
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    set_length(out);
    let end = out.len() - 4;
    let crc = crc32fast::hash(&out[..end - 4]) ^ FINGERPRINT_XOR;
    out[end..].copy_from_slice(&crc.to_be_bytes());
}

/// A STUN error response's ERROR-CODE (RFC 8489 14.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorCode {
    /// 300..699.
    pub code: u16,
    /// The server's words, capped (`limits::MAX_ERROR_CHARS`) and never trusted further.
    pub reason: String,
}

/// A Binding response, as far as we read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub transaction: TransactionId,
    /// A success response (else an error response, `error` set when it said why).
    pub success: bool,
    /// Our address as the server saw it: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 3489
    /// servers).
    pub mapped: Option<SocketAddr>,
    /// RFC 5780: where the response was sent from, and the server's other address and port
    /// (absent: the server cannot do behaviour discovery).
    pub response_origin: Option<SocketAddr>,
    pub other_address: Option<SocketAddr>,
    pub error: Option<ErrorCode>,
    /// FINGERPRINT was present (and right: a wrong one refuses the message).
    pub fingerprint: bool,
}

/// Why a datagram is not a usable Binding response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    TooShort(usize),
    TooLong(usize),
    /// Not STUN at all: top bits set, or another magic cookie.
    NotStun,
    /// A STUN message, but not a Binding response.
    NotBindingResponse(u16),
    BadLength {
        header: usize,
        datagram: usize,
    },
    /// An attribute's length runs past the message.
    Truncated {
        at: usize,
    },
    TooManyAttributes,
    /// An attribute we must read is malformed.
    BadAttribute {
        kind: u16,
        why: &'static str,
    },
    /// RFC 8489 6.3.3: an unknown attribute in 0x0000-0x7FFF makes the response unusable.
    UnknownRequired(u16),
    /// FINGERPRINT wrong, or not the last attribute.
    BadFingerprint,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort(n) => write!(f, "{n} bytes: shorter than a STUN header"),
            Self::TooLong(n) => write!(f, "{n} bytes: longer than {MAX_STUN_MESSAGE}"),
            Self::NotStun => write!(f, "not a STUN message (no magic cookie)"),
            Self::NotBindingResponse(t) => {
                write!(f, "message type {t:#06x} is not a Binding response")
            }
            Self::BadLength { header, datagram } => {
                write!(
                    f,
                    "header says {header} bytes of attributes, datagram has {datagram}"
                )
            }
            Self::Truncated { at } => write!(f, "attribute at byte {at} runs past the message"),
            Self::TooManyAttributes => write!(f, "more than {MAX_STUN_ATTRIBUTES} attributes"),
            Self::BadAttribute { kind, why } => write!(f, "attribute {kind:#06x}: {why}"),
            Self::UnknownRequired(t) => {
                write!(f, "unknown comprehension-required attribute {t:#06x}")
            }
            Self::BadFingerprint => write!(f, "FINGERPRINT wrong or not last"),
        }
    }
}

/// Reads one Binding response. Requests, indications and other protocols are refused.
pub fn parse_response(d: &[u8]) -> Result<Response, ParseError> {
    if d.len() < HEADER_LEN {
        return Err(ParseError::TooShort(d.len()));
    }
    if d.len() > MAX_STUN_MESSAGE {
        return Err(ParseError::TooLong(d.len()));
    }
    let kind = be16(d, 0);
    if kind & 0xC000 != 0 || be32(d, 4) != MAGIC_COOKIE {
        return Err(ParseError::NotStun);
    }
    if kind != BINDING_SUCCESS && kind != BINDING_ERROR {
        return Err(ParseError::NotBindingResponse(kind));
    }
    let length = usize::from(be16(d, 2));
    if length % 4 != 0 || HEADER_LEN + length != d.len() {
        return Err(ParseError::BadLength {
            header: length,
            datagram: d.len() - HEADER_LEN,
        });
    }
    let mut transaction = [0u8; 12];
    transaction.copy_from_slice(&d[8..20]);
    let mut r = Response {
        transaction,
        success: kind == BINDING_SUCCESS,
        mapped: None,
        response_origin: None,
        other_address: None,
        error: None,
        fingerprint: false,
    };
    let mut xor_mapped = None;
    let mut at = HEADER_LEN;
    let mut count = 0;
    while at < d.len() {
        if r.fingerprint {
            return Err(ParseError::BadFingerprint);
        }
        count += 1;
        if count > MAX_STUN_ATTRIBUTES {
            return Err(ParseError::TooManyAttributes);
        }
        if at + 4 > d.len() {
            return Err(ParseError::Truncated { at });
        }
        let (attr, len) = (be16(d, at), usize::from(be16(d, at + 2)));
        let start = at + 4;
        let end = start + len;
        if end > d.len() {
            return Err(ParseError::Truncated { at });
        }
        let value = &d[start..end];
        match attr {
            ATTR_XOR_MAPPED_ADDRESS => xor_mapped = Some(address(attr, value, Some(&transaction))?),
            ATTR_MAPPED_ADDRESS => r.mapped = Some(address(attr, value, None)?),
            ATTR_RESPONSE_ORIGIN | ATTR_SOURCE_ADDRESS => {
                r.response_origin = Some(address(attr, value, None)?)
            }
            ATTR_OTHER_ADDRESS | ATTR_CHANGED_ADDRESS => {
                r.other_address = Some(address(attr, value, None)?)
            }
            ATTR_ERROR_CODE => r.error = Some(error_code(value)?),
            ATTR_FINGERPRINT => {
                if len != 4 || be32(d, start) != crc32fast::hash(&d[..at]) ^ FINGERPRINT_XOR {
                    return Err(ParseError::BadFingerprint);
                }
                r.fingerprint = true;
            }
            // Known, nothing we need from them (no credentials are used, so MESSAGE-INTEGRITY
            // is not checked; nothing in it is trusted either).
            ATTR_MESSAGE_INTEGRITY
            | ATTR_UNKNOWN_ATTRIBUTES
            | ATTR_CHANGE_REQUEST
            | ATTR_RESPONSE_PORT
            | ATTR_PADDING => {}
            t if t < 0x8000 => return Err(ParseError::UnknownRequired(t)),
            _ => {}
        }
        // Values are padded to 4 bytes (the padding is not in `len`).
        at = end + (4 - len % 4) % 4;
    }
    if at != d.len() {
        return Err(ParseError::Truncated { at });
    }
    if xor_mapped.is_some() {
        r.mapped = xor_mapped;
    }
    Ok(r)
}

/// The address format of RFC 8489 14.1/14.2; XORed with the cookie (and the transaction id
/// for IPv6) when `xor` carries the transaction id.
fn address(kind: u16, v: &[u8], xor: Option<&TransactionId>) -> Result<SocketAddr, ParseError> {
    let bad = |why| ParseError::BadAttribute { kind, why };
    if v.len() < 4 {
        return Err(bad("shorter than an address"));
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = be16(v, 2);
    if xor.is_some() {
        port ^= be16(&cookie, 0);
    }
    let ip = match (v[1], v.len()) {
        (0x01, 8) => {
            let mut o = [v[4], v[5], v[6], v[7]];
            if xor.is_some() {
                o.iter_mut().zip(cookie).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (0x02, 20) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&v[4..20]);
            if let Some(id) = xor {
                let key = cookie.iter().chain(id.iter());
                o.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        (0x01 | 0x02, _) => return Err(bad("length does not fit the family")),
        _ => return Err(bad("unknown address family")),
    };
    Ok(SocketAddr::new(ip, port))
}

fn error_code(v: &[u8]) -> Result<ErrorCode, ParseError> {
    let bad = |why| ParseError::BadAttribute {
        kind: ATTR_ERROR_CODE,
        why,
    };
    if v.len() < 4 {
        return Err(bad("shorter than an error code"));
    }
    let (class, number) = (u16::from(v[2] & 0x07), u16::from(v[3]));
    if !(3..=6).contains(&class) || number > 99 {
        return Err(bad("class or number out of range"));
    }
    // RFC 8489 14.8: at most 763 bytes of UTF-8; whatever it holds, only a capped, lossy copy.
    let reason = String::from_utf8_lossy(&v[4..]);
    Ok(ErrorCode {
        code: class * 100 + number,
        reason: limits::cap(&reason, limits::MAX_ERROR_CHARS),
    })
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
