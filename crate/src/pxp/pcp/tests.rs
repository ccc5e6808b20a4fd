//! PCP's codec and key checks against RFC 6887's layouts; kept beside pcp.rs in a file of
//! their own because they outgrew it.
use super::*;

const NONCE: [u8; 12] = [
    0xe4, 0x40, 0x61, 0x5a, 0x00, 0x7f, 0x3e, 0x35, 0xac, 0xca, 0xae, 0xc0,
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn addresses_are_ipv4_mapped() {
    let v4: IpAddr = "192.168.77.10".parse().unwrap();
    assert_eq!(
        address_field(v4),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 10]
    );
    assert_eq!(address_from_field(address_field(v4)), v4);
    let v6: IpAddr = "fd77::10".parse().unwrap();
    assert_eq!(address_from_field(address_field(v6)), v6);
    // RFC 6887 11.1: the "no preference" addresses of each family.
    assert_eq!(
        address_field(unspecified_like(v4)),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
    );
    assert_eq!(address_field(unspecified_like(v6)), [0u8; 16]);
    assert_eq!(
        address_from_field([0u8; 16]),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    );
}

#[test]
fn announce_request_layout() {
    let r = announce_request("192.168.77.10".parse().unwrap());
    assert_eq!(r.len(), 24);
    assert_eq!(&r[..8], &[2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&r[8..20], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    assert_eq!(&r[20..], &[192, 168, 77, 10]);
}

#[test]
fn map_request_layout() {
    let r = map_request(&MapRequest {
        nonce: NONCE,
        protocol: PROTO_UDP,
        internal_port: 40001,
        suggested_external_port: 40002,
        suggested_external_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        lifetime: 7200,
        client: "192.168.77.10".parse().unwrap(),
        prefer_failure: false,
    });
    let want = unhex(concat!(
        "02010000",                         // version, R=0 MAP, reserved
        "00001c20",                         // lifetime 7200
        "00000000000000000000ffffc0a84d0a", // client ::ffff:192.168.77.10
        "e440615a007f3e35accaaec0",         // nonce
    ));
    assert_eq!(&r[..want.len()], &want[..]);
    assert_eq!(r.len(), 60);
    assert_eq!(&r[36..40], &[17, 0, 0, 0]); // protocol, reserved
    assert_eq!(&r[40..44], &[0x9c, 0x41, 0x9c, 0x42]); // ports
    assert_eq!(
        &r[44..60],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
    );
    // PREFER_FAILURE adds a 4-byte option with no data.
    let r = map_request(&MapRequest {
        nonce: NONCE,
        protocol: PROTO_TCP,
        internal_port: 1,
        suggested_external_port: 0,
        suggested_external_address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        lifetime: 0,
        client: "fd77::10".parse().unwrap(),
        prefer_failure: true,
    });
    assert_eq!(r.len(), 64);
    assert_eq!(&r[60..], &[2, 0, 0, 0]);
    assert_eq!(r[36], 6);
    assert_eq!(&r[8..24], &address_field("fd77::10".parse().unwrap()));
}

// Responses below are what miniupnpd 2.3.1 sent in the lab.

#[test]
fn parses_announce_response() {
    let d = unhex(concat!(
        "02800000",
        "00000000",
        "0000000a",
        "000000000000000000000000"
    ));
    let r = parse_response(&d).unwrap();
    assert_eq!(
        r,
        Response {
            opcode: OP_ANNOUNCE,
            result_code: 0,
            lifetime: 0,
            epoch: 10,
            map: None,
            options: vec![]
        }
    );
}

#[test]
fn parses_map_response() {
    let d = unhex(concat!(
        "028100000000007800000019000000000000000000000000",
        "e440615a007f3e35accaaec011000000",
        "9c419c4100000000000000000000ffff0b16212c"
    ));
    let r = parse_response(&d).unwrap();
    assert_eq!(r.opcode, OP_MAP);
    assert_eq!(r.result_code, RESULT_SUCCESS);
    assert_eq!(r.lifetime, 120);
    assert_eq!(r.epoch, 25);
    let m = r.map.unwrap();
    assert_eq!(m.protocol, PROTO_UDP);
    assert_eq!((m.internal_port, m.external_port), (40001, 40001));
    assert_eq!(m.external_address, "11.22.33.44".parse::<IpAddr>().unwrap());
    assert!(r.options.is_empty());
    // IPv6 (a pinhole: the external address is the client's own).
    let d = unhex(concat!(
        "028100000000007800000019000000000000000000000000",
        "e440615a007f3e35accaaec011000000",
        "9c549c54fd770000000000000000000000000010"
    ));
    let m = parse_response(&d).unwrap().map.unwrap();
    assert_eq!(m.external_address, "fd77::10".parse::<IpAddr>().unwrap());
}

#[test]
fn parses_error_responses_with_and_without_payload() {
    // ADDRESS_MISMATCH with the request's payload echoed.
    let d = unhex(concat!(
        "0281000c000000000000000a000000000000000000000000",
        "e440615a007f3e35accaaec011000000",
        "9c429c4200000000000000000000ffff00000000"
    ));
    let r = parse_response(&d).unwrap();
    assert_eq!(r.result_code, RESULT_ADDRESS_MISMATCH);
    assert_eq!(r.map.unwrap().internal_port, 40002);
    // Delete of an unknown mapping: NO_RESOURCES, the error lasting 30 s.
    let d = unhex(concat!(
        "028100080000001e00000019000000000000000000000000",
        "175cb82c59e09da4cd79bf3411000000",
        "a40f000000000000000000000000ffff0b16212c"
    ));
    let r = parse_response(&d).unwrap();
    assert_eq!((r.result_code, r.lifetime), (RESULT_NO_RESOURCES, 30));
    // UNSUPP_OPCODE: header only.
    let d = unhex(concat!(
        "02890004",
        "00000000",
        "0000000a",
        "000000000000000000000000"
    ));
    let r = parse_response(&d).unwrap();
    assert_eq!(
        (r.opcode, r.result_code, r.map),
        (9, RESULT_UNSUPP_OPCODE, None)
    );
    // A MAP error that is only the header.
    let mut d = d.clone();
    d[1] = 0x81;
    d[3] = RESULT_MALFORMED_REQUEST;
    let r = parse_response(&d).unwrap();
    assert_eq!((r.opcode, r.result_code, r.map), (OP_MAP, 3, None));
}

fn map_success() -> Vec<u8> {
    unhex(concat!(
        "028100000000007800000019000000000000000000000000",
        "e440615a007f3e35accaaec011000000",
        "9c419c4100000000000000000000ffff0b16212c"
    ))
}

#[test]
fn parses_options_known_and_unknown() {
    // miniupnpd echoes PREFER_FAILURE.
    let mut d = map_success();
    d.extend_from_slice(&[2, 0, 0, 0]);
    let r = parse_response(&d).unwrap();
    assert_eq!(
        r.options,
        vec![PcpOption {
            code: OPTION_PREFER_FAILURE,
            data: vec![]
        }]
    );
    // THIRD_PARTY (16 bytes), an unknown optional option with 5 bytes padded to 8, then
    // FILTER (20 bytes).
    let mut d = map_success();
    d.extend_from_slice(&[1, 0, 0, 16]);
    d.extend_from_slice(&address_field("192.168.77.11".parse().unwrap()));
    d.extend_from_slice(&[200, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
    d.extend_from_slice(&[3, 0, 0, 20]);
    d.extend_from_slice(&[0; 20]);
    let r = parse_response(&d).unwrap();
    let codes: Vec<(u8, usize)> = r.options.iter().map(|o| (o.code, o.data.len())).collect();
    assert_eq!(
        codes,
        vec![(OPTION_THIRD_PARTY, 16), (200, 5), (OPTION_FILTER, 20)]
    );
    assert_eq!(r.options[1].data, vec![1, 2, 3, 4, 5]);
    // Options after ANNOUNCE's empty payload.
    let mut d = unhex("028000000000000000000005000000000000000000000000");
    d.extend_from_slice(&[130, 0, 0, 4, 9, 9, 9, 9]);
    let r = parse_response(&d).unwrap();
    assert_eq!(r.options[0].code, 130);
}

#[test]
fn malformed_responses_are_refused() {
    assert_eq!(parse_response(&[]), Err(ParseError::Short(0)));
    assert_eq!(parse_response(&[2, 0x80, 0]), Err(ParseError::Short(3)));
    // A NAT-PMP-only server's "unsupported version" (RFC 6887 9 / RFC 6886 3.5).
    assert_eq!(
        parse_response(&[0, 0x80, 0, 1, 0, 0, 0, 9]),
        Err(ParseError::Version {
            version: 0,
            result_code: 1
        })
    );
    let mut v1 = vec![0u8; 24];
    v1[0] = 1;
    v1[1] = 0x80;
    v1[3] = 4;
    assert_eq!(
        parse_response(&v1),
        Err(ParseError::Version {
            version: 1,
            result_code: 4
        })
    );
    // Our own request (response bit missing).
    let req = announce_request("10.0.0.2".parse().unwrap());
    assert_eq!(parse_response(&req), Err(ParseError::NotAResponse(0)));
    // Short of the header.
    assert_eq!(
        parse_response(&map_success()[..20]),
        Err(ParseError::Truncated { opcode: 1, len: 20 })
    );
    // A MAP success without its payload, or with half of it.
    assert_eq!(
        parse_response(&map_success()[..24]),
        Err(ParseError::Truncated { opcode: 1, len: 24 })
    );
    assert_eq!(
        parse_response(&map_success()[..40]),
        Err(ParseError::Truncated { opcode: 1, len: 40 })
    );
    // Not a multiple of 4.
    let mut d = map_success();
    d.push(0);
    assert_eq!(parse_response(&d), Err(ParseError::Unaligned(61)));
    // Options that overrun, or a lone option header fragment.
    let mut d = map_success();
    d.extend_from_slice(&[1, 0, 0, 16, 0, 0, 0, 0]);
    assert_eq!(
        parse_response(&d),
        Err(ParseError::MalformedOption { at: 60 })
    );
    let mut d = map_success();
    d.extend_from_slice(&[1, 0, 0xff, 0xff]);
    assert_eq!(
        parse_response(&d),
        Err(ParseError::MalformedOption { at: 60 })
    );
    // Oversized.
    let mut d = map_success();
    d.resize(transport::MAX_MESSAGE + 4, 0);
    assert_eq!(
        parse_response(&d),
        Err(ParseError::Oversized(transport::MAX_MESSAGE + 4))
    );
    // Largest allowed size is fine when filled with empty options.
    let mut d = map_success();
    while d.len() < transport::MAX_MESSAGE {
        d.extend_from_slice(&[129, 0, 0, 0]);
    }
    assert_eq!(parse_response(&d).unwrap().options.len(), (1100 - 60) / 4);
}

#[test]
fn result_table() {
    let table = [
        (0, "SUCCESS", UpnpResult::Success),
        (1, "UNSUPP_VERSION", UpnpResult::InvalidGateway),
        (2, "NOT_AUTHORIZED", UpnpResult::NotAuthorized),
        (3, "MALFORMED_REQUEST", UpnpResult::InvalidArgs),
        (4, "UNSUPP_OPCODE", UpnpResult::ActionFailed),
        (5, "UNSUPP_OPTION", UpnpResult::InvalidArgs),
        (6, "MALFORMED_OPTION", UpnpResult::InvalidArgs),
        (7, "NETWORK_FAILURE", UpnpResult::ActionFailed),
        (8, "NO_RESOURCES", UpnpResult::NoPortMapsAvailable),
        (9, "UNSUPP_PROTOCOL", UpnpResult::InvalidProtocol),
        (10, "USER_EX_QUOTA", UpnpResult::NoPortMapsAvailable),
        (
            11,
            "CANNOT_PROVIDE_EXTERNAL",
            UpnpResult::ConflictWithOtherMapping,
        ),
        (12, "ADDRESS_MISMATCH", UpnpResult::InconsistentParameters),
        (
            13,
            "EXCESSIVE_REMOTE_PEERS",
            UpnpResult::NoPortMapsAvailable,
        ),
        (14, "UNKNOWN", UpnpResult::UnknownError),
        (255, "UNKNOWN", UpnpResult::UnknownError),
    ];
    for (code, name, upnp) in table {
        assert_eq!(result_meaning(code), name, "{code}");
        assert_eq!(result_to_upnp(code), upnp, "{code}");
    }
    // Every code survives parsing untouched.
    for code in 0..=255u8 {
        let mut d = map_success();
        d[3] = code;
        assert_eq!(parse_response(&d).unwrap().result_code, code);
    }
}

#[test]
fn the_client_checks_nonce_protocol_and_port() {
    let key = MapKey {
        nonce: unhex("e440615a007f3e35accaaec0").try_into().unwrap(),
        protocol: PROTO_UDP,
        internal_port: 40001,
    };
    assert!(accept(&map_success(), OP_MAP, Some(&key)).is_ok());
    let other_nonce = MapKey {
        nonce: [0; 12],
        ..key
    };
    assert!(accept(&map_success(), OP_MAP, Some(&other_nonce)).is_err());
    let other_port = MapKey {
        internal_port: 1,
        nonce: other_nonce.nonce,
        protocol: PROTO_UDP,
    };
    assert!(accept(&map_success(), OP_MAP, Some(&other_port)).is_err());
    assert!(accept(&map_success(), OP_ANNOUNCE, None).is_err());
    // A NAT-PMP-only server.
    assert!(matches!(
        accept(&[0, 0x80, 0, 1, 0, 0, 0, 9], OP_ANNOUNCE, None),
        Ok(Accepted::OtherVersion {
            version: 0,
            result_code: 1
        })
    ));
    // ... also when it forgot the response bit (RFC 6886 erratum 3618).
    assert!(matches!(
        accept(&[0, 0x00, 0, 1, 0, 0, 0, 9], OP_ANNOUNCE, None),
        Ok(Accepted::OtherVersion { version: 0, .. })
    ));
    // A version-0 datagram that is neither is junk (a NAT-PMP request, say).
    assert!(accept(&[0, 0x00], OP_ANNOUNCE, None).is_err());
    assert!(accept(&[0, 0x01, 0, 0, 0, 0, 0, 9], OP_ANNOUNCE, None).is_err());
}

#[test]
fn nonce_hex_round_trips() {
    assert_eq!(nonce_to_hex(&NONCE), "e440615a007f3e35accaaec0");
    assert_eq!(nonce_from_hex("e440615a007f3e35accaaec0"), Some(NONCE));
    assert_eq!(nonce_from_hex("E440615A007F3E35ACCAAEC0"), Some(NONCE));
    for bad in [
        "",
        "e440",
        "e440615a007f3e35accaaec0ff",
        "zz40615a007f3e35accaaec0",
        "é40615a007f3e35accaaec0",
    ] {
        assert_eq!(nonce_from_hex(bad), None, "{bad}");
    }
    let a = new_nonce().unwrap();
    let b = new_nonce().unwrap();
    assert_ne!(a, b);
}

#[test]
fn never_panics_on_random_input() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut with_option = map_success();
    with_option.extend_from_slice(&[1, 0, 0, 4, 1, 2, 3, 4]);
    let seeds = [
        map_success(),
        with_option,
        unhex("028000000000000000000005000000000000000000000000"),
    ];
    let key = MapKey {
        nonce: NONCE,
        protocol: PROTO_UDP,
        internal_port: 40001,
    };
    for i in 0..200_000 {
        let d: Vec<u8> = if i % 2 == 0 {
            let len = (next() % 80) as usize + if i % 1000 == 0 { 1100 } else { 0 };
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if i % 4 == 0 && !d.is_empty() {
                d[0] = VERSION;
                if d.len() > 1 {
                    d[1] |= RESPONSE_BIT;
                }
            }
            d
        } else {
            let mut d = seeds[i % 3].clone();
            let pos = next() as usize % d.len();
            d[pos] ^= 1 << (next() % 8);
            if next() % 2 == 0 {
                d.truncate(next() as usize % (d.len() + 1));
            }
            d
        };
        let _ = parse_response(&d);
        let _ = accept(&d, OP_MAP, Some(&key));
    }
}

/// A loopback PCP server that answers MAP like miniupnpd and records what it got.
async fn fake(ip: &str, epoch: u32) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
    let server = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
    let addr = server.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(Ok((len, from))) = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            server.recv_from(&mut buf),
        )
        .await
        {
            let req = buf[..len].to_vec();
            got.push(req.clone());
            let mut reply = vec![0u8; 24];
            reply[0] = 2;
            reply[1] = req[1] | RESPONSE_BIT;
            reply[4..8].copy_from_slice(&req[4..8]);
            reply[8..12].copy_from_slice(&epoch.to_be_bytes());
            if req[1] == OP_MAP {
                reply.extend_from_slice(&req[24..60]);
                // Assigned external port = internal, address 11.22.33.44.
                let internal = [req[40], req[41]];
                reply[42..44].copy_from_slice(&internal);
                reply[44..60].copy_from_slice(&address_field("11.22.33.44".parse().unwrap()));
            }
            server.send_to(&reply, from).await.unwrap();
        }
        got
    });
    (addr, task)
}

