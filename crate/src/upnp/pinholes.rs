//! IPv6 firewall pinholes: the `WANIPv6FirewallControl:1` service of an IGD
//! (UPnP-gw-WANIPv6FirewallControl-v1-Service). IPv6 has no NAT to map: a host is reachable at
//! its own address once the router's firewall lets inbound traffic to one of its ports
//! through, which is what a pinhole is. The router names each pinhole by a `UniqueID` and
//! holds it for a lease of 1..86400 s (there are no permanent pinholes).
//!
//! miniupnpd 2.3.1 (Debian's, nftables), as seen in the lab: every action but
//! GetFirewallStatus needs the request to come over IPv6 from the pinhole's `InternalClient`
//! itself (the same text `inet_ntop` writes) and a port of 1024 or above, else 606; an
//! AddPinhole repeating an existing pinhole's parameters extends it and returns its
//! `UniqueID` (as the spec requires); a `UniqueID` it does not hold is 402 for UpdatePinhole,
//! DeletePinhole, GetPinholePackets and CheckPinholeWorking (the spec says 704);
//! its nftables rules carry no counter, so GetPinholePackets is always 0 and
//! CheckPinholeWorking always 709 ("no traffic"), even while packets go through;
//! GetOutboundPinholeTimeout is always 501 (not implemented).

use std::net::{IpAddr, Ipv6Addr};

use crate::errors::{Failure, UpnpResult};
use crate::upnp::soap::{self, Target, Values};

/// The longest lease the service allows (the spec's range for `LeaseTime`).
pub const MAX_LEASE: u32 = 86_400;

/// IANA protocol numbers, as the service's `Protocol` argument carries them.
pub const PROTO_TCP: u16 = 6;
pub const PROTO_UDP: u16 = 17;

/// What GetFirewallStatus says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirewallStatus {
    /// The router filters inbound IPv6 at all (when off, every port is already reachable).
    pub firewall_enabled: bool,
    /// Control points may open pinholes.
    pub inbound_pinhole_allowed: bool,
}

/// A pinhole: the arguments of AddPinhole (and, without the lease, of
/// GetOutboundPinholeTimeout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinhole {
    /// The only remote host let in; "" = any.
    pub remote_host: String,
    /// The only remote port let in; 0 = any.
    pub remote_port: u16,
    /// This host's IPv6 address; "" = the local address of the connection to the router.
    pub internal_client: String,
    pub internal_port: u16,
    /// [`PROTO_UDP`] or [`PROTO_TCP`].
    pub protocol: u16,
    /// Seconds, 1..=[`MAX_LEASE`].
    pub lease_time: u32,
}

/// The service's own fault table (its 70x codes are not WANIPConnection's).
fn firewall_fault(mut f: Failure) -> Failure {
    if let Some(code) = f.upnp_code {
        f.result = UpnpResult::from_firewall_code(code);
    }
    f
}

async fn call(
    target: &Target,
    action: &str,
    args: Vec<(&'static str, String)>,
) -> Result<Values, Failure> {
    soap::call(target, action, args)
        .await
        .map(|r| r.values)
        .map_err(firewall_fault)
}

fn missing(action: &str, name: &str) -> Failure {
    Failure::new(
        UpnpResult::InvalidResponse,
        format!("{action} reply has no valid {name}"),
    )
}

/// A UPnP `boolean`: 0/1, true/false, yes/no (UDA 2.0, 2.5).
fn boolean(values: &Values, action: &str, name: &str) -> Result<bool, Failure> {
    match values
        .get(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("1" | "true" | "yes") => Ok(true),
        Some("0" | "false" | "no") => Ok(false),
        _ => Err(missing(action, name)),
    }
}

fn number<T: std::str::FromStr>(values: &Values, action: &str, name: &str) -> Result<T, Failure> {
    values
        .get(name)
        .and_then(|v| v.trim().parse::<T>().ok())
        .ok_or_else(|| missing(action, name))
}

/// An IPv6 literal in the one text form routers compare (RFC 5952, what `inet_ntop` writes);
/// "" stays "" (a wildcard, or "use the connection's address").
fn ipv6_text(text: &str, what: &str) -> Result<String, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    match text.trim_matches(['[', ']']).parse::<Ipv6Addr>() {
        Ok(ip) => Ok(ip.to_string()),
        Err(_) => Err(Failure::new(
            UpnpResult::InvalidArgs,
            format!("{what} {text:?} is not an IPv6 address"),
        )),
    }
}

/// GetFirewallStatus: is the IPv6 firewall on, and may pinholes be opened?
pub async fn firewall_status(target: &Target) -> Result<FirewallStatus, Failure> {
    let action = "GetFirewallStatus";
    let values = call(target, action, Vec::new()).await?;
    Ok(FirewallStatus {
        firewall_enabled: boolean(&values, action, "FirewallEnabled")?,
        inbound_pinhole_allowed: boolean(&values, action, "InboundPinholeAllowed")?,
    })
}

