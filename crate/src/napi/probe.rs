//! The N-API surface of the protocol probe (UPnP, NAT-PMP and PCP at once) and of the
//! default gateway lookup: plain objects in, plain objects out.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use napi_derive::napi;

use crate::napi::pxp_answer::{from_natpmp, from_pcp, ms, NativePxpAnswer};
use crate::napi::upnp::NativeDevice;
use crate::napi::NativeFailure;
use crate::probe::{self, ProbeConfig};
use crate::pxp::transport;
use crate::route;
use crate::trace;
use crate::upnp::discovery::ssdp::SocketOptions;

#[napi(object)]
pub struct ProbeOptions {
    /// The NAT-PMP/PCP server (the router) over IPv4; absent or "" = the default route's gateway.
    pub router: Option<String>,
    /// The PCP server over IPv6; absent = the default IPv6 route's gateway (if any), "" = none.
    pub router6: Option<String>,
    /// Total time (default `PROBE_BUDGET_MS`).
    pub budget_ms: Option<u32>,
    /// Each protocol can be left out (all default to true).
    pub upnp: Option<bool>,
    pub natpmp: Option<bool>,
    pub pcp: Option<bool>,
    /// UPnP search interface (Godot's `discover_multicast_if`), "" = system default.
    pub multicast_if: Option<String>,
    /// Default 5351.
    pub server_port: Option<u32>,
    /// A traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
    pub trace: Option<u32>,
}

#[napi(object)]
pub struct UpnpProbeResult {
    /// A device was confirmed as a working gateway within the budget.
    pub answered: bool,
    /// Time to that confirmation (or to the end of the search).
    pub latency_ms: f64,
    pub device: Option<NativeDevice>,
    pub replies: u32,
    pub devices: u32,
    pub failure: Option<NativeFailure>,
}

#[napi(object)]
pub struct ProbeResult {
    pub elapsed_ms: f64,
    /// The routers NAT-PMP and PCP asked.
    pub router: Option<String>,
    pub router6: Option<String>,
    /// Why a router could not be determined (NAT-PMP and PCP skipped then).
    pub error: Option<String>,
    pub upnp: Option<UpnpProbeResult>,
    /// NAT-PMP external address request.
    pub natpmp: Option<NativePxpAnswer>,
    /// PCP ANNOUNCE over IPv4 and over IPv6.
    pub pcp: Option<NativePxpAnswer>,
    pub pcp6: Option<NativePxpAnswer>,
}

/// UPnP, NAT-PMP and PCP probed at once within one budget.
#[napi]
pub async fn probe_port_mapping(options: ProbeOptions) -> ProbeResult {
    trace::scoped(options.trace, probe_port_mapping_untraced(options)).await
}

async fn probe_port_mapping_untraced(options: ProbeOptions) -> ProbeResult {
    let port = match options.server_port.map(u16::try_from) {
        None => transport::SERVER_PORT,
        Some(Ok(p)) if p != 0 => p,
        Some(_) => transport::SERVER_PORT,
    };
    let targets = route::probe_targets(options.router.as_deref(), options.router6.as_deref(), port);
    let (gateway4, gateway6) = (targets.v4, targets.v6);
    let config = ProbeConfig {
        gateway4,
        gateway6,
        server_port: port,
        budget: Duration::from_millis(
            options
                .budget_ms
                .unwrap_or(probe::DEFAULT_BUDGET.as_millis() as u32)
                .into(),
        ),
        upnp: options.upnp.unwrap_or(true).then(|| SocketOptions {
            ipv6: false,
            multicast_if: options.multicast_if.clone().unwrap_or_default(),
            local_port: 0,
            ttl: 2,
        }),
        natpmp: options.natpmp.unwrap_or(true),
        pcp: options.pcp.unwrap_or(true),
    };
    let outcome = probe::probe(config).await;
    let v4 = gateway4.map(|g| SocketAddr::new(IpAddr::V4(g), port));
    ProbeResult {
        elapsed_ms: ms(outcome.elapsed),
        router: gateway4.map(|g| g.to_string()),
        router6: gateway6.map(route::format_gateway),
        error: (!targets.problems.is_empty()).then(|| targets.problems.join("; ")),
        upnp: outcome.upnp.map(|u| UpnpProbeResult {
            answered: u.gateway.is_some(),
            latency_ms: ms(u.latency),
            device: u.gateway.map(Into::into),
            replies: u32::try_from(u.replies).unwrap_or(u32::MAX),
            devices: u32::try_from(u.devices).unwrap_or(u32::MAX),
            failure: u.error.map(Into::into),
        }),
        natpmp: outcome
            .natpmp
            .zip(v4)
            .map(|(result, gw)| from_natpmp(result, gw)),
        pcp: outcome
            .pcp
            .zip(v4)
            .map(|(result, gw)| from_pcp(result, gw, None)),
        pcp6: outcome
            .pcp6
            .zip(gateway6)
            .map(|(result, gw)| from_pcp(result, gw, None)),
    }
}

#[napi(object)]
pub struct DefaultGatewayResult {
    /// IPv4 default gateway, its interface and our address towards it.
    pub gateway: Option<String>,
    pub interface: Option<String>,
    pub local_address: Option<String>,
    /// IPv6 default gateway (`fe80::1%eth0` when link-local), interface, our address.
    pub gateway6: Option<String>,
    pub interface6: Option<String>,
    pub local_address6: Option<String>,
    /// Why nothing could be read (a platform other than Linux, macOS and Windows: pass the
    /// gateway yourself).
    pub error: Option<String>,
}

/// The default routes' best gateways (see `route`: /proc on Linux, netdev on macOS and
/// Windows; tunnels ranked last) and the local address towards each (found by connecting a
/// UDP socket: nothing is sent).
#[napi]
pub async fn default_gateway() -> DefaultGatewayResult {
    let mut out = DefaultGatewayResult {
        gateway: None,
        interface: None,
        local_address: None,
        gateway6: None,
        interface6: None,
        local_address6: None,
        error: None,
    };
    match route::default_gateways() {
        Ok(g) => {
            if let Some(r) = g.v4 {
                out.local_address = route::local_address_for(r.socket_addr(transport::SERVER_PORT))
                    .ok()
                    .map(|ip| ip.to_string());
                out.gateway = Some(r.display());
                out.interface = Some(r.interface);
            }
            if let Some(r) = g.v6 {
                out.local_address6 =
                    route::local_address_for(r.socket_addr(transport::SERVER_PORT))
                        .ok()
                        .map(|ip| ip.to_string());
                out.gateway6 = Some(r.display());
                out.interface6 = Some(r.interface);
            }
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// The local address the system would use towards `gateway` (nothing is sent); "" when
/// there is no route or `gateway` is not an address.
#[napi]
pub fn local_address_for(gateway: String) -> String {
    route::gateway_addr(&gateway, transport::SERVER_PORT)
        .ok()
        .and_then(|addr| route::local_address_for(addr).ok())
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}
