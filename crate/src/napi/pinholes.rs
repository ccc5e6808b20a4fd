//! The N-API surface of IPv6 pinholes (`upnp::pinholes`): the seven actions of
//! `WANIPv6FirewallControl:1`, with the same result shape as the port-mapping actions (the
//! failure, absent on success, or the value). Godot's check order lives in `lib/godot/device.ts`;
//! this layer re-checks ranges so that no JS value reaches the core unchecked.

use napi_derive::napi;

use crate::errors::{Failure, UpnpResult};
use crate::napi::check;
use crate::napi::upnp::{ActionResult, SoapTarget};
use crate::napi::NativeFailure;
use crate::trace;
use crate::upnp::pinholes::{self, Pinhole, MAX_LEASE, PROTO_TCP, PROTO_UDP};

/// A pinhole's parameters (AddPinhole; GetOutboundPinholeTimeout ignores `leaseTime`).
#[napi(object)]
pub struct PinholeSpec {
    /// "" = any remote host.
    pub remote_host: String,
    /// 0 = any remote port.
    pub remote_port: u32,
    /// This host's IPv6 address; "" = the local address of the connection to the router.
    pub internal_client: String,
    pub internal_port: u32,
    #[napi(ts_type = "'UDP' | 'TCP'")]
    pub protocol: String,
    /// Seconds, 1..86400.
    pub lease_time: u32,
}

#[napi(object)]
pub struct FirewallStatusResult {
    /// Absent on success.
    pub failure: Option<NativeFailure>,
    pub firewall_enabled: bool,
    pub inbound_pinhole_allowed: bool,
}

#[napi(object)]
pub struct PinholeResult {
    /// Absent on success.
    pub failure: Option<NativeFailure>,
    /// The router's name for the pinhole (UpdatePinhole, DeletePinhole, ... take it).
    pub unique_id: Option<u32>,
    /// The IPv6 address the pinhole lets traffic through to (what was sent).
    pub internal_client: Option<String>,
}

fn lease(value: u32) -> Result<u32, Failure> {
    if (1..=MAX_LEASE).contains(&value) {
        Ok(value)
    } else {
        Err(Failure::new(
            UpnpResult::InvalidDuration,
            format!("lease {value} s is not 1..{MAX_LEASE}"),
        ))
    }
}

fn id_arg(value: u32) -> Result<u16, Failure> {
    u16::try_from(value).map_err(|_| {
        Failure::new(
            UpnpResult::InvalidParam,
            format!("pinhole id {value} is not 0..65535"),
        )
    })
}

fn pinhole(spec: PinholeSpec, with_lease: bool) -> Result<Pinhole, Failure> {
    Ok(Pinhole {
        remote_host: spec.remote_host,
        remote_port: check::port(spec.remote_port, "remote port")?,
        internal_client: spec.internal_client,
        internal_port: check::nonzero_port(spec.internal_port, "internal port")?,
        protocol: check::protocol(&spec.protocol, PROTO_UDP, PROTO_TCP)?,
        lease_time: if with_lease {
            lease(spec.lease_time)?
        } else {
            0
        },
    })
}

fn unit(r: Result<(), Failure>) -> ActionResult {
    r.map(|()| String::new()).into()
}

#[napi]
pub async fn get_firewall_status(target: SoapTarget, trace: Option<u32>) -> FirewallStatusResult {
    trace::scoped(trace, get_firewall_status_untraced(target)).await
}

async fn get_firewall_status_untraced(target: SoapTarget) -> FirewallStatusResult {
    match pinholes::firewall_status(&target.into()).await {
        Ok(s) => FirewallStatusResult {
            failure: None,
            firewall_enabled: s.firewall_enabled,
            inbound_pinhole_allowed: s.inbound_pinhole_allowed,
        },
        Err(f) => FirewallStatusResult {
            failure: Some(f.into()),
            firewall_enabled: false,
            inbound_pinhole_allowed: false,
        },
    }
}

/// `value` = the timeout in seconds.
#[napi]
pub async fn get_outbound_pinhole_timeout(
    target: SoapTarget,
    spec: PinholeSpec,
    trace: Option<u32>,
) -> ActionResult {
    trace::scoped(trace, get_outbound_pinhole_timeout_untraced(target, spec)).await
}

async fn get_outbound_pinhole_timeout_untraced(
    target: SoapTarget,
    spec: PinholeSpec,
) -> ActionResult {
    let run = async {
        let p = pinhole(spec, false)?;
        let seconds = pinholes::outbound_pinhole_timeout(&target.into(), &p).await?;
        Ok(seconds.to_string())
    };
    run.await.into()
}

