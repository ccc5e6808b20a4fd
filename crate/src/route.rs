//! Where NAT-PMP and PCP requests go: the default route's gateway, and the local address
//! that reaches it.
//!
//! Linux: the kernel's main routing table from `/proc/net/route` and `/proc/net/ipv6_route`
//! (no netlink crate needed for one read-only table). Other platforms return
//! `ErrorKind::Unsupported` and callers pass the gateway themselves; crates that cover them
//! (`netdev`) bring netlink, CoreFoundation/objc2 and Windows bindings for this one lookup,
//! which we cannot build or test here. Policy routing (a VPN's fwmark table) is not seen
//! either: callers can always override.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// One default route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultRoute {
    pub gateway: IpAddr,
    pub interface: String,
    pub metric: u32,
    /// The interface index, for link-local IPv6 gateways (0 when unknown or not needed).
    pub scope_id: u32,
}

impl DefaultRoute {
    /// The gateway with `port`, scoped when it is link-local IPv6.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        match self.gateway {
            IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), port),
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, self.scope_id)),
        }
    }

    /// `192.168.1.1`, or `fe80::1%eth0` as Node prints scoped addresses.
    pub fn display(&self) -> String {
        match self.gateway {
            IpAddr::V6(v6) if is_link_local_v6(v6) => format!("{v6}%{}", self.interface),
            ip => ip.to_string(),
        }
    }
}

pub fn is_link_local_v6(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// The default IPv4 route with the lowest metric from `/proc/net/route`:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, addresses as the kernel's
/// 32-bit values in hex (network byte order read as a host integer).
pub fn parse_ipv4_routes(text: &str) -> Option<DefaultRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            let (dest, gateway, flags, metric, mask) = (
                hex(f[1])?,
                hex(f[2])?,
                hex(f[3])?,
                f[6].parse().ok()?,
                hex(f[7])?,
            );
            let default = dest == 0 && mask == 0;
            let usable = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY
                && flags & RTF_REJECT == 0
                && gateway != 0;
            (default && usable).then(|| DefaultRoute {
                gateway: IpAddr::V4(Ipv4Addr::from(gateway.to_ne_bytes())),
                interface: f[0].to_string(),
                metric,
                scope_id: 0,
            })
        })
        .min_by_key(|r| r.metric)
}

/// The default IPv6 route with the lowest metric from `/proc/net/ipv6_route`:
/// `dest plen src plen next_hop metric refcnt use flags iface`, all hex.
/// `scope_of` turns an interface name into its index (for link-local next hops).
pub fn parse_ipv6_routes(text: &str, scope_of: impl Fn(&str) -> u32) -> Option<DefaultRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let addr = |s: &str| {
                (s.len() == 32)
                    .then(|| u128::from_str_radix(s, 16).ok())
                    .flatten()
                    .map(Ipv6Addr::from)
            };
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            let (dest, plen, next_hop, metric, flags) =
                (addr(f[0])?, hex(f[1])?, addr(f[4])?, hex(f[5])?, hex(f[8])?);
            let default = dest.is_unspecified() && plen == 0;
            let usable = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY
                && flags & RTF_REJECT == 0
                && !next_hop.is_unspecified();
            (default && usable).then(|| DefaultRoute {
                gateway: IpAddr::V6(next_hop),
                interface: f[9].to_string(),
                metric,
                scope_id: if is_link_local_v6(next_hop) {
                    scope_of(f[9])
                } else {
                    0
                },
            })
        })
        .min_by_key(|r| r.metric)
}

/// An interface's index, 0 when unknown.
pub fn interface_index(name: &str) -> u32 {
    if_addrs::get_if_addrs()
        .ok()
        .and_then(|all| all.into_iter().find(|i| i.name == name)?.index)
        .unwrap_or(0)
}

fn interface_name(index: u32) -> Option<String> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find(|i| i.index == Some(index))
        .map(|i| i.name)
}

/// The default gateways of each family (either may be absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gateways {
    pub v4: Option<DefaultRoute>,
    pub v6: Option<DefaultRoute>,
}

#[cfg(target_os = "linux")]
pub fn default_gateways() -> io::Result<Gateways> {
    let v4 = std::fs::read_to_string("/proc/net/route")?;
    // No IPv6 in the kernel (or in this namespace): no file, no IPv6 gateway.
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    Ok(Gateways {
        v4: parse_ipv4_routes(&v4),
        v6: parse_ipv6_routes(&v6, interface_index),
    })
}

#[cfg(not(target_os = "linux"))]
pub fn default_gateways() -> io::Result<Gateways> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "default gateway lookup is implemented on Linux only; pass the gateway address",
    ))
}

