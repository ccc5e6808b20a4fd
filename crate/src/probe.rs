//! Which port-mapping protocols does the gateway speak? UPnP (an SSDP search that stops at
//! the first confirmed gateway), NAT-PMP (external address request) and PCP (ANNOUNCE, over
//! IPv4 and, when an IPv6 gateway is known, IPv6) all start at once and share one budget:
//! a router that answers is known within its own reply time, one that does not costs the
//! budget, never more.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::errors::{Failure, IgdStatus};
use crate::pxp::transport::Timing;
use crate::pxp::{natpmp, pcp};
use crate::upnp::device::DeviceInfo;
use crate::upnp::discovery::ssdp::SocketOptions;
use crate::upnp::discovery::{self, DiscoverConfig};

/// Tailscale's figure, and ours: enough for a LAN router, short enough to run often.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// NAT-PMP and PCP over IPv4 go here.
    pub gateway4: Option<Ipv4Addr>,
    /// PCP over IPv6 goes here (scope id set for link-local); the port is replaced.
    pub gateway6: Option<SocketAddr>,
    pub server_port: u16,
    pub budget: Duration,
    /// `None`: no UPnP search.
    pub upnp: Option<SocketOptions>,
    pub natpmp: bool,
    pub pcp: bool,
}

#[derive(Debug)]
pub struct UpnpProbe {
    /// The first device confirmed as a working gateway.
    pub gateway: Option<DeviceInfo>,
    /// Until that confirmation (or until the search ended).
    pub latency: Duration,
    /// Valid search replies, and distinct devices, seen.
    pub replies: usize,
    pub devices: usize,
    pub error: Option<Failure>,
}

#[derive(Debug)]
pub struct ProbeOutcome {
    pub elapsed: Duration,
    pub upnp: Option<UpnpProbe>,
    pub natpmp: Option<Result<natpmp::Reply, natpmp::Error>>,
    pub pcp: Option<Result<pcp::Reply, pcp::Error>>,
    pub pcp6: Option<Result<pcp::Reply, pcp::Error>>,
}

async fn probe_upnp(socket: SocketOptions, budget: Duration) -> UpnpProbe {
    let started = Instant::now();
    let config = DiscoverConfig {
        socket,
        timeout: budget,
        device_filter: String::new(),
        until_gateway: true,
        request_timeout: budget,
    };
    // Never cancelled: the search stops by itself at the budget.
    match discovery::discover(config, CancellationToken::new()).await {
        Ok(outcome) => UpnpProbe {
            latency: started.elapsed(),
            replies: outcome.replies,
            devices: outcome.devices.len(),
            gateway: outcome
                .devices
                .into_iter()
                .find(|d| d.igd_status == IgdStatus::Ok),
            error: outcome.error,
        },
        Err(discovery::Cancelled) => UpnpProbe {
            latency: started.elapsed(),
            replies: 0,
            devices: 0,
            gateway: None,
            error: None,
        },
    }
}

/// Runs every enabled probe at once; returns when all have settled, at most `budget` (plus
/// scheduling) after the call.
pub async fn probe(config: ProbeConfig) -> ProbeOutcome {
    let started = Instant::now();
    let timing = Timing::with_budget(config.budget);
    let port = config.server_port;
    let upnp = async {
        match config.upnp.clone() {
            Some(socket) => Some(probe_upnp(socket, config.budget).await),
            None => None,
        }
    };
    let natpmp = async {
        match config.gateway4 {
            Some(gw) if config.natpmp => {
                Some(natpmp::external_address(natpmp::server(gw, port), &timing).await)
            }
            _ => None,
        }
    };
    let pcp4 = async {
        match config.gateway4 {
            Some(gw) if config.pcp => {
                Some(pcp::announce(SocketAddr::new(IpAddr::V4(gw), port), &timing).await)
            }
            _ => None,
        }
    };
    let pcp6 = async {
        match config.gateway6 {
            Some(mut gw) if config.pcp => {
                gw.set_port(port);
                Some(pcp::announce(gw, &timing).await)
            }
            _ => None,
        }
    };
    let (upnp, natpmp, pcp, pcp6) = tokio::join!(upnp, natpmp, pcp4, pcp6);
    ProbeOutcome {
        elapsed: started.elapsed(),
        upnp,
        natpmp,
        pcp,
        pcp6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One loopback server that speaks NAT-PMP (version 0) and PCP (version 2), like
    /// miniupnpd, on one port.
    async fn fake_router(ip: &str) -> SocketAddr {
        let server = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1200];
            while let Ok(Ok((len, from))) =
                tokio::time::timeout(Duration::from_millis(500), server.recv_from(&mut buf)).await
            {
                let reply = match (buf[0], len) {
                    (0, 2) => vec![0, 0x80, 0, 0, 0, 0, 0, 42, 11, 22, 33, 44],
                    (2, 24) => {
                        let mut r = vec![0u8; 24];
                        r[0] = 2;
                        r[1] = 0x80;
                        r[11] = 42;
                        r
                    }
                    _ => continue,
                };
                server.send_to(&reply, from).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn natpmp_and_pcp_answer_long_before_the_budget() {
        let router = fake_router("127.0.3.1").await;
        let IpAddr::V4(gw) = router.ip() else {
            unreachable!()
        };
        let outcome = probe(ProbeConfig {
            gateway4: Some(gw),
            gateway6: None,
            server_port: router.port(),
            budget: Duration::from_secs(2),
            upnp: None,
            natpmp: true,
            pcp: true,
        })
        .await;
        // Answered in a few ms; far from the 2 s budget even on a busy machine.
        assert!(outcome.elapsed < Duration::from_millis(1000), "{outcome:?}");
        let pmp = outcome.natpmp.unwrap().unwrap();
        assert_eq!(
            pmp.response.body,
            natpmp::Body::ExternalAddress(Ipv4Addr::new(11, 22, 33, 44))
        );
        assert_eq!(pmp.epoch.unwrap().epoch, 42);
        let pcp = outcome.pcp.unwrap().unwrap();
        assert_eq!(
            (pcp.response.result_code, pcp.epoch.unwrap().epoch),
            (0, 42)
        );
        assert!(outcome.upnp.is_none() && outcome.pcp6.is_none());
    }

    #[tokio::test]
    async fn silence_costs_the_budget_and_no_more() {
        // A bound socket that never answers.
        let quiet = tokio::net::UdpSocket::bind("127.0.3.2:0").await.unwrap();
        let addr = quiet.local_addr().unwrap();
        let started = Instant::now();
        let outcome = probe(ProbeConfig {
            gateway4: Some(Ipv4Addr::new(127, 0, 3, 2)),
            gateway6: None,
            server_port: addr.port(),
            budget: Duration::from_millis(120),
            upnp: None,
            natpmp: true,
            pcp: true,
        })
        .await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(120) && took < Duration::from_millis(600));
        assert_eq!(outcome.natpmp.unwrap().unwrap_err().meaning(), "TIMEOUT");
        assert_eq!(outcome.pcp.unwrap().unwrap_err().meaning(), "TIMEOUT");
        drop(quiet);
    }
}
