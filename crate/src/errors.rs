//! Godot's result numbers and the one place where router faults become them.
//!
//! The numeric values of [`UpnpResult`] and [`IgdStatus`] are a public contract (they are
//! Godot's `UPNP.UPNPResult` and `UPNPDevice.IGDStatus`); the TypeScript enums in
//! `lib/errors.ts` carry the same numbers and a test checks both sides agree.

use std::fmt;

use crate::limits::{cap, MAX_ERROR_CHARS};

/// Godot's `UPNP.UPNPResult`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum UpnpResult {
    Success = 0,
    NotAuthorized = 1,
    PortMappingNotFound = 2,
    InconsistentParameters = 3,
    NoSuchEntryInArray = 4,
    ActionFailed = 5,
    SrcIpWildcardNotPermitted = 6,
    ExtPortWildcardNotPermitted = 7,
    IntPortWildcardNotPermitted = 8,
    RemoteHostMustBeWildcard = 9,
    ExtPortMustBeWildcard = 10,
    NoPortMapsAvailable = 11,
    ConflictWithOtherMechanism = 12,
    ConflictWithOtherMapping = 13,
    SamePortValuesRequired = 14,
    OnlyPermanentLeaseSupported = 15,
    InvalidGateway = 16,
    InvalidPort = 17,
    InvalidProtocol = 18,
    InvalidDuration = 19,
    InvalidArgs = 20,
    InvalidResponse = 21,
    InvalidParam = 22,
    HttpError = 23,
    SocketError = 24,
    MemAllocError = 25,
    NoGateway = 26,
    NoDevices = 27,
    UnknownError = 28,
}

impl UpnpResult {
    /// Godot's name of the value (`CONFLICT_WITH_OTHER_MAPPING`), from the variant's own name
    /// so that the spelling exists once.
    pub fn name(self) -> String {
        let mut name = String::new();
        for (i, c) in format!("{self:?}").chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_uppercase());
        }
        name
    }

    /// Maps a UPnP `errorCode` from a SOAP fault the way Godot does; codes Godot does not
    /// name (401, 713, 730, 731, 500, 600-605, ...) become `UnknownError`, but the raw code is
    /// always kept next to it in [`Failure::upnp_code`].
    pub fn from_upnp_code(code: i64) -> Self {
        match code {
            402 => Self::InvalidArgs,
            403 | 606 => Self::NotAuthorized,
            501 => Self::ActionFailed,
            714 => Self::NoSuchEntryInArray,
            715 => Self::SrcIpWildcardNotPermitted,
            716 => Self::ExtPortWildcardNotPermitted,
            718 => Self::ConflictWithOtherMapping,
            724 => Self::SamePortValuesRequired,
            725 => Self::OnlyPermanentLeaseSupported,
            726 => Self::RemoteHostMustBeWildcard,
            727 => Self::ExtPortMustBeWildcard,
            728 => Self::NoPortMapsAvailable,
            729 => Self::ConflictWithOtherMechanism,
            732 => Self::IntPortWildcardNotPermitted,
            733 => Self::InconsistentParameters,
            _ => Self::UnknownError,
        }
    }
}

impl UpnpResult {
    /// Maps a fault of the `WANIPv6FirewallControl:1` service (IPv6 pinholes). Its 70x codes
    /// are its own (WANPPPConnection gives the same numbers other meanings), so they are read
    /// this way only for that service: each becomes the result of the port-mapping fault that
    /// means the same; the shared codes (402, 606, 501, ...) map as for every service.
    pub fn from_firewall_code(code: i64) -> Self {
        match code {
            // PinholeSpaceExhausted: as 728 NoPortMapsAvailable.
            701 => Self::NoPortMapsAvailable,
            // FirewallDisabled: nothing to open (inbound IPv6 is not filtered at all).
            702 => Self::ActionFailed,
            // InboundPinholeNotAllowed: the router's policy, as 606.
            703 => Self::NotAuthorized,
            // NoSuchEntry: as 714 NoSuchEntryInArray.
            704 => Self::NoSuchEntryInArray,
            // ProtocolNotSupported, ProtocolWildcardingNotAllowed.
            705 | 707 => Self::InvalidProtocol,
            // InternalPortWildcardingNotAllowed: as 732.
            706 => Self::IntPortWildcardNotPermitted,
            // WildCardNotPermittedInSrcIP (the internal client): as 715.
            708 => Self::SrcIpWildcardNotPermitted,
            // 709 NoPacketSent is CheckPinholeWorking's "no traffic yet", an answer rather
            // than a failure (see `upnp::pinholes`); anywhere else it stays UNKNOWN_ERROR.
            _ => Self::from_upnp_code(code),
        }
    }
}

/// Godot's `UPNPDevice.IGDStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum IgdStatus {
    Ok = 0,
    HttpError = 1,
    HttpEmpty = 2,
    /// Godot never produces it; kept for the numbering.
    #[allow(dead_code)]
    NoUrls = 3,
    NoIgd = 4,
    Disconnected = 5,
    UnknownDevice = 6,
    InvalidControl = 7,
    /// Godot never produces it; kept for the numbering.
    #[allow(dead_code)]
    MallocError = 8,
    UnknownError = 9,
}

