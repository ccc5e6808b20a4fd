//! The N-API surface of NAT-PMP and PCP (the probe and the gateway lookup are in
//! `probe.rs`): plain objects in, plain objects out, every call a Promise that never rejects for a
//! network reason (the result says what happened: `pxp_answer.rs`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use napi_derive::napi;

use crate::errors::UpnpResult;
use crate::napi::check;
use crate::napi::pxp_answer::{
    from_natpmp, from_pcp, refused, NativePxpAnswer, Refused, NATPMP, PCP,
};
use crate::pxp::natpmp::MapProtocol;
use crate::pxp::transport::{self, Timing};
use crate::pxp::{self, natpmp, pcp};
use crate::route;
use crate::trace;

// Every call's argument object starts with these fields (`pxp_call_args!`) and reads them
// through this struct (a `//` comment: doc comments here are binding.d.ts's text).
/// Target and timing of one NAT-PMP or PCP request.
#[napi(object)]
pub struct PxpRequestOptions {
    /// The NAT-PMP/PCP server (the router): `192.168.1.1`, `fd00::1`, `fe80::1%eth0`; absent or
    /// "" = the default route's gateway.
    pub router: Option<String>,
    /// Default 5351.
    pub server_port: Option<u32>,
    /// Whole exchange, retransmissions included (default `PXP_BUDGET_MS`).
    pub budget_ms: Option<u32>,
    /// First wait before retransmitting, doubled each time (default `PXP_INITIAL_TIMEOUT_MS`).
    pub initial_timeout_ms: Option<u32>,
    /// A traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
    pub trace: Option<u32>,
}

impl PxpRequestOptions {
    /// Where the request goes (`route::resolve_server`), with the caller's port checked.
    fn server(&self, ipv4_only: bool) -> Result<SocketAddr, Refused> {
        let port = match self.server_port {
            None => transport::SERVER_PORT,
            Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                refused(
                    "INVALID_ARGS",
                    UpnpResult::InvalidArgs,
                    format!("serverPort {p} is not 1..65535"),
                )
            })?,
        };
        route::resolve_server(self.router.as_deref(), port, ipv4_only).map_err(|e| match e {
            route::NoServer::Invalid(why) => {
                refused("INVALID_GATEWAY", UpnpResult::InvalidGateway, why)
            }
            route::NoServer::Missing(why) => refused("NO_GATEWAY", UpnpResult::NoGateway, why),
        })
    }

    /// How long the exchange may take, and the first wait before retransmitting.
    fn timing(&self) -> Timing {
        let mut t = Timing::with_budget(self.budget_ms.map_or(Timing::DEFAULT_BUDGET, |ms| {
            Duration::from_millis(ms.into())
        }));
        if let Some(initial) = self.initial_timeout_ms {
            t.initial = Duration::from_millis(initial.max(1).into());
        }
        t
    }
}

