//! The N-API surface: plain data in, plain data out. The only module that uses napi; it
//! converts and checks arguments, nothing more.
//!
//! Here: [`NativeFailure`], the one failure shape of every call, and the defaults Rust owns.
//! - [`upnp`] (discovery, the SOAP actions, `SoapService`), [`pinholes`], [`pxp`] (its
//!   answers: [`pxp_answer`]), [`pxp_listener`], [`probe`], [`stun`]: the calls.
//! - `check`: the port and protocol checks, once for every call.
//! - [`cancel`] (an `AbortSignal` stops a call's work), `completion` (the hot calls settle
//!   through one threadsafe function per JS thread), `runtime` (one tokio worker),
//!   [`trace`] (a traced call's events, queued for its JS thread), [`file_lock`].

pub mod cancel;
mod check;
mod completion;
pub mod file_lock;
pub mod pinholes;
pub mod probe;
pub mod pxp;
pub mod pxp_answer;
pub mod pxp_listener;
mod runtime;
pub mod stun;
pub mod trace;
pub mod upnp;

use napi_derive::napi;

use crate::errors::{Failure, UpnpResult};

/// Why a call did not succeed, the same shape for every protocol: Godot's number, who said
/// it, the router's raw code, its name, the words, and the HTTP status. Absent on success.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeFailure {
    /// Godot's `UPNPResult`.
    pub result: u32,
    #[napi(ts_type = "'upnp' | 'natpmp' | 'pcp'")]
    pub via: String,
    /// The router's raw code: a UPnP SOAP fault's `errorCode`, a NAT-PMP or PCP result code.
    pub code: Option<i64>,
    /// A name for it: the NAT-PMP/PCP result's RFC name, or why there is no answer (TIMEOUT,
    /// REFUSED, UNREACHABLE, SOCKET_ERROR, UNSUPPORTED_VERSION / UNSUPP_VERSION, INVALID_ARGS,
    /// INVALID_GATEWAY, NO_GATEWAY); for UPnP, Godot's name of `result`.
    pub meaning: String,
    /// The router's own words, or what went wrong on this side.
    pub description: String,
    /// The HTTP status of a UPnP reply, when there was one.
    pub http_status: Option<u32>,
}

impl From<Failure> for NativeFailure {
    fn from(f: Failure) -> Self {
        Self {
            result: f.result as u32,
            via: "upnp".to_string(),
            code: f.upnp_code,
            meaning: f.result.name(),
            description: f.description,
            http_status: f.http_status.map(u32::from),
        }
    }
}

impl NativeFailure {
    /// A NAT-PMP or PCP failure: `meaning` names it, `why` (if any) adds the details.
    pub fn pxp(
        via: &str,
        result: UpnpResult,
        code: Option<u32>,
        meaning: &str,
        why: Option<String>,
    ) -> Self {
        Self {
            result: result as u32,
            via: via.to_string(),
            code: code.map(i64::from),
            meaning: meaning.to_string(),
            description: match why {
                Some(why) => format!("{meaning}: {why}"),
                None => meaning.to_string(),
            },
            http_status: None,
        }
    }
}

// Defaults the Rust core owns, exported so that TypeScript does not restate them (their
// reasons are at the Rust constants).

/// `probe()`'s budget when none is given (`probe::DEFAULT_BUDGET`).
#[napi]
pub const PROBE_BUDGET_MS: u32 = crate::probe::DEFAULT_BUDGET.as_millis() as u32;
/// One NAT-PMP/PCP exchange, retransmissions included (`Timing::DEFAULT_BUDGET`).
#[napi]
pub const PXP_BUDGET_MS: u32 = crate::pxp::transport::Timing::DEFAULT_BUDGET.as_millis() as u32;
/// The first wait before a NAT-PMP/PCP retransmission, doubled each time.
#[napi]
pub const PXP_INITIAL_TIMEOUT_MS: u32 =
    crate::pxp::transport::Timing::DEFAULT_INITIAL.as_millis() as u32;
/// The NAT-PMP/PCP lease asked by default, and what "permanent" means there.
#[napi]
pub const PXP_LIFETIME_S: u32 = crate::pxp::DEFAULT_LIFETIME_S;

/// "public", "cgnat" or "private" for an IP address (the double-NAT ranges, one copy in
/// `address.rs`); "invalid" for text that is not an address.
#[napi]
pub fn classify_address(address: String) -> &'static str {
    match address.trim().trim_matches(['[', ']']).parse() {
        Ok(ip) => crate::address::classify(ip).name(),
        Err(_) => "invalid",
    }
}
