//! The default routes read from /proc, the servers a request and a probe go to, tunnels
//! last; kept beside route.rs in a file of their own because they outgrew it.
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
    let all = parse_ipv4_routes(ROUTE);
    let r = all[0].clone();
    // 0100A8C0 is 192.168.0.1 on a little-endian host.
    let want = if cfg!(target_endian = "little") {
        Ipv4Addr::new(192, 168, 0, 1)
    } else {
        Ipv4Addr::new(1, 0, 168, 192)
    };
    assert_eq!(r.gateway, IpAddr::V4(want));
    assert_eq!(r.interface, "eth0");
    assert_eq!(r.metric, 100);
    // Every default route is kept, best first: the Wi-Fi one comes second.
    assert_eq!(
        all.iter()
            .map(|r| (r.interface.as_str(), r.metric))
            .collect::<Vec<_>>(),
        [("eth0", 100), ("wlan0", 600)]
    );
    // A default route without a gateway (a tunnel) is not a gateway.
    assert!(
        parse_ipv4_routes("h\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n")
            .is_empty()
    );
}

#[test]
fn ipv4_the_lab_client() {
    // `ip netns exec unl-client cat /proc/net/route`.
    let text =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\t\t
lan0\t00000000\t014DA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
lan0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";
    if cfg!(target_endian = "little") {
        let r = parse_ipv4_routes(text)[0].clone();
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
        assert_eq!(parse_ipv4_routes(text), [], "{text:?}");
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
    let r = parse_ipv6_routes(IPV6_ROUTE, |_| 7)[0].clone();
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
    let r = parse_ipv6_routes(&only_ll, |name| if name == "eth0" { 7 } else { 0 })[0].clone();
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
    assert_eq!(parse_ipv6_routes(&lab, |_| 1), []);
    assert_eq!(parse_ipv6_routes("", |_| 1), []);
    assert_eq!(parse_ipv6_routes("00 00 00\n", |_| 1), []);
}

fn route(gateway: &str, interface: &str, metric: u32, tunnel: bool) -> DefaultRoute {
    DefaultRoute {
        gateway: gateway.parse().unwrap(),
        interface: interface.into(),
        metric,
        scope_id: 0,
        tunnel,
    }
}

#[test]
fn tunnels_rank_after_every_other_route() {
    // A VPN client's better default route (NetworkManager gives VPNs metric 50, Wi-Fi 600)
    // over a point-to-point link is still not the router of this LAN.
    let mut routes = vec![
        route("10.8.0.1", "tun0", 50, true),
        route("192.168.1.1", "wlan0", 600, false),
        route("fd00::1", "wlan0", 600, false),
        route("192.168.2.1", "eth0", 100, false),
    ];
    rank(&mut routes);
    let order: Vec<&str> = routes.iter().map(|r| r.interface.as_str()).collect();
    assert_eq!(order, ["eth0", "wlan0", "wlan0", "tun0"]);
    let best = Gateways::from_routes(&routes);
    assert_eq!(best.v4.unwrap().interface, "eth0");
    assert_eq!(
        best.v6.unwrap().gateway,
        "fd00::1".parse::<IpAddr>().unwrap()
    );
    // Only tunnels: then a tunnel it is.
    let only = [route("10.8.0.1", "tun0", 50, true)];
    assert_eq!(Gateways::from_routes(&only).v4.unwrap().interface, "tun0");
    assert_eq!(Gateways::from_routes(&[]), Gateways::default());
}

/// What netdev reports on macOS/Windows, turned into routes (netdev builds on Linux too,
/// for this test; its own backends are exercised by the release workflow's smoke tests).
#[test]
fn routes_from_netdev_interfaces() {
    use netdev::interface::types::InterfaceType;
    const UP: u32 = 1; // IFF_UP
    const POINTOPOINT: u32 = 0x10;
    fn iface(
        name: &str,
        index: u32,
        if_type: InterfaceType,
        flags: u32,
        default: bool,
        gateways: &[&str],
    ) -> netdev::Interface {
        let mut i = netdev::Interface::dummy();
        i.name = name.into();
        i.index = index;
        i.if_type = if_type;
        i.flags = flags;
        i.default = default;
        let mut device = netdev::NetworkDevice::new();
        for g in gateways {
            match g.parse::<IpAddr>().unwrap() {
                IpAddr::V4(v4) => device.ipv4.push(v4),
                IpAddr::V6(v6) => device.ipv6.push(v6),
            }
        }
        i.gateway = (!gateways.is_empty()).then_some(device);
        i
    }
    let routes = routes_from_interfaces(vec![
        iface(
            "en0",
            4,
            InterfaceType::Wireless80211,
            UP,
            false,
            &["192.168.1.1", "fe80::1"],
        ),
        // The VPN holds the system's preferred route, through a point-to-point link.
        iface(
            "utun3",
            9,
            InterfaceType::Tunnel,
            UP | POINTOPOINT,
            true,
            &["10.8.0.1"],
        ),
        iface(
            "en1",
            5,
            InterfaceType::Ethernet,
            UP,
            true,
            &["192.168.2.1"],
        ),
        // Down, or no gateway: not a route.
        iface(
            "en2",
            6,
            InterfaceType::Ethernet,
            0,
            false,
            &["192.168.3.1"],
        ),
        iface("bridge100", 7, InterfaceType::Bridge, UP, false, &[]),
        iface("en3", 8, InterfaceType::Ethernet, UP, false, &["0.0.0.0"]),
    ]);
    let summary: Vec<(String, &str, u32, u32, bool)> = routes
        .iter()
        .map(|r| {
            (
                r.gateway.to_string(),
                r.interface.as_str(),
                r.metric,
                r.scope_id,
                r.tunnel,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("192.168.2.1".into(), "en1", 0, 0, false),
            ("192.168.1.1".into(), "en0", 1, 0, false),
            // A link-local gateway is scoped to its interface.
            ("fe80::1".into(), "en0", 1, 4, false),
            ("10.8.0.1".into(), "utun3", 0, 0, true),
        ]
    );
}

/// netdev's own reading of this machine agrees with /proc on the default IPv4 gateway.
#[cfg(target_os = "linux")]
#[test]
fn netdev_agrees_with_proc_on_this_machine() {
    let ours = default_gateways()
        .unwrap()
        .v4
        .map(|r| (r.gateway, r.interface));
    let theirs = netdev::get_default_interface().ok().and_then(|i| {
        let gateway = i.gateway.as_ref()?.ipv4.first().copied()?;
        Some((IpAddr::V4(gateway), i.name.clone()))
    });
    if let (Some(ours), Some(theirs)) = (&ours, &theirs) {
        assert_eq!(ours, theirs);
    } else {
        // Without a default IPv4 route both must say so.
        assert_eq!(ours.is_none(), theirs.is_none(), "{ours:?} vs {theirs:?}");
    }
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

#[test]
fn a_callers_server_is_checked_before_any_io() {
    assert!(matches!(
        resolve_server(Some("not-an-ip"), 5351, true),
        Err(NoServer::Invalid(_))
    ));
    let v6 = resolve_server(Some("fd77::1"), 5351, true).unwrap_err();
    assert!(matches!(v6, NoServer::Invalid(why) if why.contains("IPv4 only")));
    assert_eq!(
        resolve_server(Some("fd77::1"), 5351, false).unwrap(),
        "[fd77::1]:5351".parse().unwrap()
    );
    assert_eq!(
        resolve_server(Some(" 10.0.0.1 "), 1234, true).unwrap(),
        "10.0.0.1:1234".parse().unwrap()
    );
}

#[test]
fn probe_targets_take_the_callers_gateways() {
    let t = probe_targets(Some("10.0.0.1"), Some(""), 5351);
    assert_eq!(t.v4, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!((t.v6, t.problems.len()), (None, 0));
    let t = probe_targets(Some("fd00::1"), Some("10.0.0.1"), 5351);
    assert_eq!((t.v4, t.v6), (None, None));
    assert_eq!(
        t.problems,
        [
            "gateway \"fd00::1\" is not IPv4",
            "gateway6 \"10.0.0.1\" is not IPv6"
        ]
    );
    let t = probe_targets(Some("10.0.0.1"), Some("fd00::1"), 5351);
    assert_eq!(t.v6, Some("[fd00::1]:5351".parse().unwrap()));
}