#[napi]
pub async fn add_pinhole(
    target: SoapTarget,
    spec: PinholeSpec,
    trace: Option<u32>,
) -> PinholeResult {
    trace::scoped(trace, add_pinhole_untraced(target, spec)).await
}

async fn add_pinhole_untraced(target: SoapTarget, spec: PinholeSpec) -> PinholeResult {
    let run = async {
        let p = pinhole(spec, true)?;
        pinholes::add_pinhole(&target.into(), &p).await
    };
    match run.await {
        Ok((id, client)) => PinholeResult {
            failure: None,
            unique_id: Some(id.into()),
            internal_client: Some(client),
        },
        Err(f) => PinholeResult {
            failure: Some(f.into()),
            unique_id: None,
            internal_client: None,
        },
    }
}

#[napi]
pub async fn update_pinhole(
    target: SoapTarget,
    unique_id: u32,
    lease_time: u32,
    trace: Option<u32>,
) -> ActionResult {
    trace::scoped(
        trace,
        update_pinhole_untraced(target, unique_id, lease_time),
    )
    .await
}

async fn update_pinhole_untraced(
    target: SoapTarget,
    unique_id: u32,
    lease_time: u32,
) -> ActionResult {
    let run = async {
        let id = id_arg(unique_id)?;
        pinholes::update_pinhole(&target.into(), id, lease(lease_time)?).await
    };
    unit(run.await)
}

#[napi]
pub async fn delete_pinhole(
    target: SoapTarget,
    unique_id: u32,
    trace: Option<u32>,
) -> ActionResult {
    trace::scoped(trace, delete_pinhole_untraced(target, unique_id)).await
}

async fn delete_pinhole_untraced(target: SoapTarget, unique_id: u32) -> ActionResult {
    let run = async { pinholes::delete_pinhole(&target.into(), id_arg(unique_id)?).await };
    unit(run.await)
}

/// `value` = the packet count.
#[napi]
pub async fn get_pinhole_packets(
    target: SoapTarget,
    unique_id: u32,
    trace: Option<u32>,
) -> ActionResult {
    trace::scoped(trace, get_pinhole_packets_untraced(target, unique_id)).await
}

async fn get_pinhole_packets_untraced(target: SoapTarget, unique_id: u32) -> ActionResult {
    let run = async {
        let packets = pinholes::pinhole_packets(&target.into(), id_arg(unique_id)?).await?;
        Ok(packets.to_string())
    };
    run.await.into()
}

/// `value` = "true" or "false" (the router's 709, "no traffic yet", is "false").
#[napi]
pub async fn check_pinhole_working(
    target: SoapTarget,
    unique_id: u32,
    trace: Option<u32>,
) -> ActionResult {
    trace::scoped(trace, check_pinhole_working_untraced(target, unique_id)).await
}

async fn check_pinhole_working_untraced(target: SoapTarget, unique_id: u32) -> ActionResult {
    let run = async {
        let working = pinholes::check_pinhole_working(&target.into(), id_arg(unique_id)?).await?;
        Ok(working.to_string())
    };
    run.await.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PinholeSpec {
        PinholeSpec {
            remote_host: String::new(),
            remote_port: 0,
            internal_client: String::new(),
            internal_port: 7777,
            protocol: "UDP".into(),
            lease_time: 3600,
        }
    }

    #[test]
    fn arguments_are_checked_before_any_io() {
        assert_eq!(pinhole(spec(), true).unwrap().protocol, PROTO_UDP);
        let bad = |s: PinholeSpec| pinhole(s, true).unwrap_err().result;
        assert_eq!(
            bad(PinholeSpec {
                internal_port: 0,
                ..spec()
            }),
            UpnpResult::InvalidPort
        );
        assert_eq!(
            bad(PinholeSpec {
                remote_port: 65536,
                ..spec()
            }),
            UpnpResult::InvalidPort
        );
        assert_eq!(
            bad(PinholeSpec {
                protocol: "udp".into(),
                ..spec()
            }),
            UpnpResult::InvalidProtocol
        );
        for lease_time in [0, MAX_LEASE + 1] {
            assert_eq!(
                bad(PinholeSpec {
                    lease_time,
                    ..spec()
                }),
                UpnpResult::InvalidDuration
            );
        }
        // The outbound timeout has no lease.
        assert!(pinhole(
            PinholeSpec {
                lease_time: 0,
                ..spec()
            },
            false
        )
        .is_ok());
        assert_eq!(id_arg(65536).unwrap_err().result, UpnpResult::InvalidParam);
        assert_eq!(id_arg(65535).unwrap(), 65535);
    }
}
