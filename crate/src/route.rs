//! Where NAT-PMP and PCP requests go, and where discovery looks for the gateway: the default
//! routes' gateways, and the local address that reaches them. One lookup shared by probing,
//! PortMapper, discovery and the CLI.
//!
//! - Linux: the kernel's main routing table from `/proc/net/route` and `/proc/net/ipv6_route`,
//!   with metrics. `netdev` would read it over netlink instead: the same facts for +0.7 MB of
//!   addon (netlink-packet-route; measured on linux-x64) and no metrics in its API.
//! - macOS and Windows: `netdev` (the routing table through sysctl on macOS, the adapters'
//!   gateways through GetAdaptersAddresses on Windows). Neither reports a metric, so the
//!   interface the system itself prefers (netdev's `default`) ranks first.
//! - Elsewhere: `ErrorKind::Unsupported`; callers pass the gateway themselves.
//!
//! Routes through tunnels and virtual links (VPNs, PPP, tun/tap) rank after every other
//! default route: a VPN's gateway is rarely the router that forwards ports for this LAN.
//! Policy routing (a VPN's fwmark table) is not seen: callers can always override.

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
    /// The route leaves through a tunnel or virtual link (point-to-point, tun/tap, PPP,
    /// a VPN adapter): ranked after the others.
    pub tunnel: bool,
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

/// Every usable default IPv4 route from `/proc/net/route`, lowest metric first:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, addresses as the kernel's
/// 32-bit values in hex (network byte order read as a host integer). Routes without a gateway
/// (a tunnel's `default dev wg0`) name no router and are left out.
pub fn parse_ipv4_routes(text: &str) -> Vec<DefaultRoute> {
    let mut routes: Vec<DefaultRoute> = text
        .lines()
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
                tunnel: false,
            })
        })
        .collect();
    routes.sort_by_key(|r| r.metric);
    routes
}

/// Every usable default IPv6 route from `/proc/net/ipv6_route`, lowest metric first:
/// `dest plen src plen next_hop metric refcnt use flags iface`, all hex.
/// `scope_of` turns an interface name into its index (for link-local next hops).
pub fn parse_ipv6_routes(text: &str, scope_of: impl Fn(&str) -> u32) -> Vec<DefaultRoute> {
    let mut routes: Vec<DefaultRoute> = text
        .lines()
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
                tunnel: false,
            })
        })
        .collect();
    routes.sort_by_key(|r| r.metric);
    routes
}

/// Best first: routes over tunnels after all others, then by metric (a stable sort, so
/// routes of equal rank keep the order they were found in).
pub fn rank(routes: &mut [DefaultRoute]) {
    routes.sort_by_key(|r| (r.tunnel, r.metric));
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

/// The default gateways of each family (either may be absent): the best route of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gateways {
    pub v4: Option<DefaultRoute>,
    pub v6: Option<DefaultRoute>,
}

impl Gateways {
    /// The first route of each family in `routes` (ranked best first).
    pub fn from_routes(routes: &[DefaultRoute]) -> Self {
        Self {
            v4: routes.iter().find(|r| r.gateway.is_ipv4()).cloned(),
            v6: routes.iter().find(|r| r.gateway.is_ipv6()).cloned(),
        }
    }
}

/// The default route's gateway of each family: the best of [`default_routes`].
pub fn default_gateways() -> io::Result<Gateways> {
    default_routes().map(|routes| Gateways::from_routes(&routes))
}

/// Every default route with a gateway, IPv4 and IPv6, best first (see [`rank`]).
#[cfg(target_os = "linux")]
pub fn default_routes() -> io::Result<Vec<DefaultRoute>> {
    let v4 = std::fs::read_to_string("/proc/net/route")?;
    // No IPv6 in the kernel (or in this namespace): no file, no IPv6 gateway.
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let mut routes = parse_ipv4_routes(&v4);
    routes.extend(parse_ipv6_routes(&v6, interface_index));
    let point_to_point = point_to_point_links();
    for route in &mut routes {
        route.tunnel = point_to_point.contains(&route.interface) || is_tun_or_tap(&route.interface);
    }
    rank(&mut routes);
    Ok(routes)
}

/// macOS and Windows: the gateways `netdev` finds on each interface.
#[cfg(any(target_os = "macos", target_os = "windows"))]
pub fn default_routes() -> io::Result<Vec<DefaultRoute>> {
    let point_to_point = point_to_point_links();
    let mut routes = routes_from_interfaces(netdev::get_interfaces());
    for route in &mut routes {
        route.tunnel |= point_to_point.contains(&route.interface);
    }
    rank(&mut routes);
    Ok(routes)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub fn default_routes() -> io::Result<Vec<DefaultRoute>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "default gateway lookup is implemented on Linux, macOS and Windows; pass the gateway address",
    ))
}

/// Names of point-to-point interfaces (VPN tunnels, PPP): what `if_addrs` reports as such on
/// every platform (IFF_POINTOPOINT on Unix, the interface type on Windows).
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn point_to_point_links() -> std::collections::HashSet<String> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.is_p2p())
        .map(|i| i.name)
        .collect()
}

/// A Linux tun/tap device (OpenVPN, WireGuard-go, Tailscale): it has `tun_flags` in sysfs.
#[cfg(target_os = "linux")]
fn is_tun_or_tap(interface: &str) -> bool {
    !interface.is_empty()
        && !interface.contains('/')
        && interface != "."
        && interface != ".."
        && std::path::Path::new("/sys/class/net")
            .join(interface)
            .join("tun_flags")
            .exists()
}