/// GetOutboundPinholeTimeout: how long the router keeps an idle outbound flow open (seconds).
pub async fn outbound_pinhole_timeout(target: &Target, p: &Pinhole) -> Result<u32, Failure> {
    let action = "GetOutboundPinholeTimeout";
    let args = vec![
        ("RemoteHost", ipv6_text(&p.remote_host, "remote host")?),
        ("RemotePort", p.remote_port.to_string()),
        (
            "InternalClient",
            ipv6_text(&p.internal_client, "internal client")?,
        ),
        ("InternalPort", p.internal_port.to_string()),
        ("Protocol", p.protocol.to_string()),
    ];
    let values = call(target, action, args).await?;
    number(&values, action, "OutboundPinholeTimeout")
}

/// AddPinhole: opens (or, with an existing pinhole's parameters, extends) a pinhole. Returns
/// its UniqueID and the internal client that was sent.
pub async fn add_pinhole(target: &Target, p: &Pinhole) -> Result<(u16, String), Failure> {
    // The caller's mistakes are refused before any I/O.
    let remote_host = ipv6_text(&p.remote_host, "remote host")?;
    let internal_client = ipv6_text(&p.internal_client, "internal client")?;
    let p = p.clone();
    let mut sent_client = String::new();
    let reply = soap::call_with(target, "AddPinhole", |local| {
        let client = match (internal_client.is_empty(), local.ip()) {
            (false, _) => internal_client,
            (true, IpAddr::V6(ip)) => ip.to_string(),
            (true, IpAddr::V4(ip)) => {
                return Err(Failure::new(
                    UpnpResult::InvalidArgs,
                    format!(
                        "the router was reached over IPv4 ({ip}), so this host's IPv6 address is not known: \
                         reach it over IPv6 (discover with IPv6) or give the internal client"
                    ),
                ))
            }
        };
        sent_client = client.clone();
        Ok(vec![
            ("RemoteHost", remote_host),
            ("RemotePort", p.remote_port.to_string()),
            ("InternalClient", client),
            ("InternalPort", p.internal_port.to_string()),
            ("Protocol", p.protocol.to_string()),
            ("LeaseTime", p.lease_time.to_string()),
        ])
    })
    .await
    .map_err(firewall_fault)?;
    let id = number(&reply.values, "AddPinhole", "UniqueID")?;
    Ok((id, sent_client))
}

/// UpdatePinhole: a new lease for the pinhole.
pub async fn update_pinhole(target: &Target, id: u16, lease_time: u32) -> Result<(), Failure> {
    let args = vec![
        ("UniqueID", id.to_string()),
        ("NewLeaseTime", lease_time.to_string()),
    ];
    call(target, "UpdatePinhole", args).await.map(|_| ())
}

/// DeletePinhole: closes it.
pub async fn delete_pinhole(target: &Target, id: u16) -> Result<(), Failure> {
    let args = vec![("UniqueID", id.to_string())];
    call(target, "DeletePinhole", args).await.map(|_| ())
}

/// GetPinholePackets: how many packets went through the pinhole.
pub async fn pinhole_packets(target: &Target, id: u16) -> Result<u32, Failure> {
    let action = "GetPinholePackets";
    let values = call(target, action, vec![("UniqueID", id.to_string())]).await?;
    number(&values, action, "PinholePackets")
}

