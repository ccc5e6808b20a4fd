//! The port-mapping actions of a device's connection service: its status and external
//! address, Add/Delete/GetSpecific/GetGenericPortMapping (the table listing), each a SOAP
//! call on the device's link; an add or delete given up after it was sent is settled by
//! `leftovers.rs`.

use std::future::Future;
use std::net::IpAddr;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::errors::{Failure, UpnpResult};
use crate::limits::{cap, MAX_MAPPING_TEXT_CHARS, MAX_NAME_CHARS, MAX_TABLE_BYTES};
use crate::upnp::leftovers::{self, MappingKey};
use crate::upnp::soap::{self, Target};

pub async fn status_info(target: &Target) -> Result<String, Failure> {
    let reply = soap::call(target, "GetStatusInfo", Vec::new()).await?;
    reply
        .values
        .get("NewConnectionStatus")
        .map(|status| cap(status, MAX_NAME_CHARS))
        .ok_or_else(|| {
            Failure::new(
                UpnpResult::InvalidResponse,
                "GetStatusInfo reply has no NewConnectionStatus",
            )
        })
}

/// `GetExternalIPAddress`: an IP address, or "" when the router has none (not connected).
/// Anything else is `INVALID_RESPONSE`: scripts print this value, so it is never the
/// router's text, only an address we parsed.
pub async fn external_ip_address(target: &Target) -> Result<String, Failure> {
    let reply = soap::call(target, "GetExternalIPAddress", Vec::new()).await?;
    let text = reply.values.get("NewExternalIPAddress").ok_or_else(|| {
        Failure::new(
            UpnpResult::InvalidResponse,
            "GetExternalIPAddress reply has no NewExternalIPAddress",
        )
    })?;
    validated_address(text)
}

fn validated_address(text: &str) -> Result<String, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    text.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| {
            Failure::new(
                UpnpResult::InvalidResponse,
                format!(
                    "the external address the router reported is not an IP address ({} bytes)",
                    text.len()
                ),
            )
        })
}

/// A port mapping: the arguments of `AddPortMapping` (validated by the caller) and a row of
/// the router's table alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub remote_host: String,
    pub external_port: u16,
    pub protocol: String,
    pub internal_port: u16,
    /// "" = the local address of the connection that reaches the router.
    pub internal_client: String,
    pub enabled: bool,
    pub description: String,
    pub lease_duration: u32,
}

/// Adds the mapping; returns the internal client that was sent. An add given up after it was
/// sent is undone (see `leftovers.rs`).
pub async fn add_port_mapping(target: &Target, m: &Mapping) -> Result<String, Failure> {
    add_port_mapping_until(target, m.clone(), None).await
}

/// [`add_port_mapping`] that `cancel` can stop (the caller's `AbortSignal`): stopped after the
/// request may have been sent, it is undone like an add that timed out.
pub async fn add_port_mapping_until(
    target: &Target,
    m: Mapping,
    cancel: Option<&CancellationToken>,
) -> Result<String, Failure> {
    // Refuse text XML cannot carry before any I/O: it is the caller's error, not the network's.
    for text in [&m.remote_host, &m.internal_client, &m.description] {
        soap::check_xml_text(text)?;
    }
    let key = MappingKey::new(target, &m.remote_host, m.external_port, &m.protocol);
    // One deadline for the wait and the request: the call settles within its timeout.
    let deadline = Instant::now() + target.timeout;
    // Set once the request is built, just before it is sent: from then on the router may act.
    let mut sent_client = String::new();
    let work = async {
        leftovers::settled(&key, deadline).await?;
        soap::call_reporting(target, "AddPortMapping", deadline, |local| {
            let client = if m.internal_client.is_empty() {
                local.ip().to_string()
            } else {
                m.internal_client.clone()
            };
            sent_client = client.clone();
            Ok(vec![
                ("NewRemoteHost", m.remote_host),
                ("NewExternalPort", m.external_port.to_string()),
                ("NewProtocol", m.protocol),
                ("NewInternalPort", m.internal_port.to_string()),
                ("NewInternalClient", client),
                ("NewEnabled", if m.enabled { "1" } else { "0" }.to_string()),
                ("NewPortMappingDescription", m.description),
                ("NewLeaseDuration", m.lease_duration.to_string()),
            ])
        })
        .await
    };
    let Some(outcome) = until(cancel, work).await else {
        if !sent_client.is_empty() {
            leftovers::given_up(target, key, Some(sent_client));
        }
        return Err(cancelled());
    };
    match outcome {
        Ok(_) => {
            leftovers::added(&key);
            Ok(sent_client)
        }
        Err(e) => {
            if e.outcome_unknown {
                leftovers::given_up(target, key, Some(sent_client));
            }
            Err(e.failure)
        }
    }
}

