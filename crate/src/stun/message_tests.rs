use super::*;

/// RFC 5769 2.2: the sample IPv4 response (SOFTWARE, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY,
/// FINGERPRINT).
const RFC5769_IPV4: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 2.3: the sample IPv6 response.
const RFC5769_IPV6: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

const ID: TransactionId = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/// A response built attribute by attribute, FINGERPRINT optional (for hostile variants).
fn response(kind: u16, attributes: &[(u16, Vec<u8>)], fingerprint: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(&ID);
    for (t, v) in attributes {
        push_attribute(&mut out, *t, v);
    }
    if fingerprint {
        add_fingerprint(&mut out);
    }
    out
}

fn plain_v4(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = vec![0, 1];
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&ip);
    v
}

fn xor_v4(ip: [u8; 4], port: u16) -> Vec<u8> {
    let c = MAGIC_COOKIE.to_be_bytes();
    let mut v = vec![0, 1];
    v.extend_from_slice(&(port ^ 0x2112).to_be_bytes());
    v.extend(ip.iter().zip(c).map(|(b, k)| b ^ k));
    v
}

#[test]
fn rfc5769_sample_responses_parse_with_their_fingerprints() {
    let r = parse_response(&RFC5769_IPV4).unwrap();
    assert!(r.success && r.fingerprint);
    assert_eq!(r.mapped, Some("192.0.2.1:32853".parse().unwrap()));
    assert_eq!(r.transaction, RFC5769_IPV4[8..20]);
    let r = parse_response(&RFC5769_IPV6).unwrap();
    assert!(r.success && r.fingerprint);
    assert_eq!(
        r.mapped,
        Some(
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        )
    );
}