/// Declares a NAT-PMP/PCP call's argument object: `PxpRequestOptions`'s target fields, the
/// call's own, then `trace`; `target()` reads the target fields as one. A macro because the
/// JS object is flat and napi-rs cannot flatten a nested struct into it. The call's own
/// fields are documented with `#[doc = "..."]`: a `///` comment passed into a macro becomes
/// a raw string, which napi-derive 3.7 copies into binding.d.ts as `r" ...` (the check that
/// binding.d.ts is current would show it).
macro_rules! pxp_call_args {
    ($(#[$attr:meta])* pub struct $name:ident { $($own:tt)* }) => {
        $(#[$attr])*
        #[napi(object)]
        pub struct $name {
            pub router: Option<String>,
            pub server_port: Option<u32>,
            pub budget_ms: Option<u32>,
            pub initial_timeout_ms: Option<u32>,
            $($own)*
            /// A traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
            pub trace: Option<u32>,
        }

        impl $name {
            /// Where the request goes and how long it may take.
            fn target(&self) -> PxpRequestOptions {
                PxpRequestOptions {
                    router: self.router.clone(),
                    server_port: self.server_port,
                    budget_ms: self.budget_ms,
                    initial_timeout_ms: self.initial_timeout_ms,
                    trace: self.trace,
                }
            }
        }
    };
}

pxp_call_args! {
    pub struct NatPmpMapArgs {
        #[napi(ts_type = "'UDP' | 'TCP'")]
        pub protocol: String,
        pub internal_port: u32,
        #[doc = "Suggested external port (default: the internal port; 0 = no preference)."]
        pub external_port: Option<u32>,
        #[doc = "Requested lifetime in seconds (default `PXP_LIFETIME_S`; 0 deletes, prefer `natpmpDelete`)."]
        pub lifetime: Option<u32>,
    }
}

pxp_call_args! {
    pub struct NatPmpDeleteArgs {
        #[napi(ts_type = "'UDP' | 'TCP'")]
        pub protocol: String,
        pub internal_port: u32,
    }
}

pxp_call_args! {
    pub struct PcpMapArgs {
        #[napi(ts_type = "'UDP' | 'TCP'")]
        pub protocol: String,
        pub internal_port: u32,
        #[doc = "Suggested external port (default: the internal port; 0 = no preference)."]
        pub external_port: Option<u32>,
        #[doc = "Suggested external address (default: none)."]
        pub external_address: Option<String>,
        #[doc = "Seconds (default `PXP_LIFETIME_S`)."]
        pub lifetime: Option<u32>,
        #[doc = "The nonce of the mapping being renewed (24 hex digits); absent = a new mapping."]
        pub nonce: Option<String>,
        #[doc = "RFC 6887 13.2 PREFER_FAILURE (miniupnpd 2.3.1 ignores it)."]
        pub prefer_failure: Option<bool>,
        #[doc = "The local address to send from, which is the mapping's internal address (over IPv6:"]
        #[doc = "the pinhole's); absent = the system's choice towards the router."]
        pub local_address: Option<String>,
    }
}

pxp_call_args! {
    pub struct PcpDeleteArgs {
        #[napi(ts_type = "'UDP' | 'TCP'")]
        pub protocol: String,
        pub internal_port: u32,
        #[doc = "The nonce the mapping was created with."]
        pub nonce: String,
        #[doc = "The local address the mapping was made from (`PcpMapArgs.localAddress`)."]
        pub local_address: Option<String>,
    }
}

/// NAT-PMP external address request (RFC 6886 3.2).
#[napi]
pub async fn natpmp_external_address(options: PxpRequestOptions) -> NativePxpAnswer {
    trace::scoped(options.trace, natpmp_external_address_untraced(options)).await
}

async fn natpmp_external_address_untraced(options: PxpRequestOptions) -> NativePxpAnswer {
    let server = match options.server(true) {
        Ok(s) => s,
        Err(refused) => return refused.answer(NATPMP),
    };
    let t = options.timing();
    from_natpmp(natpmp::external_address(server, &t).await, server)
}

/// NAT-PMP mapping request (RFC 6886 3.3): creates or renews.
#[napi]
pub async fn natpmp_map(args: NatPmpMapArgs) -> NativePxpAnswer {
    trace::scoped(args.trace, natpmp_map_untraced(args)).await
}

async fn natpmp_map_untraced(args: NatPmpMapArgs) -> NativePxpAnswer {
    let run = async {
        let target = args.target();
        let server = target.server(true)?;
        let protocol = check::protocol(&args.protocol, MapProtocol::Udp, MapProtocol::Tcp)?;
        let internal = check::nonzero_port(args.internal_port, "internalPort")?;
        let external = check::port(
            args.external_port.unwrap_or(args.internal_port),
            "externalPort",
        )?;
        let t = target.timing();
        let lifetime = args.lifetime.unwrap_or(pxp::DEFAULT_LIFETIME_S);
        let result = natpmp::map(server, protocol, internal, external, lifetime, &t).await;
        Ok::<_, Refused>(from_natpmp(result, server))
    };
    run.await.unwrap_or_else(|refused| refused.answer(NATPMP))
}

/// NAT-PMP delete (lifetime 0): one request, repeated only while unanswered.
#[napi]
pub async fn natpmp_delete(args: NatPmpDeleteArgs) -> NativePxpAnswer {
    trace::scoped(args.trace, natpmp_delete_untraced(args)).await
}

async fn natpmp_delete_untraced(args: NatPmpDeleteArgs) -> NativePxpAnswer {
    let run = async {
        let target = args.target();
        let server = target.server(true)?;
        let protocol = check::protocol(&args.protocol, MapProtocol::Udp, MapProtocol::Tcp)?;
        let internal = check::nonzero_port(args.internal_port, "internalPort")?;
        let t = target.timing();
        let result = natpmp::delete(server, protocol, internal, &t).await;
        Ok::<_, Refused>(from_natpmp(result, server))
    };
    run.await.unwrap_or_else(|refused| refused.answer(NATPMP))
}

/// PCP ANNOUNCE (RFC 6887 14.1): is a PCP server there, and its epoch. PCP has no
/// external-address request: the address comes with a MAP answer (`pcpMap`).
#[napi]
pub async fn pcp_announce(options: PxpRequestOptions) -> NativePxpAnswer {
    trace::scoped(options.trace, pcp_announce_untraced(options)).await
}

async fn pcp_announce_untraced(options: PxpRequestOptions) -> NativePxpAnswer {
    let server = match options.server(false) {
        Ok(s) => s,
        Err(refused) => return refused.answer(PCP),
    };
    let t = options.timing();
    from_pcp(pcp::announce(server, &t).await, server, None)
}

/// PCP MAP (RFC 6887 11): creates (new nonce) or renews (`nonce` given) a mapping.
#[napi]
pub async fn pcp_map(args: PcpMapArgs) -> NativePxpAnswer {
    trace::scoped(args.trace, pcp_map_untraced(args)).await
}

async fn pcp_map_untraced(args: PcpMapArgs) -> NativePxpAnswer {
    let run = async {
        let target = args.target();
        let server = target.server(false)?;
        let protocol = check::protocol(&args.protocol, pcp::PROTO_UDP, pcp::PROTO_TCP)?;
        let internal = check::nonzero_port(args.internal_port, "internalPort")?;
        let external = check::port(
            args.external_port.unwrap_or(args.internal_port),
            "externalPort",
        )?;
        let suggested_external_address = match args.external_address.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(text.parse::<IpAddr>().map_err(|_| {
                refused(
                    "INVALID_ARGS",
                    UpnpResult::InvalidArgs,
                    format!("externalAddress {text:?} is not an IP address"),
                )
            })?),
            _ => None,
        };
        // The caller's nonce renews its mapping; without one, a new mapping gets a fresh one.
        let nonce = match args.nonce.as_deref() {
            Some(text) => nonce_arg(text)?,
            None => pcp::new_nonce()
                .map_err(|e| refused(e.meaning(), UpnpResult::UnknownError, e.to_string()))?,
        };
        let params = pcp::MapParams {
            protocol,
            internal_port: internal,
            suggested_external_port: external,
            suggested_external_address,
            lifetime: args.lifetime.unwrap_or(pxp::DEFAULT_LIFETIME_S),
            nonce,
            prefer_failure: args.prefer_failure.unwrap_or(false),
            local: local_arg(&args.local_address)?,
        };
        let t = target.timing();
        let result = pcp::map(server, &params, &t).await;
        Ok::<_, Refused>(from_pcp(result, server, Some(nonce)))
    };
    run.await.unwrap_or_else(|refused| refused.answer(PCP))
}

/// `localAddress`: an address of this host to send from ("" or absent = the system's choice).
fn local_arg(text: &Option<String>) -> Result<Option<IpAddr>, Refused> {
    match text.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => text.parse::<IpAddr>().map(Some).map_err(|_| {
            refused(
                "INVALID_ARGS",
                UpnpResult::InvalidArgs,
                format!("localAddress {text:?} is not an IP address"),
            )
        }),
        _ => Ok(None),
    }
}