/// Deletes the mapping. A delete given up after it was sent is finished in the background
/// (see `leftovers.rs`).
pub async fn delete_port_mapping(
    target: &Target,
    remote_host: &str,
    external_port: u16,
    protocol: &str,
) -> Result<(), Failure> {
    delete_port_mapping_until(target, remote_host, external_port, protocol, None).await
}

/// [`delete_port_mapping`] that `cancel` can stop: stopped after the request may have been
/// sent, the delete is finished in the background like one that timed out.
pub async fn delete_port_mapping_until(
    target: &Target,
    remote_host: &str,
    external_port: u16,
    protocol: &str,
    cancel: Option<&CancellationToken>,
) -> Result<(), Failure> {
    let key = MappingKey::new(target, remote_host, external_port, protocol);
    // One deadline for the wait and the request: the call settles within its timeout.
    let deadline = Instant::now() + target.timeout;
    let args = key.args();
    let mut sent = false;
    let work = async {
        leftovers::settled(&key, deadline).await?;
        soap::call_reporting(target, "DeletePortMapping", deadline, |_| {
            sent = true;
            Ok(args)
        })
        .await
    };
    let Some(outcome) = until(cancel, work).await else {
        if sent {
            leftovers::given_up(target, key, None);
        }
        return Err(cancelled());
    };
    match outcome {
        Ok(_) => {
            leftovers::deleted(&key);
            Ok(())
        }
        Err(e) => {
            if e.failure.upnp_code == Some(714) {
                leftovers::deleted(&key);
            } else if e.outcome_unknown {
                leftovers::given_up(target, key, None);
            }
            Err(e.failure)
        }
    }
}

/// `work`'s outcome, or `None` when `cancel` fired first (checked first: a call cancelled
/// before it starts sends nothing).
pub async fn until<T>(
    cancel: Option<&CancellationToken>,
    work: impl Future<Output = T>,
) -> Option<T> {
    match cancel {
        Some(token) => tokio::select! {
            biased;
            () = token.cancelled() => None,
            outcome = work => Some(outcome),
        },
        None => Some(work.await),
    }
}

/// What a cancelled call reports (the JS side has settled already with the signal's reason).
pub fn cancelled() -> Failure {
    Failure::new(UpnpResult::UnknownError, "cancelled by the caller")
}

/// `GetSpecificPortMappingEntry`: whether (and how) the router holds a mapping now.
pub async fn specific_port_mapping(
    target: &Target,
    remote_host: &str,
    external_port: u16,
    protocol: &str,
) -> Result<Mapping, Failure> {
    let args = MappingKey::new(target, remote_host, external_port, protocol).args();
    let reply = soap::call(target, "GetSpecificPortMappingEntry", args).await?;
    Ok(Mapping {
        remote_host: remote_host.to_string(),
        external_port,
        protocol: protocol.to_string(),
        ..entry(&reply.values)?
    })
}

