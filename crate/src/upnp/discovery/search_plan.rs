//! Where one SSDP search goes. The system's default multicast interface is often the wrong
//! one: a VPN that took the default route (or 0/1 + 128/1), a Hyper-V/WSL or VirtualBox
//! adapter, and Wi-Fi that drops multicast all hide the router from a plain multicast search.
//! So a search goes
//!
//! 1. by unicast to each default route's gateway (port 1900), first: a router that answers
//!    unicast is found even where multicast is lost, and for one that only answers the
//!    multicast search the unicast packet has already let its reply through host firewalls
//!    that track flows (Tailscale does the same, tailscale/tailscale#3197);
//! 2. by multicast on each interface that holds a default route, instead of the system's
//!    choice.
//!
//! Routes through tunnels (see `route::DefaultRoute::tunnel`) are skipped unless they are all
//! there is or `multicast_if` names their interface; `multicast_if` always wins: only that
//! interface, and only the gateways behind it.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use crate::route::DefaultRoute;
use crate::upnp::discovery::ssdp::{self, Interface, SocketOptions, SSDP_PORT};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPlan {
    /// Gateways searched directly, before any multicast.
    pub unicast: Vec<SocketAddr>,
    /// Interfaces the multicast search leaves from (`Interface::Default`: the system's choice).
    pub multicast_on: Vec<Interface>,
}

/// The plan for `options`, given the default routes (best first) and this host's interfaces.
pub fn plan(
    options: &SocketOptions,
    routes: &[DefaultRoute],
    interfaces: &[if_addrs::Interface],
) -> io::Result<SearchPlan> {
    let family: Vec<&DefaultRoute> = routes
        .iter()
        .filter(|r| r.gateway.is_ipv6() == options.ipv6)
        .collect();
    if !options.multicast_if.trim().is_empty() {
        let chosen = ssdp::resolve_interface_in(&options.multicast_if, options.ipv6, interfaces)?;
        let names = names_of(&chosen, interfaces);
        let unicast = family
            .iter()
            .filter(|r| names.contains(&r.interface))
            .map(|r| gateway_addr(r))
            .collect();
        return Ok(SearchPlan {
            unicast: dedup(unicast),
            multicast_on: vec![chosen],
        });
    }
    let usable: Vec<&DefaultRoute> = family.iter().copied().filter(|r| !r.tunnel).collect();
    let unicast = dedup(usable.iter().map(|r| gateway_addr(r)).collect());
    let mut multicast_on = Vec::new();
    for route in &usable {
        if let Ok(interface) =
            ssdp::resolve_interface_in(&route.interface, options.ipv6, interfaces)
        {
            if !multicast_on.contains(&interface) {
                multicast_on.push(interface);
            }
        }
    }
    if multicast_on.is_empty() {
        multicast_on.push(Interface::Default);
    }
    Ok(SearchPlan {
        unicast,
        multicast_on,
    })
}

/// Where the multicast group is reached from `interface`: link- and site-local IPv6 groups
/// need the interface as their scope.
pub fn group_on(group: SocketAddr, interface: &Interface) -> SocketAddr {
    match (group, interface) {
        (SocketAddr::V6(v6), Interface::V6Index(index)) => {
            SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, *index))
        }
        _ => group,
    }
}

fn gateway_addr(route: &DefaultRoute) -> SocketAddr {
    route.socket_addr(SSDP_PORT)
}

fn dedup(mut addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut seen = Vec::new();
    addresses.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    addresses
}