#[test]
fn a_request_carries_change_request_response_port_and_a_right_fingerprint() {
    let plain = BindingRequest::default().encode(&ID);
    assert_eq!(plain.len(), 28, "header + FINGERPRINT");
    assert_eq!(&plain[..4], &[0x00, 0x01, 0x00, 0x08]);
    let full = BindingRequest {
        change_ip: true,
        change_port: true,
        response_port: Some(40000),
    }
    .encode(&ID);
    assert_eq!(full.len(), 20 + 8 + 8 + 8);
    assert_eq!(&full[20..28], &[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x06]);
    assert_eq!(&full[28..36], &[0x00, 0x27, 0x00, 0x04, 0x9c, 0x40, 0, 0]);
    // Our own FINGERPRINT is checked by our parser (a request is refused only for its type).
    let mut as_response = full.clone();
    as_response[..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
    // The type is covered by the CRC: recompute after the change.
    as_response.truncate(as_response.len() - 8);
    add_fingerprint(&mut as_response);
    assert!(parse_response(&as_response).unwrap().fingerprint);
    assert_eq!(
        parse_response(&full),
        Err(ParseError::NotBindingResponse(BINDING_REQUEST))
    );
    let port_only = BindingRequest {
        change_port: true,
        ..Default::default()
    }
    .encode(&ID);
    assert_eq!(&port_only[20..28], &[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x02]);
}

#[test]
fn rfc5780_attributes_and_errors_are_read() {
    let d = response(
        BINDING_SUCCESS,
        &[
            (ATTR_XOR_MAPPED_ADDRESS, xor_v4([11, 22, 33, 44], 40000)),
            (ATTR_MAPPED_ADDRESS, plain_v4([9, 9, 9, 9], 1)),
            (ATTR_RESPONSE_ORIGIN, plain_v4([11, 22, 33, 2], 3479)),
            (ATTR_OTHER_ADDRESS, plain_v4([11, 22, 33, 2], 3479)),
            (ATTR_SOFTWARE, b"Coturn-4.6.1".to_vec()),
        ],
        true,
    );
    let r = parse_response(&d).unwrap();
    // XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS, whatever the order.
    assert_eq!(r.mapped, Some("11.22.33.44:40000".parse().unwrap()));
    assert_eq!(r.response_origin, Some("11.22.33.2:3479".parse().unwrap()));
    assert_eq!(r.other_address, r.response_origin);

    let mut reason = vec![0, 0, 4, 20];
    reason.extend_from_slice(b"Bad \x1b[31m Request");
    let e = parse_response(&response(
        BINDING_ERROR,
        &[(ATTR_ERROR_CODE, reason)],
        false,
    ))
    .unwrap();
    assert!(!e.success && !e.fingerprint);
    assert_eq!(e.error.as_ref().map(|e| e.code), Some(420));
    // RFC 3489 servers: CHANGED-ADDRESS stands for OTHER-ADDRESS, MAPPED-ADDRESS alone.
    let old = response(
        BINDING_SUCCESS,
        &[
            (ATTR_MAPPED_ADDRESS, plain_v4([1, 2, 3, 4], 5)),
            (ATTR_CHANGED_ADDRESS, plain_v4([1, 2, 3, 5], 6)),
        ],
        false,
    );
    let r = parse_response(&old).unwrap();
    assert_eq!(
        (r.mapped, r.other_address),
        (
            Some("1.2.3.4:5".parse().unwrap()),
            Some("1.2.3.5:6".parse().unwrap())
        )
    );
}

#[test]
fn hostile_datagrams_are_refused_not_trusted() {
    let good = response(
        BINDING_SUCCESS,
        &[(ATTR_XOR_MAPPED_ADDRESS, xor_v4([11, 22, 33, 44], 1))],
        true,
    );
    assert!(parse_response(&good).is_ok());
    // Cut anywhere: refused.
    for n in 0..good.len() {
        assert!(parse_response(&good[..n]).is_err(), "cut at {n}");
    }
    // One flipped bit anywhere is caught: by the header checks or by FINGERPRINT (a flip in
    // FINGERPRINT's own type makes it an unknown optional attribute: then no FINGERPRINT).
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        assert!(
            parse_response(&bad).map_or(true, |r| !r.fingerprint),
            "bit flipped at byte {i}"
        );
    }
    let mut not_stun = good.clone();
    not_stun[4] = 0;
    assert_eq!(parse_response(&not_stun), Err(ParseError::NotStun));
    assert_eq!(parse_response(&[0u8; 2000]), Err(ParseError::TooLong(2000)));
    // An attribute whose length runs past the end.
    let mut long = response(BINDING_SUCCESS, &[(ATTR_SOFTWARE, vec![0; 8])], false);
    long[22..24].copy_from_slice(&400u16.to_be_bytes());
    assert_eq!(parse_response(&long), Err(ParseError::Truncated { at: 20 }));
    // Unknown comprehension-required attribute: unusable; unknown optional: skipped.
    let required = response(BINDING_SUCCESS, &[(0x7777, vec![1, 2, 3])], false);
    assert_eq!(
        parse_response(&required),
        Err(ParseError::UnknownRequired(0x7777))
    );
    assert!(parse_response(&response(BINDING_SUCCESS, &[(0xC001, vec![1])], false)).is_ok());
    // An attribute after FINGERPRINT.
    let mut after = good.clone();
    after.extend_from_slice(&[0x80, 0x22, 0, 0]);
    set_length(&mut after);
    assert_eq!(parse_response(&after), Err(ParseError::BadFingerprint));
    // Address families and lengths that do not fit.
    let bad_family = response(
        BINDING_SUCCESS,
        &[(ATTR_XOR_MAPPED_ADDRESS, vec![0, 3, 0, 1, 1, 2, 3, 4])],
        false,
    );
    assert!(matches!(
        parse_response(&bad_family),
        Err(ParseError::BadAttribute { .. })
    ));
    let short_v6 = response(
        BINDING_SUCCESS,
        &[(ATTR_OTHER_ADDRESS, vec![0, 2, 0, 1, 1, 2, 3, 4])],
        false,
    );
    assert!(matches!(
        parse_response(&short_v6),
        Err(ParseError::BadAttribute { .. })
    ));
    // Too many attributes.
    let many: Vec<_> = (0..MAX_STUN_ATTRIBUTES + 1)
        .map(|_| (ATTR_SOFTWARE, vec![b'x']))
        .collect();
    assert_eq!(
        parse_response(&response(BINDING_SUCCESS, &many, false)),
        Err(ParseError::TooManyAttributes)
    );
    // An error code out of range.
    let e = response(BINDING_ERROR, &[(ATTR_ERROR_CODE, vec![0, 0, 7, 0])], false);
    assert!(matches!(
        parse_response(&e),
        Err(ParseError::BadAttribute { .. })
    ));
}

