//! A gateway's WAN connections. A description may list several WANIPConnection /
//! WANPPPConnection services (one per WAN link: a MikroTik with two uplinks, a DSL modem
//! with a PPP and an IP connection). They are asked in document order and the first that is
//! connected and has an external address is the one used, as miniupnpc's UPNP_GetValidIGD
//! chooses; the others stay visible with what they said.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::address;
use crate::errors::{Failure, IgdStatus, UpnpResult};
use crate::upnp::actions::{external_ip_address, status_info};
use crate::upnp::link::http::Endpoint;
use crate::upnp::soap::Target;

/// Connection services asked per device at most: real routers list one to three, and a
/// hostile description must not make us send hundreds of requests.
pub const MAX_CONNECTIONS: usize = 8;

/// One connection service of a gateway and what it said when asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub service_type: String,
    pub control_url: String,
    /// `OK` when usable; `DISCONNECTED`, `INVALID_CONTROL` when not; `UNKNOWN_ERROR` when it
    /// was not asked because an earlier connection is used.
    pub igd_status: IgdStatus,
    /// `NewConnectionStatus` as the router wrote it ("" if not asked or not answered).
    pub connection_status: String,
    /// `NewExternalIPAddress` ("" if not asked, not answered or unusable).
    pub external_address: String,
    pub double_nat: bool,
    pub last_error: Option<Failure>,
}

impl ConnectionInfo {
    fn new(service_type: String, control_url: String) -> Self {
        Self {
            service_type,
            control_url,
            igd_status: IgdStatus::UnknownError,
            connection_status: String::new(),
            external_address: String::new(),
            double_nat: false,
            last_error: None,
        }
    }

    fn fail(mut self, status: IgdStatus, why: Failure) -> Self {
        self.igd_status = status;
        self.last_error = Some(why);
        self
    }

    /// Asks this connection whether it is up and what its external address is.
    async fn check(mut self, device_ip: IpAddr, deadline: Instant) -> Self {
        match Endpoint::parse(&self.control_url) {
            Ok(control) if control.addr.ip() == device_ip => {}
            Ok(_) => {
                let why = format!(
                    "control URL {} is not on the device's host",
                    self.control_url
                );
                let why = Failure::new(UpnpResult::InvalidResponse, why);
                return self.fail(IgdStatus::InvalidControl, why);
            }
            Err(why) => {
                let why = format!("control URL {:?}: {why}", self.control_url);
                let why = Failure::new(UpnpResult::InvalidResponse, why);
                return self.fail(IgdStatus::InvalidControl, why);
            }
        }
        let target = || {
            Target::new(
                self.control_url.clone(),
                self.service_type.clone(),
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            )
        };
        match status_info(&target()).await {
            Ok(status) => self.connection_status = status,
            Err(why) => return self.fail(IgdStatus::InvalidControl, why),
        }
        if !matches!(self.connection_status.as_str(), "Connected" | "Up") {
            let why = format!("connection status is {:?}", self.connection_status);
            return self.fail(
                IgdStatus::Disconnected,
                Failure::new(UpnpResult::UnknownError, why),
            );
        }
        match external_ip_address(&target()).await {
            Ok(text) => match text.parse::<IpAddr>() {
                Ok(ip) if !ip.is_unspecified() => {
                    self.double_nat = address::is_not_public(ip);
                    self.external_address = text;
                    self.igd_status = IgdStatus::Ok;
                    self
                }
                _ => {
                    let why =
                        format!("connected, but reports no usable external address ({text:?})");
                    self.fail(
                        IgdStatus::Disconnected,
                        Failure::new(UpnpResult::InvalidResponse, why),
                    )
                }
            },
            // Answered, with something that is not an address: connected to nothing usable.
            Err(why) if why.result == UpnpResult::InvalidResponse => {
                self.fail(IgdStatus::Disconnected, why)
            }
            Err(why) => self.fail(IgdStatus::InvalidControl, why),
        }
    }
}