/// Why a call did not succeed: Godot's number plus what the router (or the network) said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub result: UpnpResult,
    /// The UPnP `errorCode` of a SOAP fault, untouched.
    pub upnp_code: Option<i64>,
    /// The router's `errorDescription`, or what went wrong on our side.
    pub description: String,
    /// The HTTP status of the reply, when there was one.
    pub http_status: Option<u16>,
}

impl Failure {
    /// The description is capped: it may quote what a device said, which is never trusted
    /// to be short.
    pub fn new(result: UpnpResult, description: impl Into<String>) -> Self {
        Self {
            result,
            upnp_code: None,
            description: cap(&description.into(), MAX_ERROR_CHARS),
            http_status: None,
        }
    }

    pub fn fault(code: i64, description: impl Into<String>, http_status: u16) -> Self {
        Self {
            result: UpnpResult::from_upnp_code(code),
            upnp_code: Some(code),
            description: cap(&description.into(), MAX_ERROR_CHARS),
            http_status: Some(http_status),
        }
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upnp_code {
            Some(code) => write!(
                f,
                "{:?} (UPnP error {code}: {})",
                self.result, self.description
            ),
            None => write!(f, "{:?} ({})", self.result, self.description),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn godot_numbers_are_kept() {
        assert_eq!(UpnpResult::Success as u32, 0);
        assert_eq!(UpnpResult::ConflictWithOtherMapping as u32, 13);
        assert_eq!(UpnpResult::InvalidGateway as u32, 16);
        assert_eq!(UpnpResult::HttpError as u32, 23);
        assert_eq!(UpnpResult::NoDevices as u32, 27);
        assert_eq!(UpnpResult::UnknownError as u32, 28);
        assert_eq!(IgdStatus::Ok as u32, 0);
        assert_eq!(IgdStatus::InvalidControl as u32, 7);
        assert_eq!(IgdStatus::UnknownError as u32, 9);
    }

    #[test]
    fn names_are_godots() {
        assert_eq!(UpnpResult::Success.name(), "SUCCESS");
        assert_eq!(
            UpnpResult::SrcIpWildcardNotPermitted.name(),
            "SRC_IP_WILDCARD_NOT_PERMITTED"
        );
        assert_eq!(UpnpResult::HttpError.name(), "HTTP_ERROR");
        assert_eq!(UpnpResult::MemAllocError.name(), "MEM_ALLOC_ERROR");
    }

    #[test]
    fn fault_table_matches_godot() {
        let table = [
            (402, UpnpResult::InvalidArgs),
            (403, UpnpResult::NotAuthorized),
            (501, UpnpResult::ActionFailed),
            (606, UpnpResult::NotAuthorized),
            (714, UpnpResult::NoSuchEntryInArray),
            (715, UpnpResult::SrcIpWildcardNotPermitted),
            (716, UpnpResult::ExtPortWildcardNotPermitted),
            (718, UpnpResult::ConflictWithOtherMapping),
            (724, UpnpResult::SamePortValuesRequired),
            (725, UpnpResult::OnlyPermanentLeaseSupported),
            (726, UpnpResult::RemoteHostMustBeWildcard),
            (727, UpnpResult::ExtPortMustBeWildcard),
            (728, UpnpResult::NoPortMapsAvailable),
            (729, UpnpResult::ConflictWithOtherMechanism),
            (732, UpnpResult::IntPortWildcardNotPermitted),
            (733, UpnpResult::InconsistentParameters),
        ];
        for (code, want) in table {
            assert_eq!(UpnpResult::from_upnp_code(code), want, "code {code}");
        }
        for other in [401, 500, 600, 605, 713, 730, 731, -1, 0] {
            assert_eq!(
                UpnpResult::from_upnp_code(other),
                UpnpResult::UnknownError,
                "code {other}"
            );
        }
    }

    #[test]
    fn firewall_faults_have_their_own_table() {
        let table = [
            (701, UpnpResult::NoPortMapsAvailable),
            (702, UpnpResult::ActionFailed),
            (703, UpnpResult::NotAuthorized),
            (704, UpnpResult::NoSuchEntryInArray),
            (705, UpnpResult::InvalidProtocol),
            (706, UpnpResult::IntPortWildcardNotPermitted),
            (707, UpnpResult::InvalidProtocol),
            (708, UpnpResult::SrcIpWildcardNotPermitted),
            (709, UpnpResult::UnknownError),
            (402, UpnpResult::InvalidArgs),
            (606, UpnpResult::NotAuthorized),
            (501, UpnpResult::ActionFailed),
        ];
        for (code, want) in table {
            assert_eq!(UpnpResult::from_firewall_code(code), want, "code {code}");
        }
        // The same numbers from a connection service keep Godot's meaning.
        for code in 701..=709 {
            assert_eq!(UpnpResult::from_upnp_code(code), UpnpResult::UnknownError);
        }
    }

    #[test]
    fn fault_keeps_raw_code() {
        let f = Failure::fault(718, "ConflictInMappingEntry", 500);
        assert_eq!(f.result, UpnpResult::ConflictWithOtherMapping);
        assert_eq!(f.upnp_code, Some(718));
        assert_eq!(f.http_status, Some(500));
        assert!(f.to_string().contains("718"));
    }
}