/// CheckPinholeWorking: whether traffic went through. 709 (NoPacketSent / NoTrafficReceived)
/// is the router's "not yet": an answer, `false`, not a failure.
pub async fn check_pinhole_working(target: &Target, id: u16) -> Result<bool, Failure> {
    let action = "CheckPinholeWorking";
    match call(target, action, vec![("UniqueID", id.to_string())]).await {
        Ok(values) => boolean(&values, action, "IsWorking"),
        Err(f) if f.upnp_code == Some(709) => Ok(false),
        Err(f) => Err(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        Values(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn ipv6_text_is_canonical_and_refuses_the_rest() {
        assert_eq!(
            ipv6_text("FD77:0:0::10", "x").unwrap(),
            "fd77::10",
            "miniupnpd compares the text"
        );
        assert_eq!(ipv6_text(" [fd77::10] ", "x").unwrap(), "fd77::10");
        assert_eq!(ipv6_text("", "x").unwrap(), "");
        for bad in [
            "192.168.77.10",
            "host.lan",
            "fd77::10%eth0",
            "::ffff:1.2.3.4x",
        ] {
            let e = ipv6_text(bad, "internal client").unwrap_err();
            assert_eq!(e.result, UpnpResult::InvalidArgs, "{bad}");
        }
    }

    #[test]
    fn booleans_and_numbers_from_replies() {
        let v = values(&[
            ("FirewallEnabled", " 1 "),
            ("InboundPinholeAllowed", "false"),
            ("UniqueID", "65535"),
            ("Big", "65536"),
        ]);
        assert!(boolean(&v, "A", "FirewallEnabled").unwrap());
        assert!(!boolean(&v, "A", "InboundPinholeAllowed").unwrap());
        assert_eq!(number::<u16>(&v, "A", "UniqueID").unwrap(), 65535);
        let e = number::<u16>(&v, "A", "Big").unwrap_err();
        assert_eq!(e.result, UpnpResult::InvalidResponse);
        assert!(boolean(&v, "A", "Missing").is_err());
        assert!(boolean(&values(&[("X", "2")]), "A", "X").is_err());
    }

    use crate::upnp::testing::router::{serve, Answer};
    use std::time::Duration;

    /// A router answering every action with `values` (the elements of its response).
    async fn answering(values: &'static str) -> Target {
        let origin = serve(move |_, _, _| Answer::Values(values.to_string())).await;
        Target::new(
            format!("{origin}/ctl/IP6FCtl"),
            "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1".into(),
            Duration::from_secs(5),
        )
    }

    fn ours() -> Pinhole {
        Pinhole {
            remote_host: String::new(),
            remote_port: 0,
            internal_client: "fd77::10".into(),
            internal_port: 7777,
            protocol: PROTO_UDP,
            lease_time: 600,
        }
    }

    /// Every value a pinhole reply carries, poisoned: each is INVALID_RESPONSE with a short
    /// description that names the field and never quotes the router.
    #[tokio::test]
    async fn hostile_replies_are_refused_by_name_never_quoted() {
        let huge: &'static str = Box::leak(
            format!(
                "<UniqueID>{0}</UniqueID><PinholePackets>{0}</PinholePackets><OutboundPinholeTimeout>{0}</OutboundPinholeTimeout><FirewallEnabled>{0}</FirewallEnabled><InboundPinholeAllowed>1</InboundPinholeAllowed><IsWorking>{0}</IsWorking>",
                "9".repeat(9_000) // five of them: under the 64 KiB SOAP cap, so the values are read
            )
            .into_boxed_str(),
        );
        for values in [
            "<UniqueID>65536</UniqueID><PinholePackets>4294967296</PinholePackets><OutboundPinholeTimeout>-1</OutboundPinholeTimeout><FirewallEnabled>2</FirewallEnabled><InboundPinholeAllowed>1</InboundPinholeAllowed><IsWorking>maybe</IsWorking>",
            "<UniqueID>1\n$(touch /tmp/pwned)</UniqueID><PinholePackets>0x10</PinholePackets><OutboundPinholeTimeout>1e3</OutboundPinholeTimeout><FirewallEnabled>\u{1b}[2J</FirewallEnabled><InboundPinholeAllowed>1</InboundPinholeAllowed><IsWorking></IsWorking>",
            "<Other>1</Other>",
            huge,
        ] {
            let t = answering(values).await;
            let failures = [
                add_pinhole(&t, &ours()).await.map(|_| ()).unwrap_err(),
                pinhole_packets(&t, 1).await.map(|_| ()).unwrap_err(),
                outbound_pinhole_timeout(&t, &ours())
                    .await
                    .map(|_| ())
                    .unwrap_err(),
                firewall_status(&t).await.map(|_| ()).unwrap_err(),
                check_pinhole_working(&t, 1).await.map(|_| ()).unwrap_err(),
            ];
            for (f, field) in failures.iter().zip([
                "UniqueID",
                "PinholePackets",
                "OutboundPinholeTimeout",
                "FirewallEnabled",
                "IsWorking",
            ]) {
                assert_eq!(f.result, UpnpResult::InvalidResponse, "{f:?}");
                assert!(f.description.ends_with(&format!("no valid {field}")), "{f:?}");
                assert!(f.description.len() < 80, "{f:?}");
            }
        }
    }

    #[tokio::test]
    async fn the_largest_values_a_reply_may_carry_are_read() {
        let t = answering("<UniqueID> 65535 </UniqueID><PinholePackets>4294967295</PinholePackets><OutboundPinholeTimeout>0</OutboundPinholeTimeout><FirewallEnabled>yes</FirewallEnabled><InboundPinholeAllowed>false</InboundPinholeAllowed><IsWorking>true</IsWorking>").await;
        assert_eq!(
            add_pinhole(&t, &ours()).await.unwrap(),
            (65535, "fd77::10".to_string())
        );
        assert_eq!(pinhole_packets(&t, 1).await.unwrap(), u32::MAX);
        assert_eq!(outbound_pinhole_timeout(&t, &ours()).await.unwrap(), 0);
        assert_eq!(
            firewall_status(&t).await.unwrap(),
            FirewallStatus {
                firewall_enabled: true,
                inbound_pinhole_allowed: false
            }
        );
        assert!(check_pinhole_working(&t, 1).await.unwrap());
    }

    #[test]
    fn faults_use_the_service_table() {
        let f = firewall_fault(Failure::fault(704, "NoSuchEntry", 500));
        assert_eq!(f.result, UpnpResult::NoSuchEntryInArray);
        assert_eq!(f.upnp_code, Some(704));
        let f = firewall_fault(Failure::fault(606, "Action not authorized", 500));
        assert_eq!(f.result, UpnpResult::NotAuthorized);
        let http = firewall_fault(Failure::new(UpnpResult::HttpError, "timeout"));
        assert_eq!(http.result, UpnpResult::HttpError);
    }
}