#[tokio::test]
async fn map_then_delete_with_the_same_nonce() {
    let (addr, server) = fake("127.0.2.1", 1000).await;
    let timing = Timing::with_budget(std::time::Duration::from_secs(1));
    let params = MapParams {
        protocol: PROTO_UDP,
        internal_port: 7777,
        suggested_external_port: 7777,
        suggested_external_address: None,
        lifetime: 3600,
        nonce: new_nonce().unwrap(),
        prefer_failure: false,
        // Sent from a chosen address (what an IPv6 pinhole needs), not the system's pick.
        local: Some("127.0.0.7".parse().unwrap()),
    };
    let nonce = params.nonce;
    let reply = map(addr, &params, &timing).await.unwrap();
    assert_eq!(reply.local.ip(), "127.0.0.7".parse::<IpAddr>().unwrap());
    assert_eq!(reply.attempts, 1);
    assert_eq!(reply.response.lifetime, 3600);
    let m = reply.response.map.unwrap();
    assert_eq!(m.nonce, nonce);
    assert_eq!(m.external_port, 7777);
    assert_eq!(m.external_address, "11.22.33.44".parse::<IpAddr>().unwrap());
    assert_eq!(reply.epoch.unwrap().epoch, 1000);
    let reply = delete(addr, params.local, PROTO_UDP, 7777, nonce, &timing)
        .await
        .unwrap();
    assert_eq!(reply.attempts, 1);
    let got = server.await.unwrap();
    assert_eq!(got.len(), 2, "one MAP, one delete");
    // The request carried our address and the IPv4 "no preference" external address.
    let req = &got[0];
    assert_eq!(&req[8..24], &address_field(reply.local.ip()));
    assert_eq!(&req[24..36], &nonce);
    assert_eq!(
        &req[44..60],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
    );
    // The delete: lifetime 0, same nonce, same port and protocol.
    let del = &got[1];
    assert_eq!(&del[4..8], &[0, 0, 0, 0]);
    assert_eq!(&del[24..36], &nonce);
    assert_eq!((del[36], &del[40..42]), (PROTO_UDP, &[0x1e, 0x61][..]));
}

#[tokio::test]
async fn announce_over_ipv6_loopback() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        return; // no IPv6 on this machine
    };
    drop(probe);
    let (addr, _server) = fake("::1", 5).await;
    let timing = Timing::with_budget(std::time::Duration::from_millis(500));
    let reply = announce(addr, &timing).await.unwrap();
    assert_eq!(reply.response.opcode, OP_ANNOUNCE);
    assert_eq!(reply.epoch.unwrap().epoch, 5);
    assert_eq!(reply.local.ip(), "::1".parse::<IpAddr>().unwrap());
}
