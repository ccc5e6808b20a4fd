//! The request skeleton NAT-PMP and PCP share: connect, send with retransmission
//! ([`transport::exchange`]), keep the first datagram the protocol accepts, tell "the server
//! speaks another version" apart, and judge the server's epoch. Each protocol supplies how
//! its request is built and how an answer is judged (parse, opcode and key checks).

use std::net::{IpAddr, SocketAddr};

use crate::pxp::transport::{self, EpochCheck, EpochSample, ExchangeError, Protocol, Timing};
use crate::trace::{self, Event, Kind};

/// What a protocol makes of one datagram it accepts.
pub enum Accepted<R> {
    Response(R),
    /// A well-formed answer in another protocol version.
    OtherVersion {
        version: u8,
        result_code: u16,
    },
}

/// An answer from the server, judged.
#[derive(Debug)]
pub struct Reply<R> {
    pub response: R,
    pub attempts: u32,
    pub latency: std::time::Duration,
    /// Datagrams thrown away before this one.
    pub ignored: u32,
    /// Our address as the server saw it.
    pub local: SocketAddr,
    /// Absent when the response carried no epoch (NAT-PMP errors may omit it).
    pub epoch: Option<EpochCheck>,
}

#[derive(Debug)]
pub enum Error {
    Exchange(ExchangeError),
    /// The server answered in another protocol version (NAT-PMP 0 is answered by a PCP-only
    /// server with 2; PCP 2 by a NAT-PMP-only server with 0).
    OtherVersion {
        protocol: Protocol,
        version: u8,
        result_code: u16,
        attempts: u32,
    },
    /// The request cannot be made (PCP: an unusable local address, no random nonce).
    Invalid(String),
}

impl Error {
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Exchange(e) => e.meaning(),
            Self::OtherVersion { protocol, .. } => protocol.unsupported_version(),
            Self::Invalid(_) => "INVALID_ARGS",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exchange(e) => e.fmt(f),
            Self::OtherVersion {
                protocol,
                version,
                result_code,
                ..
            } => {
                let ours = match protocol {
                    Protocol::NatPmp => "NAT-PMP (0)",
                    Protocol::Pcp => "PCP 2",
                };
                write!(
                    f,
                    "the server answered with protocol version {version} (result {result_code}), not {ours}"
                )
            }
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

/// One request, sent from `local` when given (else the system's choice towards the server):
/// `build` makes the message from our local address (PCP carries it), `accept` judges each
/// datagram (`Err` = not our answer, with why), `epoch_of` reads the server's epoch from the
/// accepted response.
pub async fn request<R>(
    server: SocketAddr,
    local: Option<IpAddr>,
    protocol: Protocol,
    build: impl FnOnce(IpAddr) -> Vec<u8>,
    accept: impl FnMut(&[u8]) -> Result<Accepted<R>, String>,
    epoch_of: impl Fn(&R) -> Option<u32>,
    timing: &Timing,
) -> Result<Reply<R>, Error> {
    let exchanged = async {
        let socket = transport::connect_from(server, local).map_err(ExchangeError::Socket)?;
        let local = socket.local_addr().map_err(ExchangeError::Socket)?;
        let message = build(local.ip());
        transport::exchange(&socket, &message, timing, accept).await
    };
    let answer = exchanged.await.map_err(|e| {
        trace::emit(|| {
            Event::new(Kind::PxpFailed)
                .peer(server)
                .attempt(e.attempts())
                .elapsed(e.elapsed())
                .detail(format!("{}: {e}", e.meaning()))
        });
        Error::Exchange(e)
    })?;
    let response = match answer.value {
        Accepted::Response(r) => r,
        Accepted::OtherVersion {
            version,
            result_code,
        } => {
            return Err(Error::OtherVersion {
                protocol,
                version,
                result_code,
                attempts: answer.attempts,
            })
        }
    };
    let epoch = epoch_of(&response).map(|epoch| {
        transport::observe_epoch(
            protocol,
            server.ip(),
            EpochSample {
                epoch,
                at: answer.received_at,
            },
        )
    });
    Ok(Reply {
        response,
        attempts: answer.attempts,
        latency: answer.latency,
        ignored: answer.ignored,
        local: answer.local,
        epoch,
    })
}

/// Big-endian fields of both wire formats.
pub fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

pub fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}
