//! One device: described and classified the way Godot/miniupnpc would (but by meaning, and
//! each device on its own description): its description fetched and read, then its connection
//! services asked in order (`device/connections.rs`) until one is up.

pub mod connections;
pub mod description;
pub mod from_url;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::errors::{Failure, IgdStatus, UpnpResult};
use crate::trace::{self, Event, Kind};
use crate::upnp::charset;
use crate::upnp::device::connections::ConnectionInfo;
use crate::upnp::device::description::{Description, MAX_DESCRIPTION_BYTES};
use crate::upnp::link::http::{self, Endpoint};
use crate::upnp::link::Limits;

/// What discovery learns about one device (Godot's `UPNPDevice` plus the extras we report).
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub description_url: String,
    /// The ST of the search reply (Godot's `service_type`).
    pub service_type: String,
    pub igd_control_url: String,
    pub igd_service_type: String,
    pub igd_our_addr: String,
    pub igd_status: IgdStatus,
    /// The external address the gateway reported while it was classified ("" if none).
    pub external_address: String,
    /// Connected, but the external address is private or shared: another NAT is upstream.
    pub double_nat: bool,
    pub friendly_name: String,
    pub manufacturer: String,
    pub model_name: String,
    /// SSDP `SERVER` and `BOOTID.UPNP.ORG` of the reply that found it.
    pub server: String,
    pub boot_id: Option<u32>,
    /// Reboots of this device seen by this process so far (`upnp::boot`).
    pub resets: u32,
    /// Why the status is not OK, when something said so.
    pub last_error: Option<Failure>,
    /// Every WAN connection service of the description (at most
    /// [`connections::MAX_CONNECTIONS`]); `igd_*` above describe the one in use.
    pub connections: Vec<ConnectionInfo>,
    /// The `WANIPv6FirewallControl` service (IPv6 pinholes), "" when the device has none.
    /// Found whatever the connection's status: an IPv6 path may work when IPv4 does not.
    pub firewall_control_url: String,
    pub firewall_service_type: String,
}

impl DeviceInfo {
    /// A device that replied and has not been classified yet (Godot's fresh-device status).
    pub fn unclassified(description_url: String, service_type: String) -> Self {
        Self {
            description_url,
            service_type,
            igd_control_url: String::new(),
            igd_service_type: String::new(),
            igd_our_addr: String::new(),
            igd_status: IgdStatus::UnknownError,
            external_address: String::new(),
            double_nat: false,
            friendly_name: String::new(),
            manufacturer: String::new(),
            model_name: String::new(),
            server: String::new(),
            boot_id: None,
            resets: 0,
            last_error: None,
            connections: Vec::new(),
            firewall_control_url: String::new(),
            firewall_service_type: String::new(),
        }
    }

    /// A TR-064 gateway (Broadband Forum namespace) rather than a UPnP forum IGD.
    pub fn is_tr064(&self) -> bool {
        description::is_tr064(&self.igd_service_type)
            || self.service_type.starts_with("urn:dslforum-org:")
    }

    fn fail(mut self, status: IgdStatus, why: Failure) -> Self {
        self.igd_status = status;
        self.last_error = Some(why);
        self
    }

    /// Fetches the description, then asks its connection services in order until one is up.
    pub async fn classify(self, deadline: Instant, request_timeout: Duration) -> Self {
        self.classify_reporting(deadline, request_timeout, &Stage::default())
            .await
    }

    /// [`classify`](Self::classify), telling `stage` how far it got (discovery's deadline may
    /// cut it short and then says where).
    pub async fn classify_reporting(
        self,
        deadline: Instant,
        request_timeout: Duration,
        stage: &Stage,
    ) -> Self {
        let device = self.describe(deadline, request_timeout, stage).await;
        trace::emit(|| device.described());
        device
    }

    /// The trace's summary of a classified device.
    fn described(&self) -> Event {
        let mut summary = format!(
            "{:?} {:?} {:?}: status {:?}",
            self.friendly_name, self.manufacturer, self.model_name, self.igd_status
        );
        if !self.igd_control_url.is_empty() {
            summary += &format!(", {} at {}", self.igd_service_type, self.igd_control_url);
        }
        if !self.external_address.is_empty() {
            summary += &format!(", external address {}", self.external_address);
        }
        if let Some(why) = &self.last_error {
            summary += &format!("; {}", why.description);
        }
        Event::new(Kind::Described)
            .url(self.description_url.as_str())
            .code(self.igd_status as i64)
            .detail(summary)
    }

