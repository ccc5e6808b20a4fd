//! `UPNP.discover()`: one SSDP burst (Godot's search types at once, search.rs), replies
//! classified concurrently as they arrive (replies.rs), a hard deadline, optional early
//! return once a working gateway is confirmed, and cancellation.
//!
//! Its parts, in this folder: [`ssdp`] (the search socket and datagrams, one header reader
//! for replies and announcements), [`search`] (Godot's search types and which reply names a
//! device), [`search_plan`] (where a search goes), [`replies`] (the devices found so far),
//! [`boot`] (has a device rebooted?) and [`notify`] (hearing announcements, passively).

pub mod boot;
pub mod notify;
pub mod replies;
pub mod search;
pub mod search_plan;
pub mod ssdp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::errors::{Failure, IgdStatus, UpnpResult};
use crate::limits::{MAX_REPLIES, MAX_REPLIES_PER_SOURCE};
use crate::route;
use crate::trace::{self, Event, Kind};
use crate::upnp::device::{DeviceInfo, Stage};
use crate::upnp::discovery::replies::Replies;
use crate::upnp::discovery::search::Plan;
use crate::upnp::discovery::search_plan::SearchPlan;
use crate::upnp::discovery::ssdp::{Interface, SocketOptions, MAX_DATAGRAM};

#[derive(Clone, Debug)]
pub struct DiscoverConfig {
    pub socket: SocketOptions,
    pub timeout: Duration,
    /// Godot's `device_filter`: "" keeps every reply, otherwise a case-sensitive substring of ST.
    pub device_filter: String,
    /// Resolve as soon as one device is confirmed as a working gateway.
    pub until_gateway: bool,
    /// Cap on each description fetch / SOAP call made while classifying.
    pub request_timeout: Duration,
}

#[derive(Debug)]
pub struct DiscoverOutcome {
    pub result: UpnpResult,
    /// Kept devices: the default route's gateway first, then in the order they answered.
    pub devices: Vec<DeviceInfo>,
    pub error: Option<Failure>,
    /// How many valid search replies arrived (before filtering and de-duplication).
    pub replies: usize,
}

