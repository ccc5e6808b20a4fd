//! What a NAT-PMP or PCP call resolves with, built from the server's answer or from why
//! there is none: the same `NativePxpAnswer` for the calls in `pxp.rs`, the probe and the
//! STUN checks that reuse it.
//!
//! Every answer that is not a success carries a `NativeFailure` (the shape UPnP calls use
//! too: Godot's result, `via`, the raw result code, its RFC name as `meaning`), and every
//! answer carries the server's epoch judged in Rust: `rebooted` is true on
//! the answer that revealed lost state, and `resets` counts such events per gateway for the
//! whole process, so a caller that stored `resets` with a mapping sees that the mapping is
//! gone even when another caller's request saw the reboot first. Rust keeps this state
//! because the RFC rules compare the server's clock with ours at the moment each answer
//! arrived, which only this side measures exactly.

use std::net::SocketAddr;
use std::time::Duration;

use napi_derive::napi;

use crate::errors::{Failure, UpnpResult};
use crate::napi::NativeFailure;
use crate::pxp::transport::{EpochCheck, ExchangeError};
use crate::pxp::{client, natpmp, pcp};
use crate::route;

/// `NativeFailure::via` of each protocol.
pub(super) const NATPMP: &str = "natpmp";
pub(super) const PCP: &str = "pcp";

#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativePxpAnswer {
    /// Why this is not a success (absent = the server answered with result code 0).
    pub failure: Option<NativeFailure>,
    /// Raw result code of the server's answer (NAT-PMP 0..5, PCP 0..13 defined); absent
    /// without an answer of this protocol version.
    pub result_code: Option<u32>,
    /// Set when the server answered in another protocol version (NAT-PMP 0, PCP 2).
    pub server_version: Option<u32>,
    /// Seconds since the server's epoch, from this answer.
    pub epoch: Option<u32>,
    pub rebooted: bool,
    pub resets: u32,
    /// Requests sent (1 = answered at once).
    pub attempts: u32,
    pub latency_ms: f64,
    /// Datagrams ignored (malformed or not ours) before the answer.
    pub ignored: u32,
    /// The router the requests went to (`fe80::1%eth0` form for scoped addresses).
    pub router: Option<String>,
    /// Our address as the server saw it.
    pub local_address: Option<String>,
    pub external_address: Option<String>,
    pub internal_port: Option<u32>,
    pub external_port: Option<u32>,
    /// Granted lifetime in seconds (PCP errors: how long the error lasts).
    pub lifetime: Option<u32>,
    /// PCP MAP: the mapping's nonce (24 hex digits); renew and delete must repeat it.
    pub nonce: Option<String>,
    /// PCP MAP: the IANA protocol number in the answer (6 TCP, 17 UDP).
    pub protocol: Option<u32>,
    /// PCP: options in the answer, unknown ones included.
    pub options: Option<Vec<NativePcpOption>>,
}

#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativePcpOption {
    pub code: u32,
    /// Hex.
    pub data: String,
}

impl NativePxpAnswer {
    fn empty(failure: Option<NativeFailure>) -> Self {
        Self {
            failure,
            result_code: None,
            server_version: None,
            epoch: None,
            rebooted: false,
            resets: 0,
            attempts: 0,
            latency_ms: 0.0,
            ignored: 0,
            router: None,
            local_address: None,
            external_address: None,
            internal_port: None,
            external_port: None,
            lifetime: None,
            nonce: None,
            protocol: None,
            options: None,
        }
    }

    /// An answer with a result code: a failure unless the code is success.
    fn answered(via: &str, code: u32, success: bool, meaning: &str, result: UpnpResult) -> Self {
        Self {
            result_code: Some(code),
            ..Self::empty(
                (!success).then(|| NativeFailure::pxp(via, result, Some(code), meaning, None)),
            )
        }
    }

