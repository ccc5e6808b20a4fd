//! The checks of a port or a protocol name coming from JS, written once for every call that
//! takes one (UPnP mappings, IPv6 pinholes, NAT-PMP, PCP): JS numbers arrive as `u32`,
//! protocols as text, and no unchecked value reaches the core.

use crate::errors::{Failure, UpnpResult};

/// `value` as a port, 0 included (`what` names the argument in the refusal).
pub fn port(value: u32, what: &str) -> Result<u16, Failure> {
    u16::try_from(value).map_err(|_| {
        Failure::new(
            UpnpResult::InvalidPort,
            format!("{what} {value} is not 0..65535"),
        )
    })
}

/// `value` as a port where 0 would mean something the caller never means ("every port" to
/// NAT-PMP's delete, no port to a pinhole).
pub fn nonzero_port(value: u32, what: &str) -> Result<u16, Failure> {
    match port(value, what)? {
        0 => Err(Failure::new(
            UpnpResult::InvalidPort,
            format!("{what} 0 is not a port"),
        )),
        p => Ok(p),
    }
}

/// Godot's protocol names, exactly "UDP" or "TCP", as the caller represents them (a name,
/// NAT-PMP's opcode choice, the IANA number PCP and the pinhole service carry).
pub fn protocol<T>(value: &str, udp: T, tcp: T) -> Result<T, Failure> {
    match value {
        "UDP" => Ok(udp),
        "TCP" => Ok(tcp),
        _ => Err(Failure::new(
            UpnpResult::InvalidProtocol,
            format!("protocol {value:?} is not \"UDP\" or \"TCP\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_protocols_are_refused_by_name() {
        assert_eq!(port(0, "external port").unwrap(), 0);
        assert_eq!(port(65535, "external port").unwrap(), 65535);
        let f = port(65536, "external port").unwrap_err();
        assert_eq!(f.result, UpnpResult::InvalidPort);
        assert_eq!(f.description, "external port 65536 is not 0..65535");
        let f = nonzero_port(0, "internalPort").unwrap_err();
        assert_eq!(f.result, UpnpResult::InvalidPort);
        assert_eq!(f.description, "internalPort 0 is not a port");
        assert_eq!(
            nonzero_port(70000, "internalPort").unwrap_err().description,
            "internalPort 70000 is not 0..65535"
        );
        assert_eq!(nonzero_port(7777, "internalPort").unwrap(), 7777);
        assert_eq!(protocol("UDP", 17, 6).unwrap(), 17);
        assert_eq!(protocol("TCP", 17, 6).unwrap(), 6);
        let f = protocol("udp", 17, 6).unwrap_err();
        assert_eq!(f.result, UpnpResult::InvalidProtocol);
        assert_eq!(f.description, "protocol \"udp\" is not \"UDP\" or \"TCP\"");
    }
}