/// The values every entry reply carries; the key fields are taken from the reply too (a
/// `GetGenericPortMappingEntry` reply names them; a specific one is given them by its caller).
pub fn entry(v: &soap::Values) -> Result<Mapping, Failure> {
    let number = |name: &str| v.get(name).and_then(|s| s.trim().parse::<u32>().ok());
    // Text is capped; a lease that is there must fit a ui4 (issue 10: no silent 0).
    let text = |name: &str| cap(v.get(name).unwrap_or("").trim(), MAX_MAPPING_TEXT_CHARS);
    if v.get("NewLeaseDuration").is_some() && number("NewLeaseDuration").is_none() {
        return Err(Failure::new(
            UpnpResult::InvalidResponse,
            "reply has no valid NewLeaseDuration",
        ));
    }
    let invalid = |what: &str| {
        Failure::new(
            UpnpResult::InvalidResponse,
            format!("reply has no valid {what}"),
        )
    };
    Ok(Mapping {
        remote_host: text("NewRemoteHost"),
        external_port: number("NewExternalPort")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        protocol: v
            .get("NewProtocol")
            .unwrap_or("")
            .trim()
            .to_ascii_uppercase(),
        internal_port: number("NewInternalPort")
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("NewInternalPort"))?,
        internal_client: text("NewInternalClient"),
        enabled: v.get("NewEnabled").map(|e| e.trim() == "1").unwrap_or(true),
        description: text("NewPortMappingDescription"),
        lease_duration: number("NewLeaseDuration").unwrap_or(0),
    })
}

/// Faults that end the table walk. 713 SpecifiedArrayIndexInvalid is the standard one; as
/// lontivero/Open.NAT found, routers also say 714 NoSuchEntryInArray, 402 (DD-WRT), 501
/// (Linksys WRT1900AC) or 601 (Linksys EA8300) for an index past the end.
const TABLE_END_CODES: [i64; 5] = [713, 714, 402, 501, 601];