    fn exchange_failed(via: &str, e: &ExchangeError, gateway: SocketAddr) -> Self {
        let upnp = match e {
            ExchangeError::Socket(_) => UpnpResult::SocketError,
            _ => UpnpResult::NoGateway,
        };
        Self {
            attempts: e.attempts(),
            latency_ms: ms(e.elapsed()),
            ignored: match e {
                ExchangeError::Timeout { ignored, .. } => *ignored,
                _ => 0,
            },
            router: Some(route::format_gateway(gateway)),
            ..Self::empty(Some(NativeFailure::pxp(
                via,
                upnp,
                None,
                e.meaning(),
                Some(e.to_string()),
            )))
        }
    }

    /// How the exchange that got `reply` went, who answered, and the server's epoch.
    fn with_reply<R>(mut self, reply: &client::Reply<R>, gateway: SocketAddr) -> Self {
        self.attempts = reply.attempts;
        self.latency_ms = ms(reply.latency);
        self.ignored = reply.ignored;
        self.router = Some(route::format_gateway(gateway));
        self.local_address = Some(reply.local.ip().to_string());
        self.with_epoch(reply.epoch)
    }

    fn with_epoch(mut self, check: Option<EpochCheck>) -> Self {
        if let Some(check) = check {
            self.epoch = Some(check.epoch);
            self.rebooted = check.rebooted;
            self.resets = check.resets;
        }
        self
    }
}

/// Input refused before any I/O; becomes a failure without an answer.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) meaning: &'static str,
    pub(super) upnp: UpnpResult,
    pub(super) why: String,
}

pub(super) fn refused(meaning: &'static str, upnp: UpnpResult, why: String) -> Refused {
    Refused { meaning, upnp, why }
}