fn nonce_arg(text: &str) -> Result<[u8; pcp::NONCE_LEN], Refused> {
    pcp::nonce_from_hex(text).ok_or_else(|| {
        refused(
            "INVALID_ARGS",
            UpnpResult::InvalidArgs,
            format!("nonce {text:?} is not 24 hex digits"),
        )
    })
}

/// PCP delete (MAP, lifetime 0, the mapping's nonce): one request, repeated only while
/// unanswered. miniupnpd answers NO_RESOURCES for a mapping it does not have.
#[napi]
pub async fn pcp_delete(args: PcpDeleteArgs) -> NativePxpAnswer {
    trace::scoped(args.trace, pcp_delete_untraced(args)).await
}

async fn pcp_delete_untraced(args: PcpDeleteArgs) -> NativePxpAnswer {
    let run = async {
        let target = args.target();
        let server = target.server(false)?;
        let protocol = check::protocol(&args.protocol, pcp::PROTO_UDP, pcp::PROTO_TCP)?;
        let internal = check::nonzero_port(args.internal_port, "internalPort")?;
        let nonce = nonce_arg(&args.nonce)?;
        let t = target.timing();
        let local = local_arg(&args.local_address)?;
        let result = pcp::delete(server, local, protocol, internal, nonce, &t).await;
        Ok::<_, Refused>(from_pcp(result, server, Some(nonce)))
    };
    run.await.unwrap_or_else(|refused| refused.answer(PCP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Failure;

    fn options(router: &str, server_port: Option<u32>) -> PxpRequestOptions {
        PxpRequestOptions {
            router: Some(router.into()),
            server_port,
            budget_ms: None,
            initial_timeout_ms: None,
            trace: None,
        }
    }

    /// A refusal of `check` as a NAT-PMP/PCP call reports it.
    fn refusal<T: std::fmt::Debug>(checked: Result<T, Failure>) -> Refused {
        Refused::from(checked.unwrap_err())
    }

    #[test]
    fn caller_input_is_checked_before_any_io() {
        let bad = options("not-an-ip", None).server(true).unwrap_err();
        assert_eq!(bad.meaning, "INVALID_GATEWAY");
        assert_eq!(bad.upnp, UpnpResult::InvalidGateway);
        let v6 = options("fd77::1", None).server(true).unwrap_err();
        assert!(v6.why.contains("IPv4 only"));
        assert_eq!(
            options("fd77::1", Some(5351)).server(false).unwrap(),
            "[fd77::1]:5351".parse().unwrap()
        );
        let port = options("10.0.0.1", Some(70000)).server(true).unwrap_err();
        assert_eq!(port.meaning, "INVALID_ARGS");
        assert_eq!(
            options(" 10.0.0.1 ", Some(1234)).server(true).unwrap(),
            "10.0.0.1:1234".parse().unwrap()
        );
        let protocol = refusal(check::protocol("udp", MapProtocol::Udp, MapProtocol::Tcp));
        assert_eq!(
            (protocol.meaning, protocol.upnp),
            ("INVALID_ARGS", UpnpResult::InvalidProtocol)
        );
        assert_eq!(
            refusal(check::port(65536, "internalPort")).upnp,
            UpnpResult::InvalidPort
        );
        assert!(nonce_arg("xyz").is_err());
        assert_eq!(local_arg(&None).unwrap(), None);
        assert_eq!(local_arg(&Some(" ".into())).unwrap(), None);
        assert_eq!(
            local_arg(&Some("fd77::10".into())).unwrap(),
            Some("fd77::10".parse().unwrap())
        );
        assert_eq!(
            local_arg(&Some("x".into())).unwrap_err().meaning,
            "INVALID_ARGS"
        );
        assert_eq!(
            refusal(check::nonzero_port(0, "internalPort")).upnp,
            UpnpResult::InvalidPort
        );
        assert_eq!(check::nonzero_port(7777, "internalPort").unwrap(), 7777);
    }

    #[test]
    fn timing_defaults() {
        let t = options("", None).timing();
        assert_eq!(t.budget, Duration::from_millis(2000));
        assert_eq!(t.initial, Duration::from_millis(250));
        let t = PxpRequestOptions {
            budget_ms: Some(100),
            initial_timeout_ms: Some(0),
            ..options("", None)
        }
        .timing();
        assert_eq!(
            (t.budget, t.initial),
            (Duration::from_millis(100), Duration::from_millis(1))
        );
    }
}