/// The local address the kernel would use to reach `gateway`: a UDP socket is connected,
/// which picks the route and source address without sending anything.
pub fn local_address_for(gateway: SocketAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = match gateway {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = std::net::UdpSocket::bind(any)?;
    socket.connect(gateway)?;
    Ok(socket.local_addr()?.ip())
}

/// Parses a gateway given by a caller: `192.168.1.1`, `fd00::1`, `fe80::1%eth0` or
/// `fe80::1%3` (an interface name or index after `%`). Returns the address and scope.
pub fn parse_gateway(text: &str) -> Result<(IpAddr, u32), String> {
    let text = text.trim();
    let (addr, zone) = match text.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address"))?;
    let scope = match (ip, zone) {
        (_, None) => 0,
        (IpAddr::V4(_), Some(_)) => return Err(format!("{text:?}: IPv4 has no zone")),
        (IpAddr::V6(_), Some(z)) => match z.parse::<u32>() {
            Ok(index) => index,
            Err(_) => match interface_index(z) {
                0 => return Err(format!("{text:?}: no interface {z:?}")),
                index => index,
            },
        },
    };
    Ok((ip, scope))
}

/// The inverse of [`parse_gateway`] for output: scoped addresses get `%name` (or `%index`).
pub fn format_gateway(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => match interface_name(v6.scope_id()) {
            Some(name) => format!("{}%{name}", v6.ip()),
            None => format!("{}%{}", v6.ip(), v6.scope_id()),
        },
        other => other.ip().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
wg0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0
";

    #[test]
    fn ipv4_default_route_with_the_lowest_metric() {
        let r = parse_ipv4_routes(ROUTE).unwrap();
        // 0100A8C0 is 192.168.0.1 on a little-endian host.
        let want = if cfg!(target_endian = "little") {
            Ipv4Addr::new(192, 168, 0, 1)
        } else {
            Ipv4Addr::new(1, 0, 168, 192)
        };
        assert_eq!(r.gateway, IpAddr::V4(want));
        assert_eq!(r.interface, "eth0");
        assert_eq!(r.metric, 100);
        // A default route without a gateway (a tunnel) is not a gateway.
        assert!(parse_ipv4_routes(
            "h\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
        )
        .is_none());
    }

    #[test]
    fn ipv4_the_lab_client() {
        // `ip netns exec unl-client cat /proc/net/route`.
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\t\t
lan0\t00000000\t014DA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
lan0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";
        if cfg!(target_endian = "little") {
            let r = parse_ipv4_routes(text).unwrap();
            assert_eq!(r.gateway, "192.168.77.1".parse::<IpAddr>().unwrap());
            assert_eq!(r.interface, "lan0");
        }
    }

    #[test]
    fn ipv4_garbage_and_rejects() {
        for text in [
            "",
            "header only\n",
            "h\neth0 zz 0100A8C0 0003 0 0 100 00000000\n",
            "h\neth0 00000000 0100A8C0 0003\n",
            // RTF_REJECT
            "h\neth0\t00000000\t0100A8C0\t0203\t0\t0\t100\t00000000\n",
            // Not up.
            "h\neth0\t00000000\t0100A8C0\t0002\t0\t0\t100\t00000000\n",
            // Not a default route.
            "h\neth0\t0000000A\t0100A8C0\t0003\t0\t0\t100\t000000FF\n",
        ] {
            assert_eq!(parse_ipv4_routes(text), None, "{text:?}");
        }
    }

    const IPV6_ROUTE: &str = "\
fd770000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 lan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000200 00000001 00000000 00000003 eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo
";

    #[test]
    fn ipv6_default_route() {
        let r = parse_ipv6_routes(IPV6_ROUTE, |_| 7).unwrap();
        // Metric 0x200 beats 0x400; a global next hop needs no scope.
        assert_eq!(r.gateway, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.interface.as_str(), r.metric, r.scope_id),
            ("eth1", 0x200, 0)
        );
        let only_ll: String = IPV6_ROUTE
            .lines()
            .filter(|l| !l.contains("eth1"))
            .map(|l| format!("{l}\n"))
            .collect();
        let r = parse_ipv6_routes(&only_ll, |name| if name == "eth0" { 7 } else { 0 }).unwrap();
        assert_eq!(r.gateway, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(r.scope_id, 7);
        assert_eq!(r.display(), "fe80::1%eth0");
        assert_eq!(
            r.socket_addr(5351),
            "[fe80::1%7]:5351".parse::<SocketAddr>().unwrap()
        );
        // The lab: no default route, only the unreachable one on lo.
        let lab: String = IPV6_ROUTE
            .lines()
            .filter(|l| l.contains("lan0") || l.contains(" lo"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_ipv6_routes(&lab, |_| 1), None);
        assert_eq!(parse_ipv6_routes("", |_| 1), None);
        assert_eq!(parse_ipv6_routes("00 00 00\n", |_| 1), None);
    }

    #[test]
    fn gateways_given_by_callers() {
        assert_eq!(
            parse_gateway("192.168.1.1").unwrap(),
            ("192.168.1.1".parse().unwrap(), 0)
        );
        assert_eq!(
            parse_gateway(" fd77::1 ").unwrap(),
            ("fd77::1".parse().unwrap(), 0)
        );
        assert_eq!(
            parse_gateway("[fd77::1]").unwrap(),
            ("fd77::1".parse().unwrap(), 0)
        );
        assert_eq!(
            parse_gateway("fe80::1%3").unwrap(),
            ("fe80::1".parse().unwrap(), 3)
        );
        assert!(parse_gateway("lo").is_err());
        assert!(parse_gateway("").is_err());
        assert!(parse_gateway("1.2.3.4%eth0").is_err());
        assert!(parse_gateway("fe80::1%no-such-if0").is_err());
        let lo_index = interface_index("lo");
        if lo_index != 0 {
            assert_eq!(parse_gateway("fe80::1%lo").unwrap().1, lo_index);
            let addr = SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                1,
                0,
                lo_index,
            ));
            assert_eq!(format_gateway(addr), "fe80::1%lo");
        }
        assert_eq!(
            format_gateway("192.168.1.1:5351".parse().unwrap()),
            "192.168.1.1"
        );
    }

    #[test]
    fn local_address_without_sending() {
        let local = local_address_for("127.0.0.1:5351".parse().unwrap()).unwrap();
        assert_eq!(local, IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_machines_table() {
        // Whatever the machine has, reading it works and yields routes with gateways.
        let g = default_gateways().unwrap();
        if let Some(v4) = g.v4 {
            assert!(v4.gateway.is_ipv4());
        }
    }
}