impl Refused {
    pub(super) fn answer(self, via: &str) -> NativePxpAnswer {
        NativePxpAnswer::empty(Some(NativeFailure::pxp(
            via,
            self.upnp,
            None,
            self.meaning,
            Some(self.why),
        )))
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) fn from_natpmp(
    result: Result<natpmp::Reply, natpmp::Error>,
    gateway: SocketAddr,
) -> NativePxpAnswer {
    match result {
        Ok(reply) => {
            let code = reply.response.result_code;
            let mut out = NativePxpAnswer::answered(
                NATPMP,
                code.into(),
                code == natpmp::RESULT_SUCCESS,
                natpmp::result_meaning(code),
                natpmp::result_to_upnp(code),
            )
            .with_reply(&reply, gateway);
            match reply.response.body {
                natpmp::Body::ExternalAddress(ip) => out.external_address = Some(ip.to_string()),
                natpmp::Body::Map {
                    internal_port,
                    external_port,
                    lifetime,
                } => {
                    out.internal_port = Some(internal_port.into());
                    out.external_port = Some(external_port.into());
                    out.lifetime = Some(lifetime);
                }
                natpmp::Body::None => {}
            }
            out
        }
        Err(e) => failed(NATPMP, e, gateway),
    }
}

/// A NAT-PMP or PCP request that got no usable answer of this protocol version.
fn failed(via: &str, e: client::Error, gateway: SocketAddr) -> NativePxpAnswer {
    match e {
        client::Error::Exchange(e) => NativePxpAnswer::exchange_failed(via, &e, gateway),
        client::Error::OtherVersion {
            version, attempts, ..
        } => NativePxpAnswer {
            server_version: Some(version.into()),
            attempts,
            router: Some(route::format_gateway(gateway)),
            ..NativePxpAnswer::empty(Some(NativeFailure::pxp(
                via,
                UpnpResult::InvalidGateway,
                None,
                e.meaning(),
                Some(e.to_string()),
            )))
        },
        client::Error::Invalid(_) => {
            refused(e.meaning(), UpnpResult::InvalidArgs, e.to_string()).answer(via)
        }
    }
}

pub(super) fn from_pcp(
    result: Result<pcp::Reply, pcp::Error>,
    gateway: SocketAddr,
    nonce: Option<[u8; pcp::NONCE_LEN]>,
) -> NativePxpAnswer {
    match result {
        Ok(reply) => {
            let r = &reply.response;
            let code = r.result_code;
            let mut out = NativePxpAnswer {
                lifetime: Some(r.lifetime),
                nonce: nonce.map(|n| pcp::nonce_to_hex(&n)),
                options: Some(
                    r.options
                        .iter()
                        .map(|o| NativePcpOption {
                            code: o.code.into(),
                            data: o.data.iter().map(|b| format!("{b:02x}")).collect(),
                        })
                        .collect(),
                ),
                ..NativePxpAnswer::answered(
                    PCP,
                    code.into(),
                    code == pcp::RESULT_SUCCESS,
                    pcp::result_meaning(code),
                    pcp::result_to_upnp(code),
                )
                .with_reply(&reply, gateway)
            };
            if let Some(m) = &r.map {
                out.internal_port = Some(m.internal_port.into());
                out.external_port = Some(m.external_port.into());
                out.protocol = Some(m.protocol.into());
                // Errors echo "no preference" (all zeros): no address to report then.
                if !m.external_address.is_unspecified() {
                    out.external_address = Some(m.external_address.to_string());
                }
            }
            out
        }
        // Without an answer the server may still have made the mapping: report its nonce.
        Err(e @ client::Error::Exchange(_)) => NativePxpAnswer {
            nonce: nonce.map(|n| pcp::nonce_to_hex(&n)),
            ..failed(PCP, e, gateway)
        },
        Err(e) => failed(PCP, e, gateway),
    }
}

impl From<Failure> for Refused {
    /// An argument `check` refused.
    fn from(f: Failure) -> Self {
        refused("INVALID_ARGS", f.result, f.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_carry_raw_codes_and_meanings() {
        let gw: SocketAddr = "192.168.77.1:5351".parse().unwrap();
        let reply = natpmp::Reply {
            response: natpmp::Response {
                opcode: 1,
                result_code: 2,
                epoch: Some(30),
                body: natpmp::Body::Map {
                    internal_port: 80,
                    external_port: 80,
                    lifetime: 0,
                },
            },
            attempts: 1,
            latency: Duration::from_millis(3),
            ignored: 0,
            local: "192.168.77.10:40000".parse().unwrap(),
            epoch: Some(EpochCheck {
                epoch: 30,
                rebooted: false,
                resets: 0,
            }),
        };
        let r = from_natpmp(Ok(reply), gw);
        assert_eq!(r.result_code, Some(2));
        let failure = r.failure.unwrap();
        assert_eq!(failure.via, "natpmp");
        assert_eq!(failure.code, Some(2));
        assert_eq!(failure.meaning, "NOT_AUTHORIZED");
        assert_eq!(failure.description, "NOT_AUTHORIZED");
        assert_eq!(failure.result, UpnpResult::NotAuthorized as u32);
        assert_eq!(r.epoch, Some(30));
        assert_eq!(r.router.as_deref(), Some("192.168.77.1"));
        assert_eq!(r.local_address.as_deref(), Some("192.168.77.10"));
        let timeout = from_natpmp(
            Err(natpmp::Error::Exchange(ExchangeError::Timeout {
                attempts: 4,
                elapsed: Duration::from_secs(2),
                ignored: 1,
                last_ignored: Some("junk".into()),
            })),
            gw,
        );
        assert_eq!(timeout.result_code, None);
        assert_eq!((timeout.attempts, timeout.ignored), (4, 1));
        let failure = timeout.failure.unwrap();
        assert_eq!((failure.code, failure.meaning.as_str()), (None, "TIMEOUT"));
        assert_eq!(failure.result, UpnpResult::NoGateway as u32);
        assert!(failure.description.starts_with("TIMEOUT: "));
        assert!(failure.description.contains("junk"));
        let other = from_pcp(
            Err(pcp::Error::OtherVersion {
                protocol: crate::pxp::transport::Protocol::Pcp,
                version: 0,
                result_code: 1,
                attempts: 1,
            }),
            gw,
            None,
        );
        assert_eq!(other.server_version, Some(0));
        let failure = other.failure.unwrap();
        assert_eq!(
            (failure.via.as_str(), failure.meaning.as_str()),
            ("pcp", "UNSUPP_VERSION")
        );
    }
}