#[test]
fn an_error_reason_is_capped() {
    let mut reason = vec![0, 0, 5, 0];
    reason.extend(std::iter::repeat_n(b'a', 1000));
    let d = response(BINDING_ERROR, &[(ATTR_ERROR_CODE, reason)], false);
    let e = parse_response(&d).unwrap().error.unwrap();
    assert_eq!(e.code, 500);
    assert!(e.reason.chars().count() <= limits::MAX_ERROR_CHARS + 1);
}

/// coturn 4.6.1's real answers, captured in the lab (crate/fuzz/seeds/README.md).
const COTURN_BINDING_IPV4: &[u8] = include_bytes!("../../fuzz/seeds/stun/coturn-binding-ipv4");
const COTURN_BINDING_IPV6: &[u8] = include_bytes!("../../fuzz/seeds/stun/coturn-binding-ipv6");
const COTURN_CHANGE: &[u8] = include_bytes!("../../fuzz/seeds/stun/coturn-change-ip-port");
const COTURN_ERROR_420: &[u8] = include_bytes!("../../fuzz/seeds/stun/coturn-error-420");

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn coturn_answers_parse_as_coturn_meant_them() {
    // Asked from the lab's client through the router's NAT: the router's public address.
    let r = parse_response(COTURN_BINDING_IPV4).unwrap();
    assert!(r.success && r.fingerprint);
    assert_eq!(r.mapped.unwrap().ip(), addr("11.22.33.44:1").ip());
    assert_eq!(r.response_origin, Some(addr("11.22.33.1:3478")));
    assert_eq!(r.other_address, Some(addr("11.22.33.2:3479")));
    // CHANGE-REQUEST (address and port): answered from the other address and port.
    let r = parse_response(COTURN_CHANGE).unwrap();
    assert_eq!(r.response_origin, Some(addr("11.22.33.2:3479")));
    assert_eq!(r.mapped.unwrap().ip(), addr("11.22.33.1:1").ip());
    // IPv6: XOR-MAPPED-ADDRESS keyed with the transaction id.
    let r = parse_response(COTURN_BINDING_IPV6).unwrap();
    assert!(r.success && r.fingerprint);
    assert_eq!(r.mapped.unwrap().ip(), addr("[2001:db8:99::b]:1").ip());
    assert_eq!(r.response_origin, Some(addr("[2001:db8:99::a]:3478")));
    assert_eq!(r.other_address, Some(addr("[2001:db8:99::b]:3479")));
    // An unknown comprehension-required attribute in our request: 420 with the reason.
    let r = parse_response(COTURN_ERROR_420).unwrap();
    assert!(!r.success);
    assert_eq!(r.error.map(|e| e.code), Some(420));
}

#[test]
fn coturn_answers_cut_or_corrupted_are_refused() {
    for d in [
        COTURN_BINDING_IPV4,
        COTURN_BINDING_IPV6,
        COTURN_CHANGE,
        COTURN_ERROR_420,
    ] {
        for n in 0..d.len() {
            assert!(parse_response(&d[..n]).is_err());
        }
        for i in 0..d.len() {
            let mut bad = d.to_vec();
            bad[i] ^= 0x01;
            assert!(
                parse_response(&bad).map_or(true, |r| !r.fingerprint),
                "byte {i}"
            );
        }
    }
}