/// The default routes `netdev` reports: one per gateway address of each interface that is
/// up. netdev has no metrics; the interface the system prefers (`default`) gets 0, others 1.
#[cfg(any(target_os = "macos", target_os = "windows", test))]
fn routes_from_interfaces(interfaces: Vec<netdev::Interface>) -> Vec<DefaultRoute> {
    use netdev::interface::types::InterfaceType;
    let mut routes = Vec::new();
    for i in interfaces {
        let Some(gateway) = i.gateway.as_ref() else {
            continue;
        };
        if !i.is_up() || i.is_loopback() {
            continue;
        }
        let tunnel = i.is_tun()
            || matches!(
                i.if_type,
                InterfaceType::Tunnel | InterfaceType::Ppp | InterfaceType::ProprietaryVirtual
            );
        let metric = u32::from(!i.default);
        // Windows names an adapter by a GUID; people (and if_addrs) use its friendly name.
        let interface = match (&i.friendly_name, cfg!(windows)) {
            (Some(friendly), true) => friendly.clone(),
            _ => i.name.clone(),
        };
        let v4 = gateway.ipv4.iter().map(|a| IpAddr::V4(*a));
        let v6 = gateway.ipv6.iter().map(|a| IpAddr::V6(*a));
        for address in v4.chain(v6).filter(|a| !a.is_unspecified()) {
            let scope_id = match address {
                IpAddr::V6(v6) if is_link_local_v6(v6) => i.index,
                _ => 0,
            };
            routes.push(DefaultRoute {
                gateway: address,
                interface: interface.clone(),
                metric,
                scope_id,
                tunnel,
            });
        }
    }
    rank(&mut routes);
    routes
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

/// A caller's gateway text with `port`: [`parse_gateway`], scoped when link-local IPv6.
pub fn gateway_addr(text: &str, port: u16) -> Result<SocketAddr, String> {
    let (ip, scope) = parse_gateway(text)?;
    Ok(match ip {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), port),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)),
    })
}

/// Why no server could be chosen for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoServer {
    /// The caller's gateway is unusable: not an address, or IPv6 where only IPv4 works.
    Invalid(String),
    /// None was given and the default route has none.
    Missing(String),
}

/// Where a NAT-PMP or PCP request goes: the caller's gateway when given (`192.168.1.1`,
/// `fd00::1`, `fe80::1%eth0`), else the default route's, IPv4 first (NAT-PMP is IPv4 only:
/// `ipv4_only`).
pub fn resolve_server(
    gateway: Option<&str>,
    port: u16,
    ipv4_only: bool,
) -> Result<SocketAddr, NoServer> {
    let addr = match gateway.map(str::trim) {
        Some(text) if !text.is_empty() => gateway_addr(text, port).map_err(NoServer::Invalid)?,
        _ => {
            let routes = default_gateways()
                .map_err(|e| NoServer::Missing(format!("default gateway: {e}")))?;
            let found = if ipv4_only {
                routes.v4
            } else {
                routes.v4.or(routes.v6)
            };
            found
                .map(|r| r.socket_addr(port))
                .ok_or_else(|| NoServer::Missing("no default route with a gateway".to_string()))?
        }
    };
    if ipv4_only && !addr.is_ipv4() {
        return Err(NoServer::Invalid(format!(
            "NAT-PMP is IPv4 only, not {}",
            addr.ip()
        )));
    }
    Ok(addr)
}

/// The gateways a probe asks: NAT-PMP and PCP over IPv4, PCP over IPv6.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeTargets {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<SocketAddr>,
    /// What could not be used, for the caller to report (the probe still asks the rest).
    pub problems: Vec<String>,
}

/// `gateway`: absent or "" = the default route's IPv4 gateway. `gateway6`: absent = the
/// default IPv6 route's, "" = none. The routing table is read only when one is needed.
pub fn probe_targets(gateway: Option<&str>, gateway6: Option<&str>, port: u16) -> ProbeTargets {
    let mut problems = Vec::new();
    let gateway = gateway.map(str::trim).filter(|g| !g.is_empty());
    let gateway6 = gateway6.map(str::trim);
    let routes = match (gateway, gateway6) {
        (Some(_), Some(_)) => Gateways::default(),
        _ => default_gateways().unwrap_or_else(|e| {
            problems.push(format!("default gateway: {e}"));
            Gateways::default()
        }),
    };
    let v4 = match gateway {
        Some(text) => match parse_gateway(text) {
            Ok((IpAddr::V4(v4), _)) => Some(v4),
            Ok(_) => {
                problems.push(format!("gateway {text:?} is not IPv4"));
                None
            }
            Err(why) => {
                problems.push(why);
                None
            }
        },
        None => match routes.v4.as_ref().map(|r| r.gateway) {
            Some(IpAddr::V4(v4)) => Some(v4),
            _ => None,
        },
    };
    let v6 = match gateway6 {
        Some("") => None,
        Some(text) => match gateway_addr(text, port) {
            Ok(addr @ SocketAddr::V6(_)) => Some(addr),
            Ok(_) => {
                problems.push(format!("gateway6 {text:?} is not IPv6"));
                None
            }
            Err(why) => {
                problems.push(why);
                None
            }
        },
        None => routes.v6.as_ref().map(|r| r.socket_addr(port)),
    };
    ProbeTargets { v4, v6, problems }
}

#[cfg(test)]
mod tests;