impl DiscoverOutcome {
    fn failed(result: UpnpResult, why: impl Into<String>) -> Self {
        Self {
            result,
            devices: Vec::new(),
            error: Some(Failure::new(result, why)),
            replies: 0,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

/// Godot's MX is the timeout in seconds (at least 1); compliant devices spread their reply
/// over MX seconds, so we ask for at most half the window to keep answers inside it.
fn mx_for(timeout: Duration) -> u32 {
    (timeout.as_millis() / 2000).clamp(1, 5) as u32
}

/// Second burst, for UDP loss on busy Wi-Fi: early enough to matter, never after the window.
fn retransmit_delay(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_millis(200))
}

/// One datagram of a burst: where it goes, from which interface (multicast), what it says.
struct Search {
    destination: std::net::SocketAddr,
    interface: Interface,
    message: String,
}

/// Every search target to every destination of `plan`: unicast to the gateways first.
/// Every search target of `targets` (Godot's search types, search.rs) to every destination of
/// `routes` (unicast to the default gateways, multicast on the interfaces that reach them).
fn searches(routes: &SearchPlan, targets: &[&'static str], ipv6: bool, mx: u32) -> Vec<Search> {
    let groups = ssdp::destinations(ipv6);
    let unicast = routes.unicast.iter().flat_map(|gateway| {
        // HOST names the multicast group, as miniupnpc's and Tailscale's unicast searches do.
        targets.iter().map(|st| Search {
            destination: *gateway,
            interface: Interface::Default,
            message: ssdp::m_search(&groups[0], st, mx),
        })
    });
    let multicast = routes.multicast_on.iter().flat_map(|interface| {
        groups.iter().flat_map(move |group| {
            targets.iter().map(move |st| Search {
                destination: search_plan::group_on(*group, interface),
                interface: interface.clone(),
                message: ssdp::m_search(group, st, mx),
            })
        })
    });
    unicast.chain(multicast).collect()
}

/// A search-socket datagram for the trace: its bytes and what became of it.
fn datagram_event(from: SocketAddr, datagram: &[u8], outcome: &str) -> Event {
    Event::new(Kind::SsdpReceived)
        .peer(from)
        .body(bytes::Bytes::copy_from_slice(datagram))
        .detail(outcome)
}

async fn send_burst(socket: &tokio::net::UdpSocket, searches: &[Search]) -> std::io::Result<()> {
    let mut last_error = None;
    let mut sent = 0;
    let mut interface = None;
    for search in searches {
        if !search.destination.ip().is_multicast() {
            // Unicast does not depend on the multicast interface.
        } else if interface != Some(&search.interface) {
            if let Err(e) = ssdp::set_multicast_interface(socket, &search.interface) {
                last_error = Some(e);
                continue;
            }
            interface = Some(&search.interface);
        }
        match socket
            .send_to(search.message.as_bytes(), search.destination)
            .await
        {
            Ok(_) => {
                sent += 1;
                trace::emit(|| {
                    Event::new(Kind::SsdpSent)
                        .peer(search.destination)
                        .head(search.message.as_str())
                        .detail(interface_name(&search.interface))
                });
            }
            Err(e) => {
                trace::emit(|| {
                    Event::new(Kind::SsdpSent)
                        .peer(search.destination)
                        .detail(format!("not sent: {e}"))
                });
                last_error = Some(e);
            }
        }
    }
    match (sent, last_error) {
        (0, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The interface a multicast search left from, for the trace.
fn interface_name(interface: &Interface) -> String {
    match interface {
        Interface::Default => "the system's choice".to_string(),
        Interface::V4(ip) => format!("interface {ip}"),
        Interface::V6Index(index) => format!("interface #{index}"),
    }
}

/// Replies already queued when the search stops early (`until_gateway`) still name their
/// devices: otherwise which of a router's replies happened to be read would decide its
/// `service_type`. Bounded: a flood cannot keep the search alive.
fn drain_queued(socket: &tokio::net::UdpSocket, buffer: &mut [u8], replies: &mut Replies) {
    for _ in 0..MAX_DRAINED {
        let Ok((len, from)) = socket.try_recv_from(buffer) else {
            return;
        };
        if let Some(reply) = ssdp::parse_reply(&buffer[..len]) {
            replies.accept(reply, from, false);
            trace::emit(|| {
                datagram_event(from, &buffer[..len], "queued when the search stopped early")
            });
        }
    }
}
const MAX_DRAINED: usize = 256;

/// The addresses of this machine's default gateways: their devices are listed first.
fn default_gateway_addresses() -> Vec<IpAddr> {
    route::default_gateways()
        .map(|g| {
            [g.v4, g.v6]
                .into_iter()
                .flatten()
                .map(|r| r.gateway)
                .collect()
        })
        .unwrap_or_default()
}

/// Godot 4's miniupnpc refuses an interface it cannot find (UPNP_RESULT_UNKNOWN_ERROR); the
/// socket failing for any other reason is SOCKET_ERROR.
fn socket_failure(error: &std::io::Error) -> UpnpResult {
    if ssdp::is_no_such_interface(error) {
        UpnpResult::UnknownError
    } else {
        UpnpResult::SocketError
    }
}

pub async fn discover(
    config: DiscoverConfig,
    cancel: CancellationToken,
) -> Result<DiscoverOutcome, Cancelled> {
    let started = Instant::now();
    let deadline = started + config.timeout;
    let plan = Plan::for_filter(&config.device_filter);
    let mx = mx_for(config.timeout);
    let (socket, messages) = match open_and_search(&config, &plan.targets(), mx).await {
        Ok(opened) => opened,
        Err(failed) => return Ok(failed),
    };
    let retransmit_at = started + retransmit_delay(config.timeout);
    let mut retransmitted = false;
    let mut run = Run::new(&config, plan, deadline);
    let mut receive_errors = 0u32;
    let mut buffer = vec![0u8; MAX_DATAGRAM];

    loop {
        let grace_end = run
            .other_gateway_at
            .map_or(deadline, |at| (at + DEFAULT_ROUTE_GRACE).min(deadline));
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Cancelled),
            _ = sleep_until(deadline) => break,
            _ = sleep_until(grace_end), if run.other_gateway_at.is_some() => break,
            Some(done) = run.classifying.join_next(), if !run.classifying.is_empty() => {
                // A panicking classification leaves its device unclassified; discovery goes on.
                if let Ok((index, device)) = done {
                    if run.classified(index, device, config.until_gateway) {
                        drain_queued(&socket, &mut buffer, &mut run.replies);
                        break;
                    }
                }
            }
            _ = sleep_until(retransmit_at), if !retransmitted => {
                retransmitted = true;
                let _ = send_burst(&socket, &messages).await;
            }
            received = socket.recv_from(&mut buffer) => {
                let (len, from) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        receive_errors += 1;
                        if receive_errors > 64 {
                            return Ok(DiscoverOutcome::failed(UpnpResult::SocketError, format!("receiving: {e}")));
                        }
                        continue;
                    }
                };
                run.received(&buffer[..len], from);
                for (host, st) in run.replies.take_asks() {
                    let to = SocketAddr::new(host, ssdp::SSDP_PORT);
                    let message = ssdp::m_search(&to, &st, mx);
                    let _ = socket.send_to(message.as_bytes(), to).await;
                    trace::emit(|| Event::new(Kind::SsdpSent).peer(to).head(message.as_str()).detail("asking the host to vouch for a LOCATION on it"));
                }
            }
        }
    }
    Ok(run.finish(config.timeout))
}

/// Where the search goes, its socket, and the first burst sent: the socket and the burst (sent
/// again once), or the outcome of a search that could not start.
async fn open_and_search(
    config: &DiscoverConfig,
    targets: &[&'static str],
    mx: u32,
) -> Result<(tokio::net::UdpSocket, Vec<Search>), DiscoverOutcome> {
    let socket_failed = |e: std::io::Error| {
        DiscoverOutcome::failed(socket_failure(&e), format!("SSDP socket: {e}"))
    };
    let routes = search_plan::plan(
        &config.socket,
        &crate::route::default_routes().unwrap_or_default(),
        &if_addrs::get_if_addrs().unwrap_or_default(),
    )
    .map_err(socket_failed)?;
    let socket = ssdp::open_socket(&config.socket).map_err(socket_failed)?;
    let messages = searches(&routes, targets, config.socket.ipv6, mx);
    if let Err(e) = send_burst(&socket, &messages).await {
        return Err(DiscoverOutcome::failed(
            UpnpResult::SocketError,
            format!("sending M-SEARCH: {e}"),
        ));
    }
    Ok((socket, messages))
}

/// One discovery's state between search replies: the devices found, those still being
/// classified, and when `until_gateway` may stop.
struct Run {
    deadline: Instant,
    request_timeout: Duration,
    default_gateways: Vec<IpAddr>,
    intake: Intake,
    replies: Replies,
    /// `until_gateway`: when the gateway that settled first is not the default route's, how
    /// long the default route's own may still take (DEFAULT_ROUTE_GRACE).
    other_gateway_at: Option<Instant>,
    classifying: JoinSet<(usize, DeviceInfo)>,
    /// How far each device still being classified has got, for a deadline that cuts it short.
    stages: HashMap<usize, Stage>,
}

impl Run {
    fn new(config: &DiscoverConfig, plan: Plan, deadline: Instant) -> Self {
        Self {
            deadline,
            request_timeout: config.request_timeout,
            default_gateways: default_gateway_addresses(),
            intake: Intake::default(),
            replies: Replies::new(plan, &config.device_filter, ssdp::LocalView::current()),
            other_gateway_at: None,
            classifying: JoinSet::new(),
            stages: HashMap::new(),
        }
    }

    /// A search reply: a new device starts being classified at once.
    fn received(&mut self, datagram: &[u8], from: SocketAddr) {
        if !self.intake.admit(from.ip()) {
            return;
        }
        let Some(reply) = ssdp::parse_reply(datagram) else {
            trace::emit(|| datagram_event(from, datagram, "not a search reply: ignored"));
            return;
        };
        match self.replies.accept(reply, from, true) {
            Some((index, device)) => {
                trace::emit(|| {
                    let outcome = format!("a new device: fetching {}", device.description_url);
                    datagram_event(from, datagram, &outcome)
                });
                let (deadline, request_timeout) = (self.deadline, self.request_timeout);
                let stage = Stage::default();
                self.stages.insert(index, stage.clone());
                self.classifying.spawn(trace::inherit(async move {
                    let device = device
                        .classify_reporting(deadline, request_timeout, &stage)
                        .await;
                    (index, device)
                }));
            }
            None => trace::emit(|| {
                let outcome = "no new device (known, filtered out or refused)";
                datagram_event(from, datagram, outcome)
            }),
        }
    }

    /// A device classified; true when `until_gateway` may stop now.
    fn classified(&mut self, index: usize, device: DeviceInfo, until_gateway: bool) -> bool {
        self.stages.remove(&index);
        self.replies.classified(index, device);
        let nothing_pending = self.classifying.is_empty();
        if !until_gateway || !gateway_settled(self.replies.devices(), nothing_pending) {
            return false;
        }
        // The default route's gateway is the one to stop for (a faster device elsewhere on
        // the LAN may be anyone's): without a known default route, when it settled, or when
        // it answered and everything is classified (it is not a working gateway), stop; else
        // wait for it.
        let via_route = || self.replies.devices_via(&self.default_gateways);
        let route_answered = via_route().next().is_some();
        if self.default_gateways.is_empty()
            || gateway_settled(via_route(), nothing_pending)
            || (route_answered && nothing_pending)
        {
            return true;
        }
        self.other_gateway_at.get_or_insert_with(Instant::now);
        false
    }

    /// The outcome: devices still being classified at the deadline keep the fresh-device
    /// status, and say why.
    fn finish(mut self, timeout: Duration) -> DiscoverOutcome {
        self.classifying.abort_all();
        for (index, stage) in self.stages {
            let why = stage.cut_short(timeout);
            trace::emit(|| Event::new(Kind::Deadline).detail(&why.description));
            self.replies.cut_short(index, why);
        }
        let count = self.replies.count();
        let result = if count == 0 {
            UpnpResult::NoDevices
        } else {
            UpnpResult::Success
        };
        DiscoverOutcome {
            result,
            devices: self.replies.into_devices(&self.default_gateways),
            error: None,
            replies: count,
        }
    }
}

/// With `until_gateway`, how long a gateway that is not the default route's waits for the
/// default route's own: long enough for a router's spread-out reply and its classification,
/// short enough that a LAN whose UPnP box is not the default gateway still gets an answer.
const DEFAULT_ROUTE_GRACE: Duration = Duration::from_secs(1);

/// SSDP datagrams one discovery parses (limits.rs): per source and in all. The rest are read
/// and dropped unparsed, so a flood costs a receive each and nothing more.
#[derive(Default)]
struct Intake {
    parsed: usize,
    parsed_from: HashMap<IpAddr, usize>,
}

impl Intake {
    fn admit(&mut self, ip: IpAddr) -> bool {
        let from_ip = self.parsed_from.entry(ip).or_default();
        if *from_ip >= MAX_REPLIES_PER_SOURCE || self.parsed >= MAX_REPLIES {
            return false;
        }
        *from_ip += 1;
        self.parsed += 1;
        true
    }
}

/// Whether `until_gateway` may stop: a working UPnP forum gateway is confirmed, or a working
/// TR-064 one is and nothing else is still being asked (a router answering both kinds of
/// search may need a login for TR-064; its IGD is the better choice).
fn gateway_settled<'a>(
    devices: impl Iterator<Item = &'a DeviceInfo>,
    nothing_pending: bool,
) -> bool {
    let mut tr064_working = false;
    for d in devices.filter(|d| d.igd_status == IgdStatus::Ok) {
        if !d.is_tr064() {
            return true;
        }
        tr064_working = true;
    }
    tr064_working && nothing_pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_stays_within_the_window() {
        assert_eq!(mx_for(Duration::from_millis(0)), 1);
        assert_eq!(mx_for(Duration::from_millis(2000)), 1);
        assert_eq!(mx_for(Duration::from_millis(6000)), 3);
        assert_eq!(mx_for(Duration::from_secs(60)), 5);
    }

    #[test]
    fn one_source_cannot_flood_the_intake() {
        let mut intake = Intake::default();
        let attacker: IpAddr = "192.168.1.66".parse().unwrap();
        let router: IpAddr = "192.168.1.1".parse().unwrap();
        let parsed = (0..10_000).filter(|_| intake.admit(attacker)).count();
        assert_eq!(parsed, MAX_REPLIES_PER_SOURCE);
        assert!(intake.admit(router));
    }

    #[test]
    fn retransmission_is_early() {
        assert_eq!(
            retransmit_delay(Duration::from_millis(2000)),
            Duration::from_millis(200)
        );
        assert_eq!(
            retransmit_delay(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn a_tr064_gateway_waits_for_the_others() {
        let device = |st: &str, status| DeviceInfo {
            igd_status: status,
            igd_service_type: st.replace(
                ":device:InternetGatewayDevice:",
                ":service:WANIPConnection:",
            ),
            ..DeviceInfo::unclassified(String::new(), st.to_string())
        };
        let tr064 = device(
            "urn:dslforum-org:device:InternetGatewayDevice:1",
            IgdStatus::Ok,
        );
        let igd = device(
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            IgdStatus::Ok,
        );
        let broken = device(
            "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
            IgdStatus::InvalidControl,
        );
        assert!(!gateway_settled([&tr064, &broken].into_iter(), false));
        assert!(gateway_settled([&tr064, &broken].into_iter(), true));
        assert!(gateway_settled([&tr064, &igd].into_iter(), false));
        assert!(!gateway_settled([&broken].into_iter(), true));
        assert!(tr064.is_tr064() && !igd.is_tr064() && !broken.is_tr064());
    }

    #[tokio::test]
    async fn unknown_interface_is_an_unknown_error_as_in_godot_4() {
        let config = DiscoverConfig {
            socket: SocketOptions {
                multicast_if: "no-such-if0".into(),
                ttl: 2,
                ..Default::default()
            },
            timeout: Duration::from_millis(10),
            device_filter: String::new(),
            until_gateway: false,
            request_timeout: Duration::from_millis(10),
        };
        let outcome = discover(config, CancellationToken::new()).await.unwrap();
        assert_eq!(outcome.result, UpnpResult::UnknownError);
        assert!(outcome.error.unwrap().description.contains("no-such-if0"));
    }

    #[tokio::test]
    async fn an_address_of_the_other_family_is_no_interface_either() {
        let config = DiscoverConfig {
            socket: SocketOptions {
                multicast_if: "127.0.0.1".into(),
                ipv6: true,
                ttl: 2,
                ..Default::default()
            },
            timeout: Duration::from_millis(10),
            device_filter: String::new(),
            until_gateway: false,
            request_timeout: Duration::from_millis(10),
        };
        let outcome = discover(config, CancellationToken::new()).await.unwrap();
        assert_eq!(outcome.result, UpnpResult::UnknownError);
    }
}