/// The interface names behind a resolved interface (one name; several addresses may share it).
fn names_of(interface: &Interface, interfaces: &[if_addrs::Interface]) -> Vec<String> {
    interfaces
        .iter()
        .filter(|i| match interface {
            Interface::V4(address) => i.ip() == IpAddr::V4(*address),
            Interface::V6Index(index) => i.index == Some(*index),
            Interface::Default => false,
        })
        .map(|i| i.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(name: &str, index: u32, ip: &str, p2p: bool) -> if_addrs::Interface {
        let ip: Ipv4Addr = ip.parse().unwrap();
        if_addrs::Interface {
            name: name.into(),
            addr: if_addrs::IfAddr::V4(if_addrs::Ifv4Addr {
                ip,
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                prefixlen: 24,
                broadcast: None,
            }),
            index: Some(index),
            oper_status: if_addrs::IfOperStatus::Up,
            is_p2p: p2p,
            #[cfg(windows)]
            adapter_name: String::new(),
        }
    }

    fn v6(name: &str, index: u32, ip: &str) -> if_addrs::Interface {
        let ip: Ipv6Addr = ip.parse().unwrap();
        if_addrs::Interface {
            name: name.into(),
            addr: if_addrs::IfAddr::V6(if_addrs::Ifv6Addr {
                ip,
                netmask: "ffff:ffff:ffff:ffff::".parse().unwrap(),
                prefixlen: 64,
                broadcast: None,
            }),
            index: Some(index),
            oper_status: if_addrs::IfOperStatus::Up,
            is_p2p: false,
            #[cfg(windows)]
            adapter_name: String::new(),
        }
    }

    fn route(gateway: &str, interface: &str, metric: u32, tunnel: bool) -> DefaultRoute {
        let gateway: IpAddr = gateway.parse().unwrap();
        let scope_id = match gateway {
            IpAddr::V6(v6) if crate::route::is_link_local_v6(v6) => 2,
            _ => 0,
        };
        DefaultRoute {
            gateway,
            interface: interface.into(),
            metric,
            scope_id,
            tunnel,
        }
    }

    fn interfaces() -> Vec<if_addrs::Interface> {
        vec![
            v4("lo", 1, "127.0.0.1", false),
            v4("lan0", 2, "192.168.77.10", false),
            v6("lan0", 2, "fe80::10"),
            v4("vpn0", 3, "10.8.0.2", false),
            v4("tun0", 4, "10.9.0.2", true),
        ]
    }

    fn options(multicast_if: &str, ipv6: bool) -> SocketOptions {
        SocketOptions {
            ipv6,
            multicast_if: multicast_if.into(),
            local_port: 0,
            ttl: 2,
        }
    }

    /// The plan for a search on `multicast_if`: its unicast targets as text, its interfaces.
    fn plan_of(
        multicast_if: &str,
        ipv6: bool,
        routes: &[DefaultRoute],
    ) -> (Vec<String>, Vec<Interface>) {
        let p = plan(&options(multicast_if, ipv6), routes, &interfaces()).unwrap();
        (
            p.unicast.iter().map(ToString::to_string).collect(),
            p.multicast_on,
        )
    }

    fn on(ip: &str) -> Interface {
        Interface::V4(ip.parse().unwrap())
    }

    #[test]
    fn a_vpn_with_a_better_default_route_does_not_hide_the_lan() {
        // The lab's "metric" VPN: default via 10.8.0.1 on vpn0 (metric 50), LAN's at 100.
        let routes = [
            route("10.8.0.1", "vpn0", 50, false),
            route("192.168.77.1", "lan0", 100, false),
        ];
        let (unicast, multicast) = plan_of("", false, &routes);
        assert_eq!(unicast, ["10.8.0.1:1900", "192.168.77.1:1900"]);
        assert_eq!(multicast, [on("10.8.0.2"), on("192.168.77.10")]);
    }

    #[test]
    fn tunnels_are_skipped_unless_named() {
        let routes = [
            route("10.9.0.1", "tun0", 50, true),
            route("192.168.77.1", "lan0", 100, false),
        ];
        let (unicast, multicast) = plan_of("", false, &routes);
        assert_eq!(unicast, ["192.168.77.1:1900"]);
        assert_eq!(multicast, [on("192.168.77.10")]);
        // Asked for by name: only the tunnel, and only its gateway.
        let (unicast, multicast) = plan_of("tun0", false, &routes);
        assert_eq!(unicast, ["10.9.0.1:1900"]);
        assert_eq!(multicast, [on("10.9.0.2")]);
        // Only a tunnel: nothing of ours, the system's choice as before.
        let (unicast, multicast) = plan_of("", false, &routes[..1]);
        assert!(unicast.is_empty());
        assert_eq!(multicast, [Interface::Default]);
    }

    #[test]
    fn multicast_if_wins() {
        let routes = [route("192.168.77.1", "lan0", 0, false)];
        // Named by address: that interface; the LAN's gateway is behind it.
        let (unicast, multicast) = plan_of("192.168.77.10", false, &routes);
        assert_eq!(unicast, ["192.168.77.1:1900"]);
        assert_eq!(multicast, [on("192.168.77.10")]);
        // Another interface: no gateway behind it, so no unicast.
        let (unicast, multicast) = plan_of("vpn0", false, &routes);
        assert!(unicast.is_empty());
        assert_eq!(multicast, [on("10.8.0.2")]);
        assert!(plan(&options("no-such-if0", false), &routes, &interfaces()).is_err());
    }

    #[test]
    fn no_default_route_keeps_the_system_choice() {
        let p = plan(&options("", false), &[], &interfaces()).unwrap();
        assert_eq!(
            (p.unicast.len(), p.multicast_on),
            (0, vec![Interface::Default])
        );
    }

    #[test]
    fn ipv6_uses_the_ipv6_routes_with_their_scope() {
        let routes = [
            route("192.168.77.1", "lan0", 0, false),
            route("fe80::1", "lan0", 1024, false),
        ];
        let (unicast, multicast) = plan_of("", true, &routes);
        assert_eq!(unicast, ["[fe80::1%2]:1900"]);
        assert_eq!(multicast, [Interface::V6Index(2)]);
        let group: SocketAddr = "[ff02::c]:1900".parse().unwrap();
        assert_eq!(
            group_on(group, &Interface::V6Index(2)),
            "[ff02::c%2]:1900".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(group_on(group, &Interface::Default), group);
    }
}
