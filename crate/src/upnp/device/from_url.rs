//! A device opened from a known description URL, without a search: what Godot's open PR
//! godotengine/godot#68276 (`add_device_from_url`) and libp2p's `getGateway(url)` ask for. The
//! URL is checked before anything is sent, then the device is classified exactly as discovery
//! classifies a search reply (`DeviceInfo::classify`): same caps, same statuses.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::errors::{Failure, UpnpResult};
use crate::upnp::device::DeviceInfo;
use crate::upnp::link::http::Endpoint;

/// Longest description URL accepted. Real ones are ~40 bytes; SSDP caps a whole reply at
/// 4 KiB, so a LOCATION is never longer than that either.
pub const MAX_URL_BYTES: usize = 2048;

/// Checks a caller's description URL: `http://`, an IP literal (no name to resolve), and a
/// host that can be a gateway on a network: not loopback, unspecified, multicast or broadcast.
pub fn check_url(url: &str) -> Result<Endpoint, String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!(
            "description URL is {} bytes long, more than {MAX_URL_BYTES}",
            url.len()
        ));
    }
    // A CR/LF or space would end the request line early: refuse, never escape.
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("description URL contains spaces or control characters".into());
    }
    let endpoint = Endpoint::parse(url)?;
    let ip = match endpoint.addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let refused = match ip {
        IpAddr::V4(v4) if v4.is_broadcast() => Some("broadcast"),
        _ if ip.is_loopback() => Some("loopback"),
        _ if ip.is_unspecified() => Some("unspecified"),
        _ if ip.is_multicast() => Some("multicast"),
        _ => None,
    };
    match refused {
        Some(kind) => Err(format!(
            "{ip} is a {kind} address, not a gateway's (in {url:?})"
        )),
        None => Ok(endpoint),
    }
}

/// The device at `url`, classified within `request_timeout` (description and the two SOAP
/// checks together). A URL refused by `check_url` is `INVALID_PARAM` and nothing is sent.
pub async fn device_from_url(url: &str, request_timeout: Duration) -> Result<DeviceInfo, Failure> {
    check_url(url).map_err(|why| Failure::new(UpnpResult::InvalidParam, why))?;
    let device = DeviceInfo::unclassified(url.to_string(), String::new());
    let deadline = Instant::now() + request_timeout;
    Ok(device.classify(deadline, request_timeout).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_routers_announce() {
        for url in [
            "http://192.168.1.1:5000/rootDesc.xml",
            "http://10.0.0.138:49152/wps_device.xml",
            "http://[fd77::1]:5000/rootDesc.xml",
            "http://[fe80::1%251]:5000/rootDesc.xml",
            "HTTP://192.168.77.1/desc",
        ] {
            assert!(check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_a_gateway() {
        for (url, why) in [
            ("https://192.168.1.1/rootDesc.xml", "not an http:// URL"),
            ("file:///etc/passwd", "not an http:// URL"),
            (
                "http://router.local:5000/rootDesc.xml",
                "must be an IP address",
            ),
            ("http://127.0.0.1:5000/rootDesc.xml", "loopback"),
            ("http://127.8.9.10/x", "loopback"),
            ("http://[::1]:5000/rootDesc.xml", "loopback"),
            ("http://[::ffff:127.0.0.1]:5000/x", "loopback"),
            ("http://0.0.0.0:5000/rootDesc.xml", "unspecified"),
            ("http://[::]:5000/x", "unspecified"),
            ("http://239.255.255.250:1900/x", "multicast"),
            ("http://[ff02::c]:1900/x", "multicast"),
            ("http://255.255.255.255/x", "broadcast"),
            ("http://user:pw@192.168.1.1/x", "credentials"),
            ("http://192.168.1.1:0/x", "port 0"),
            ("http://192.168.1.1/a b", "spaces or control"),
            ("http://192.168.1.1/a\r\nHost: evil", "spaces or control"),
        ] {
            let err = check_url(url).expect_err(url);
            assert!(err.contains(why), "{url}: {err}");
        }
        let long = format!("http://192.168.1.1/{}", "a".repeat(MAX_URL_BYTES));
        let err = check_url(&long).unwrap_err();
        assert!(err.contains("bytes long") && !err.contains("aaaa"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_url_sends_nothing_and_says_invalid_param() {
        let failure = device_from_url("http://127.0.0.1:1/rootDesc.xml", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(failure.result, UpnpResult::InvalidParam);
    }
}