    async fn describe(
        mut self,
        deadline: Instant,
        request_timeout: Duration,
        stage: &Stage,
    ) -> Self {
        let limits = Limits {
            deadline: deadline.min(Instant::now() + request_timeout),
            connect_timeout: request_timeout.min(Duration::from_secs(3)),
            max_body: MAX_DESCRIPTION_BYTES,
            urgent: false,
            source: None,
        };
        let endpoint = match Endpoint::parse(&self.description_url) {
            Ok(e) => e,
            Err(why) => {
                return self.fail(
                    IgdStatus::HttpError,
                    Failure::new(UpnpResult::HttpError, why),
                )
            }
        };
        let response = match http::get(&endpoint, &limits).await {
            Ok(r) => r,
            Err(e) => {
                return self.fail(
                    IgdStatus::HttpError,
                    Failure::new(UpnpResult::HttpError, format!("description: {e}")),
                )
            }
        };
        self.igd_our_addr = response.local_addr.ip().to_string();
        if response.status != 200 {
            let why = Failure::new(
                UpnpResult::HttpError,
                format!("description: HTTP {}", response.status),
            )
            .with_http_status(response.status);
            return self.fail(IgdStatus::HttpError, why);
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            let why = Failure::new(UpnpResult::HttpError, "description: empty body")
                .with_http_status(200);
            return self.fail(IgdStatus::HttpEmpty, why);
        }
        let text = charset::decode_xml(&response.body);
        let desc = match Description::parse(&text) {
            Ok(d) => d,
            Err(why) => {
                return self.fail(
                    IgdStatus::NoIgd,
                    Failure::new(UpnpResult::InvalidResponse, format!("description: {why}")),
                )
            }
        };
        self.friendly_name = desc.friendly_name.clone();
        self.manufacturer = desc.manufacturer.clone();
        self.model_name = desc.model_name.clone();
        // Opened from a URL there was no search reply: the device type is what its ST was.
        if self.service_type.is_empty() {
            self.service_type = desc.device_type.clone();
        }
        if let Some(firewall) = desc.firewall_service() {
            let url =
                description::resolve_url(desc.base(&self.description_url), &firewall.control_url);
            // Only on the device's own host, as for the connection service below.
            if Endpoint::parse(&url).is_ok_and(|c| c.addr.ip() == endpoint.addr.ip()) {
                self.firewall_control_url = url;
                self.firewall_service_type = firewall.service_type.clone();
            }
        }

        let base = desc.base(&self.description_url);
        let candidates: Vec<_> = desc
            .connection_services()
            .map(|s| {
                let url = description::resolve_url(base, &s.control_url);
                (s.service_type.clone(), url)
            })
            .collect();
        if candidates.is_empty() {
            let (status, why) = if desc.wan_common_interface().is_some() {
                (
                    IgdStatus::InvalidControl,
                    "an IGD without a WANIPConnection/WANPPPConnection service",
                )
            } else {
                (
                    IgdStatus::UnknownDevice,
                    "a UPnP device, but not an Internet gateway",
                )
            };
            return self.fail(status, Failure::new(UpnpResult::UnknownError, why));
        }
        stage.asking();
        let (connections, index) =
            connections::choose(candidates, endpoint.addr.ip(), limits.deadline).await;
        let used = &connections[index];
        self.igd_service_type = used.service_type.clone();
        self.igd_control_url = used.control_url.clone();
        self.igd_status = used.igd_status;
        self.external_address = used.external_address.clone();
        self.double_nat = used.double_nat;
        self.last_error = used.last_error.clone();
        self.connections = connections;
        self
    }
}

/// How far a classification has got: discovery reads it when its deadline cuts one short.
#[derive(Clone, Debug, Default)]
pub struct Stage(Arc<AtomicU8>);

const ASKING: u8 = 1;

impl Stage {
    fn asking(&self) {
        self.0.store(ASKING, Ordering::Relaxed);
    }

    /// Why a device still being classified when discovery's `timeout` ran out has no status.
    pub fn cut_short(&self, timeout: Duration) -> Failure {
        let ms = timeout.as_millis();
        let why = if self.0.load(Ordering::Relaxed) == ASKING {
            format!(
                "discovery's deadline ({ms} ms) passed while its connection service was being asked (GetStatusInfo, GetExternalIPAddress)"
            )
        } else {
            format!("description: no complete reply before discovery's deadline ({ms} ms)")
        };
        Failure::new(UpnpResult::HttpError, why)
    }
}