/// Asks the connections `(service type, control URL)` in order until one is usable; those
/// after it are kept unasked. Returns them all and the index of the one to use: the usable
/// one, else the first disconnected one (a working IGD whose link is down says more than a
/// broken control URL), else the first.
pub async fn choose(
    candidates: Vec<(String, String)>,
    device_ip: IpAddr,
    deadline: Instant,
) -> (Vec<ConnectionInfo>, usize) {
    let mut connections = Vec::with_capacity(candidates.len().min(MAX_CONNECTIONS));
    let mut chosen = None;
    for (service_type, control_url) in candidates.into_iter().take(MAX_CONNECTIONS) {
        let connection = ConnectionInfo::new(service_type, control_url);
        if chosen.is_some() {
            connections.push(connection);
            continue;
        }
        let connection = connection.check(device_ip, deadline).await;
        if connection.igd_status == IgdStatus::Ok {
            chosen = Some(connections.len());
        }
        connections.push(connection);
    }
    let index = chosen
        .or_else(|| {
            connections
                .iter()
                .position(|c| c.igd_status == IgdStatus::Disconnected)
        })
        .unwrap_or(0);
    (connections, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upnp::testing::router::{serve, Answer};

    const IP: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
    const PPP: &str = "urn:dslforum-org:service:WANPPPConnection:1";

    /// A router with connections /down (Disconnected), /up (Connected, 11.22.33.44),
    /// /private (Connected, 10.0.0.2), /noaddr (Connected, no address), /broken (401).
    async fn router() -> String {
        serve(|path, action, _| {
            let (status, ip) = match path {
                "/down" => ("Disconnected", ""),
                "/up" => ("Connected", "11.22.33.44"),
                "/private" => ("Up", "10.0.0.2"),
                "/noaddr" => ("Connected", "0.0.0.0"),
                _ => return Answer::Fault(401),
            };
            match action {
                "GetStatusInfo" => Answer::Values(format!(
                    "<NewConnectionStatus>{status}</NewConnectionStatus>"
                )),
                _ => Answer::Values(format!("<NewExternalIPAddress>{ip}</NewExternalIPAddress>")),
            }
        })
        .await
    }

    async fn run(origin: &str, paths: &[(&str, &str)]) -> (Vec<ConnectionInfo>, usize) {
        let candidates = paths
            .iter()
            .map(|(st, path)| (st.to_string(), format!("{origin}{path}")))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        choose(candidates, "127.0.0.1".parse().unwrap(), deadline).await
    }

    #[tokio::test]
    async fn the_first_connected_one_with_an_address_is_used_and_later_ones_are_not_asked() {
        let origin = router().await;
        let (all, used) = run(
            &origin,
            &[
                (IP, "/broken"),
                (IP, "/down"),
                (PPP, "/noaddr"),
                (PPP, "/up"),
                (IP, "/private"),
            ],
        )
        .await;
        assert_eq!(used, 3);
        let seen: Vec<_> = all
            .iter()
            .map(|c| {
                (
                    c.igd_status,
                    c.connection_status.as_str(),
                    c.external_address.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (IgdStatus::InvalidControl, "", ""),
                (IgdStatus::Disconnected, "Disconnected", ""),
                (IgdStatus::Disconnected, "Connected", ""),
                (IgdStatus::Ok, "Connected", "11.22.33.44"),
                (IgdStatus::UnknownError, "", ""),
            ]
        );
        assert_eq!(all[3].service_type, PPP);
        assert_eq!(all[0].last_error.as_ref().unwrap().upnp_code, Some(401));
        assert!(all[3].last_error.is_none() && !all[3].double_nat);
    }

    #[tokio::test]
    async fn without_a_usable_one_a_disconnected_one_is_reported() {
        let origin = router().await;
        let (all, used) = run(&origin, &[(IP, "/broken"), (IP, "/down")]).await;
        assert_eq!((all.len(), used), (2, 1));
        let (_, used) = run(&origin, &[(IP, "/broken"), (IP, "/broken")]).await;
        assert_eq!(used, 0);
        let (all, used) = run(&origin, &[(IP, "/private")]).await;
        assert_eq!((used, all[0].double_nat), (0, true));
    }

    #[tokio::test]
    async fn control_urls_elsewhere_are_not_asked_and_the_list_is_bounded() {
        let origin = router().await;
        let (all, _) = run(&origin, &[(IP, "/up")]).await;
        assert_eq!(all[0].igd_status, IgdStatus::Ok);
        let candidates = vec![(IP.to_string(), "http://127.0.0.2:1/up".to_string())];
        let deadline = Instant::now() + Duration::from_secs(5);
        let (all, _) = choose(candidates, "127.0.0.1".parse().unwrap(), deadline).await;
        assert_eq!(all[0].igd_status, IgdStatus::InvalidControl);
        let many = vec![(IP.to_string(), format!("{origin}/broken")); 50];
        let (all, _) = choose(many, "127.0.0.1".parse().unwrap(), deadline).await;
        assert_eq!(all.len(), MAX_CONNECTIONS);
    }
}