/// The router's whole table: `GetGenericPortMappingEntry` 0, 1, ... up to `max_entries`,
/// on our own SOAP client (its request head, caps and the announced service type).
pub async fn list_port_mappings(
    target: &Target,
    max_entries: u32,
) -> Result<Vec<Mapping>, Failure> {
    let deadline = Instant::now() + target.timeout;
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    for index in 0..max_entries {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Failure::new(
                UpnpResult::HttpError,
                "listing mappings timed out",
            ));
        }
        let step = target.with_timeout(remaining);
        let args = vec![("NewPortMappingIndex", index.to_string())];
        match soap::call(&step, "GetGenericPortMappingEntry", args).await {
            Ok(reply) => {
                // Each reply has the SOAP cap; the walk as a whole a budget (1024 entries
                // of 500 KB took 1 GB through igd-next).
                bytes += reply.body_bytes;
                if bytes > MAX_TABLE_BYTES {
                    let why = format!(
                        "the router's table is over the {} MiB budget for one listing (stopped after {} entries)",
                        MAX_TABLE_BYTES >> 20,
                        entries.len()
                    );
                    return Err(Failure::new(UpnpResult::InvalidResponse, why));
                }
                let m = entry(&reply.values)?;
                if m.external_port == 0 || !matches!(m.protocol.as_str(), "UDP" | "TCP") {
                    let why = format!("entry {index} has no valid NewExternalPort/NewProtocol");
                    return Err(Failure::new(UpnpResult::InvalidResponse, why));
                }
                entries.push(m);
            }
            Err(f) if f.upnp_code.is_some_and(|c| TABLE_END_CODES.contains(&c)) => break,
            Err(f) => return Err(f),
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn values(pairs: &[(&str, &str)]) -> soap::Values {
        soap::Values(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn external_address_is_an_address_or_nothing() {
        assert_eq!(validated_address(" 11.22.33.44 ").unwrap(), "11.22.33.44");
        assert_eq!(validated_address("2001:db8::1").unwrap(), "2001:db8::1");
        assert_eq!(validated_address("").unwrap(), "");
        for bad in [
            "6.6.6.6\n$(touch /tmp/pwned)",
            "evil.example",
            "1.2.3.4.5",
            &"6".repeat(60_000),
        ] {
            let f = validated_address(bad).unwrap_err();
            assert_eq!(f.result, UpnpResult::InvalidResponse);
            assert!(
                !f.description.contains("touch") && f.description.len() < 200,
                "{f:?}"
            );
        }
    }

    #[test]
    fn entries_are_checked_and_capped() {
        let good = [
            ("NewInternalPort", "41000"),
            ("NewInternalClient", "192.168.77.10"),
            ("NewPortMappingDescription", "\u{1b}[2J"),
            ("NewLeaseDuration", "600"),
        ];
        let m = entry(&values(&good)).unwrap();
        assert_eq!((m.internal_port, m.lease_duration), (41000, 600));
        assert_eq!(m.description, "\u{1b}[2J"); // kept as sent; printing is the CLI's care
        for (field, value) in [
            ("NewInternalPort", "70000"),
            ("NewInternalPort", "0"),
            ("NewLeaseDuration", "99999999999"),
        ] {
            let mut v = values(&good);
            v.0.retain(|(k, _)| k != field);
            v.0.push((field.into(), value.into()));
            let f = entry(&v).unwrap_err();
            assert_eq!(f.result, UpnpResult::InvalidResponse);
            assert!(f.description.contains(field), "{f:?}");
        }
        let mut v = values(&good);
        v.0.retain(|(k, _)| k != "NewPortMappingDescription");
        v.0.push(("NewPortMappingDescription".into(), "D".repeat(500_000)));
        assert_eq!(
            entry(&v).unwrap().description.chars().count(),
            MAX_MAPPING_TEXT_CHARS + 1
        );
    }
    use crate::upnp::testing::router::{serve, Answer};

    /// A router whose table is `table`, answering `end` (a UPnP error code) past its end.
    async fn router(table: Vec<&'static str>, end: i64) -> String {
        let origin = serve(move |_, _, body| {
            let index: usize = body
                .split("<NewPortMappingIndex>")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .and_then(|n| n.parse().ok())
                .unwrap();
            match table.get(index) {
                Some(values) => Answer::Values(values.to_string()),
                None => Answer::Fault(end),
            }
        })
        .await;
        format!("{origin}/ctl")
    }
    fn target(control_url: String) -> Target {
        Target::new(
            control_url,
            "urn:schemas-upnp-org:service:WANIPConnection:1".into(),
            Duration::from_secs(5),
        )
    }

    const ENTRY: &str = "<NewRemoteHost></NewRemoteHost><NewExternalPort>7777</NewExternalPort><NewProtocol>udp</NewProtocol><NewInternalPort>7778</NewInternalPort><NewInternalClient>192.168.1.10</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>game</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration>";

    #[tokio::test]
    async fn table_walk_ends_on_every_known_end_fault() {
        for end in TABLE_END_CODES {
            let url = router(vec![ENTRY, ENTRY], end).await;
            let entries = list_port_mappings(&target(url), 100).await.unwrap();
            assert_eq!(entries.len(), 2, "end fault {end}");
            assert_eq!(
                entries[0],
                Mapping {
                    remote_host: String::new(),
                    external_port: 7777,
                    protocol: "UDP".into(),
                    internal_port: 7778,
                    internal_client: "192.168.1.10".into(),
                    enabled: true,
                    description: "game".into(),
                    lease_duration: 0,
                }
            );
        }
    }

    #[tokio::test]
    async fn table_walk_reports_other_faults_and_bad_entries() {
        let url = router(vec![ENTRY], 606).await;
        let err = list_port_mappings(&target(url), 100).await.unwrap_err();
        assert_eq!(err.upnp_code, Some(606));
        let url = router(
            vec!["<NewExternalPort>x</NewExternalPort><NewInternalPort>1</NewInternalPort>"],
            713,
        )
        .await;
        let err = list_port_mappings(&target(url), 100).await.unwrap_err();
        assert_eq!(err.result, UpnpResult::InvalidResponse);
        // The walk is bounded by max_entries even when the router never says "end".
        let url = router(vec![ENTRY; 10], 713).await;
        assert_eq!(list_port_mappings(&target(url), 3).await.unwrap().len(), 3);
    }
}
