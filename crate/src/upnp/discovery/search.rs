//! What a discovery searches for, and which of a device's replies names it: Godot's rules
//! (`is_common_device` in modules/upnp, miniupnpc's `upnpDiscover` search order) applied to
//! one burst, where miniupnpc sends one search type after another and stops at the first
//! that gets an answer.

/// The gateway searches, in miniupnpc's order of preference (IGD:1 first), with the version
/// 2 types miniupnpc leaves out, and last TR-064's gateway (Broadband Forum namespace), which
/// some ISP routers are instead. A device's `service_type` is the ST of its reply that comes
/// first in this list, whatever order the replies arrive in.
pub const GATEWAY_TARGETS: [&str; 6] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
    "urn:dslforum-org:device:InternetGatewayDevice:1",
];
/// Godot's last search type: any root device, asked only when no gateway search got an answer.
pub const ROOT_DEVICE: &str = "upnp:rootdevice";
/// Godot's only search type for a filter that names no gateway type.
pub const ALL: &str = "ssdp:all";

/// Godot's two discoveries, chosen by the filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The filter is empty or names a gateway type: the gateway searches, then root devices.
    Gateways,
    /// Any other filter ("WANDevice", "MediaServer"...): everything answers `ssdp:all`.
    All,
}

/// What a reply counts for under a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// An answer to a gateway search (any reply under `Plan::All`).
    Primary,
    /// An answer to `upnp:rootdevice`: kept only if no primary reply arrives at all, as Godot
    /// would only have searched for it then.
    Fallback,
}

impl Plan {
    /// Godot's `is_common_device(device_filter)`.
    pub fn for_filter(filter: &str) -> Self {
        let common = filter.is_empty()
            || [
                "InternetGatewayDevice",
                "WANIPConnection",
                "WANPPPConnection",
                "rootdevice",
            ]
            .iter()
            .any(|t| filter.contains(t));
        if common {
            Plan::Gateways
        } else {
            Plan::All
        }
    }

    pub fn targets(self) -> Vec<&'static str> {
        match self {
            Plan::Gateways => GATEWAY_TARGETS
                .iter()
                .copied()
                .chain([ROOT_DEVICE])
                .collect(),
            Plan::All => vec![ALL],
        }
    }

    pub fn kind(self, st: &str) -> ReplyKind {
        if self == Plan::Gateways && st == ROOT_DEVICE {
            ReplyKind::Fallback
        } else {
            ReplyKind::Primary
        }
    }
}

/// Lower names a device better: the gateway targets in order, then root device, then any
/// other ST (the first one seen stays).
pub fn rank(st: &str) -> usize {
    match GATEWAY_TARGETS.iter().position(|t| *t == st) {
        Some(i) => i,
        None if st == ROOT_DEVICE => GATEWAY_TARGETS.len(),
        None => GATEWAY_TARGETS.len() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_chooses_the_search_as_godot_does() {
        for common in [
            "",
            "InternetGatewayDevice",
            "WANIPConnection",
            "urn:schemas-upnp-org:service:WANPPPConnection:1",
            "rootdevice",
        ] {
            assert_eq!(Plan::for_filter(common), Plan::Gateways, "{common:?}");
        }
        for other in ["WANDevice", "MediaServer", "internetgatewaydevice"] {
            assert_eq!(Plan::for_filter(other), Plan::All, "{other:?}");
        }
        assert_eq!(Plan::Gateways.targets().last(), Some(&ROOT_DEVICE));
        assert_eq!(Plan::All.targets(), vec![ALL]);
    }

    #[test]
    fn root_device_replies_are_a_fallback_only_for_gateway_searches() {
        assert_eq!(Plan::Gateways.kind(ROOT_DEVICE), ReplyKind::Fallback);
        assert_eq!(Plan::Gateways.kind(GATEWAY_TARGETS[3]), ReplyKind::Primary);
        assert_eq!(Plan::All.kind(ROOT_DEVICE), ReplyKind::Primary);
    }

    #[test]
    fn igd_v1_names_a_device_first() {
        let mut sts = vec![ROOT_DEVICE, "urn:schemas-upnp-org:device:WANDevice:2"];
        sts.extend(GATEWAY_TARGETS.iter().rev());
        sts.sort_by_key(|st| rank(st));
        assert_eq!(sts[0], GATEWAY_TARGETS[0]);
        let n = GATEWAY_TARGETS.len();
        assert_eq!(&sts[..n], &GATEWAY_TARGETS[..]);
        assert_eq!(sts[n], ROOT_DEVICE);
    }
}
