//! What kind of address a router reports as its external one: public, or one that means
//! another NAT sits upstream. The one copy of these ranges; the CLI asks it through the addon.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// Reachable from the Internet (as far as the address tells).
    Public,
    /// 100.64.0.0/10, the shared address space ISPs use for carrier-grade NAT (RFC 6598).
    Cgnat,
    /// Private, loopback, link-local, documentation and other reserved ranges: another NAT
    /// (or no real WAN at all) sits between the router and the Internet.
    Private,
}

impl AddressKind {
    /// The name the TypeScript side uses.
    pub fn name(self) -> &'static str {
        match self {
            AddressKind::Public => "public",
            AddressKind::Cgnat => "cgnat",
            AddressKind::Private => "private",
        }
    }
}

pub fn classify(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// An IGD whose external address is not public sits behind another NAT.
pub fn is_not_public(ip: IpAddr) -> bool {
    classify(ip) != AddressKind::Public
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, c, _] = ip.octets();
    if a == 100 && (64..128).contains(&b) {
        return AddressKind::Cgnat;
    }
    let reserved = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15 benchmarking
        || a >= 224; // multicast and 240/4
    if reserved {
        AddressKind::Private
    } else {
        AddressKind::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    let reserved = ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8); // documentation
    if reserved {
        AddressKind::Private
    } else {
        AddressKind::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> AddressKind {
        classify(text.parse().unwrap())
    }

    #[test]
    fn ranges() {
        for public in [
            "11.22.33.44",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "2a00::1",
        ] {
            assert_eq!(kind(public), AddressKind::Public, "{public}");
        }
        for cgnat in [
            "100.64.0.0",
            "100.64.1.2",
            "100.127.255.255",
            "::ffff:100.64.1.2",
        ] {
            assert_eq!(kind(cgnat), AddressKind::Cgnat, "{cgnat}");
        }
        for private in [
            "10.0.0.2",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "127.0.0.1",
            "0.0.0.0",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::1",
            "::",
            "ff02::c",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(kind(private), AddressKind::Private, "{private}");
        }
    }

    #[test]
    fn reserved_external_addresses_mean_double_nat() {
        for private in [
            "10.0.0.2",
            "172.16.5.4",
            "192.168.1.2",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.1.1",
            "192.0.2.7",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_not_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "100.128.0.1", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_not_public(public.parse().unwrap()), "{public}");
        }
    }
}
