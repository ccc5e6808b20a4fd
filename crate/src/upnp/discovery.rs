//! `UPNP.discover()`: one SSDP burst, replies classified concurrently as they arrive, a hard
//! deadline, optional early return once a working gateway is confirmed, and cancellation.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::errors::{Failure, IgdStatus, UpnpResult};
use crate::upnp::gateway::DeviceInfo;
use crate::upnp::ssdp::{self, SocketOptions, MAX_DATAGRAM, SEARCH_TARGETS};

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
    /// Kept devices in the order their first reply arrived.
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

async fn send_burst(
    socket: &tokio::net::UdpSocket,
    messages: &[(std::net::SocketAddr, String)],
) -> std::io::Result<()> {
    let mut last_error = None;
    let mut sent = 0;
    for (destination, message) in messages {
        match socket.send_to(message.as_bytes(), destination).await {
            Ok(_) => sent += 1,
            Err(e) => last_error = Some(e),
        }
    }
    match (sent, last_error) {
        (0, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

pub async fn discover(
    config: DiscoverConfig,
    cancel: CancellationToken,
) -> Result<DiscoverOutcome, Cancelled> {
    let started = Instant::now();
    let deadline = started + config.timeout;
    let socket = match ssdp::open_socket(&config.socket) {
        Ok(s) => s,
        Err(e) => {
            return Ok(DiscoverOutcome::failed(
                UpnpResult::SocketError,
                format!("SSDP socket: {e}"),
            ))
        }
    };
    let mx = mx_for(config.timeout);
    let messages: Vec<_> = ssdp::destinations(config.socket.ipv6)
        .into_iter()
        .flat_map(|d| {
            SEARCH_TARGETS
                .iter()
                .map(move |st| (d, ssdp::m_search(&d, st, mx)))
        })
        .collect();
    if let Err(e) = send_burst(&socket, &messages).await {
        return Ok(DiscoverOutcome::failed(
            UpnpResult::SocketError,
            format!("sending M-SEARCH: {e}"),
        ));
    }
    let retransmit_at = started + retransmit_delay(config.timeout);
    let mut retransmitted = false;

    let mut devices: Vec<DeviceInfo> = Vec::new();
    let mut index_by_location: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let mut classifying: JoinSet<(usize, DeviceInfo)> = JoinSet::new();
    let mut replies = 0usize;
    let mut receive_errors = 0u32;
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    let local_v6 = if config.socket.ipv6 {
        ssdp::local_ipv6_networks()
    } else {
        Vec::new()
    };

    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Cancelled),
            _ = sleep_until(deadline) => break,
            Some(done) = classifying.join_next(), if !classifying.is_empty() => {
                // A panicking classification leaves its device unclassified; discovery goes on.
                if let Ok((index, device)) = done {
                    let confirmed = device.igd_status == IgdStatus::Ok;
                    devices[index] = device;
                    if confirmed && config.until_gateway {
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
                let Some(reply) = ssdp::parse_reply(&buffer[..len]) else { continue };
                replies += 1;
                if !seen.insert((reply.usn.clone(), reply.location.clone(), reply.st.clone())) {
                    continue;
                }
                if !config.device_filter.is_empty() && !reply.st.contains(&config.device_filter) {
                    continue;
                }
                let Ok(description_url) = ssdp::trusted_location(&reply.location, from, &local_v6) else { continue };
                // One device per description: a router answering several of our search
                // targets is still one router.
                if index_by_location.contains_key(&description_url) {
                    continue;
                }
                let mut device = DeviceInfo::unclassified(description_url.clone(), reply.st);
                device.server = reply.server;
                device.boot_id = reply.boot_id;
                let index = devices.len();
                index_by_location.insert(description_url, index);
                devices.push(device.clone());
                let request_timeout = config.request_timeout;
                classifying.spawn(async move { (index, device.classify(deadline, request_timeout).await) });
            }
        }
    }
    // Devices still being classified at the deadline keep the fresh-device status.
    classifying.abort_all();
    let result = if replies == 0 {
        UpnpResult::NoDevices
    } else {
        UpnpResult::Success
    };
    Ok(DiscoverOutcome {
        result,
        devices,
        error: None,
        replies,
    })
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

    #[tokio::test]
    async fn bad_interface_is_a_socket_error() {
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
        assert_eq!(outcome.result, UpnpResult::SocketError);
        assert!(outcome.error.unwrap().description.contains("no-such-if0"));
    }
}
