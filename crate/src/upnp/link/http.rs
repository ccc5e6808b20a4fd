//! The HTTP/1.1 client for descriptions and SOAP: one short-lived connection per request
//! (as miniupnpc does; routers close after each reply anyway), hard deadlines and size caps.
//!
//! We open and drive the connection ourselves instead of using a pooled client because we
//! need the local address of the very socket that reached the router (Godot's
//! `igd_our_addr`, and the default `NewInternalClient`), and because IPv6 link-local routers
//! need a zone that URLs cannot carry through a pooled client. The exchange itself is written
//! here too (the head by hand, the reply read by `http_reply.rs` with httparse): one request
//! and one reply per connection is all the routers get, and hyper's general machinery for it
//! cost more instructions than the rest of a SOAP call together (BENCHMARKS.md, issue 29).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::limits::MAX_URL_BYTES;
use crate::trace;
use crate::upnp::link::http_reply::{Reply, ReplyError, ReplyReader};
use crate::upnp::link::http_trace;
use crate::upnp::link::{Ends, Limits, Link, LinkError, Ticket};

/// Sent with every request; routers sometimes log it.
pub const USER_AGENT_VALUE: &str = concat!("upnp-native/", env!("CARGO_PKG_VERSION"), " UPnP/1.1");

/// Where one request goes: a socket address (with the zone for link-local IPv6), the
/// `Host` header and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `Host` of SOAP requests: the port only when it is not 80.
    pub host_header: String,
    /// `Host` of GET requests: always with the port (miniupnpc's miniwget writes it so).
    pub host_and_port: String,
    pub path_and_query: String,
}

impl Endpoint {
    /// Parses an absolute `http://` URL whose host is an IP literal. A link-local IPv6 host may
    /// carry its zone the RFC 6874 way (`http://[fe80::1%25eth0]:5000/desc.xml`).
    /// Host names are refused on purpose: UPnP devices announce literal addresses, and a
    /// name would mean a DNS lookup the router never asked for.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_BYTES {
            return Err(format!("URL longer than {MAX_URL_BYTES} bytes"));
        }
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .ok_or_else(|| format!("not an http:// URL: {url:?}"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if authority.contains('@') {
            return Err(format!("credentials are not supported in {url:?}"));
        }
        let (ip, port_text, host_for_header) = if let Some(inner) = authority.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| format!("unclosed IPv6 literal in {url:?}"))?;
            let literal = &inner[..close];
            let after = &inner[close + 1..];
            let (addr_text, zone) = match literal.find("%25").or_else(|| literal.find('%')) {
                Some(i) => {
                    let zone_start = if literal[i..].starts_with("%25") {
                        i + 3
                    } else {
                        i + 1
                    };
                    (&literal[..i], Some(&literal[zone_start..]))
                }
                None => (literal, None),
            };
            let v6: Ipv6Addr = addr_text
                .parse()
                .map_err(|_| format!("bad IPv6 address in {url:?}"))?;
            let scope = match zone {
                Some(z) => {
                    zone_index(z).ok_or_else(|| format!("unknown IPv6 zone {z:?} in {url:?}"))?
                }
                None => 0,
            };
            let port_text =
                after
                    .strip_prefix(':')
                    .unwrap_or(if after.is_empty() { "" } else { after });
            if !after.is_empty() && !after.starts_with(':') {
                return Err(format!("unexpected text after IPv6 literal in {url:?}"));
            }
            (IpAddr::V6(v6), (port_text, scope), format!("[{addr_text}]"))
        } else {
            let (host, port_text) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, p),
                None => (authority, ""),
            };
            let v4: IpAddr = host
                .parse()
                .map_err(|_| format!("host must be an IP address in {url:?}"))?;
            (v4, (port_text, 0), host.to_string())
        };
        let (port_text, scope) = port_text;
        let port: u16 = if port_text.is_empty() {
            80
        } else {
            port_text
                .parse()
                .map_err(|_| format!("bad port in {url:?}"))?
        };
        if port == 0 {
            return Err(format!("port 0 in {url:?}"));
        }
        let addr = match ip {
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)),
            IpAddr::V4(_) => SocketAddr::new(ip, port),
        };
        let host_and_port = format!("{host_for_header}:{port}");
        let host_header = if port == 80 {
            host_for_header
        } else {
            host_and_port.clone()
        };
        Ok(Self {
            addr,
            host_header,
            host_and_port,
            path_and_query: path,
        })
    }
}

/// Interface zone -> scope id: a number, or an interface name.
fn zone_index(zone: &str) -> Option<u32> {
    if let Ok(n) = zone.parse::<u32>() {
        return Some(n);
    }
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find(|i| i.name == zone)
        .and_then(|i| i.index)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The local end of the connection that reached the device.
    pub local_addr: SocketAddr,
}

#[derive(Debug, PartialEq, Eq)]
pub enum HttpError {
    Connect(String),
    Timeout,
    TooLarge(usize),
    Protocol(String),
    /// The device closed or reset the connection before any reply (a spare it had dropped).
    Closed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "could not connect: {e}"),
            HttpError::Timeout => write!(f, "no complete reply before the deadline"),
            HttpError::TooLarge(max) => write!(f, "reply larger than {max} bytes"),
            HttpError::Protocol(e) => write!(f, "HTTP error: {e}"),
            HttpError::Closed(e) => write!(f, "connection closed before a reply: {e}"),
        }
    }
}

/// A connected socket, kept so that a caller can read its local address before it decides
/// what to send (the SOAP client needs it for `NewInternalClient`).
pub struct Connection {
    stream: TcpStream,
    pub local_addr: SocketAddr,
    /// A spare opened earlier: the device may have closed it since.
    reused: bool,
    deadline: Instant,
    link: Arc<Link>,
    /// Held until the exchange ends: one of the device's connection slots.
    _ticket: Ticket,
}

/// A connection to `endpoint`'s device: a spare when one is open, else a new one as soon as
/// the device is below its connection limit (see `link.rs`).
pub async fn connect(endpoint: &Endpoint, limits: &Limits) -> Result<Connection, HttpError> {
    open(endpoint, limits, true).await
}

async fn open(endpoint: &Endpoint, limits: &Limits, spare: bool) -> Result<Connection, HttpError> {
    let started = trace::on().then(Instant::now);
    let link = Link::of(endpoint.addr.ip());
    let ends = Ends {
        remote: endpoint.addr,
        local: limits.source,
    };
    let leased = link.connection(ends, limits, spare).await.map_err(|e| {
        let e = match e {
            LinkError::Timeout => HttpError::Timeout,
            LinkError::Connect(e) => HttpError::Connect(e),
        };
        trace::emit(|| http_trace::connection(endpoint, started, &format!("not opened: {e}")));
        e
    })?;
    let local_addr = leased.local;
    trace::emit(|| {
        let how = if leased.reused {
            "reused a spare"
        } else {
            "opened"
        };
        http_trace::connection(endpoint, started, how).local(local_addr)
    });
    Ok(Connection {
        stream: leased.stream,
        local_addr,
        reused: leased.reused,
        deadline: limits.deadline,
        link,
        _ticket: leased.ticket,
    })
}

/// Sends one request on `conn` and reads the whole reply within `limits`. On a spare that the
/// device had closed meanwhile, the request goes again on a new connection.
pub async fn exchange(
    conn: Connection,
    endpoint: &Endpoint,
    method: &str,
    headers: &[(&str, &[&str])],
    body: &[u8],
    limits: &Limits,
) -> Result<Response, HttpError> {
    let reused = conn.reused;
    let request = request_bytes(method, endpoint, headers, body)
        .inspect_err(|e| trace::emit(|| http_trace::unsent(endpoint, e)))?;
    match exchange_once(conn, endpoint, method, &request, limits).await {
        Err(HttpError::Closed(_)) if reused => {
            let fresh = open(endpoint, limits, false).await?;
            exchange_once(fresh, endpoint, method, &request, limits).await
        }
        other => other,
    }
}

async fn exchange_once(
    conn: Connection,
    endpoint: &Endpoint,
    method: &str,
    request: &[u8],
    limits: &Limits,
) -> Result<Response, HttpError> {
    let Connection {
        stream,
        local_addr,
        reused,
        deadline,
        link,
        _ticket,
    } = conn;
    let exchange = trace::on().then(trace::next_exchange);
    trace::emit(|| http_trace::request(endpoint, local_addr, method, exchange, request));
    let written = Instant::now();
    let outcome = timeout_at(deadline, talk(&stream, request, limits.max_body))
        .await
        .map_err(|_| HttpError::Timeout)
        .and_then(|r| r);
    let took = written.elapsed();
    let seen = match &outcome {
        Ok(_) => Seen::Answer,
        // A fresh connection reset before any reply: the device is shedding load.
        Err(HttpError::Closed(_)) if !reused => Seen::Reset,
        Err(_) => Seen::Nothing,
    };
    // The close (a reset, see `link.rs`: 20-30 µs of the kernel's work on both ends) waits
    // until this task has handed its result on: a task spawned here runs next on this thread.
    tokio::spawn(async move {
        // Closed before the device's slot is given back.
        drop(stream);
        drop(_ticket);
        match seen {
            Seen::Answer => link.answered(took, written + took),
            Seen::Reset => link.reset_seen(),
            Seen::Nothing => {}
        }
    });
    trace::emit(|| http_trace::response(endpoint, exchange, took, &outcome));
    let reply = outcome?;
    Ok(Response {
        status: reply.status,
        body: reply.body,
        local_addr,
    })
}

/// What an exchange told the link about the device.
enum Seen {
    Answer,
    Reset,
    Nothing,
}

/// Writes `request` and reads the reply. The socket is used directly: a request is one write,
/// and a reply one or two reads, where a general client's machinery (a connection task, a
/// request channel, header maps) cost more than the exchange itself.
async fn talk(stream: &TcpStream, request: &[u8], max_body: usize) -> Result<Reply, HttpError> {
    let mut sent = 0;
    while sent < request.len() {
        match stream.try_write(&request[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                stream.writable().await.map_err(|e| io_failure(e, false))?
            }
            Err(e) => return Err(io_failure(e, false)),
        }
    }
    let mut reader = ReplyReader::new(max_body);
    if trace::on() {
        reader.keep_head();
    }
    loop {
        match stream.try_read_buf(reader.buffer()) {
            Ok(n) => match reader.received(n) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(ReplyError::Incomplete(e)) => return Err(HttpError::Closed(e)),
                Err(ReplyError::TooLarge) => return Err(HttpError::TooLarge(max_body)),
                Err(ReplyError::Invalid(e)) => return Err(HttpError::Protocol(e)),
            },
            Err(e) if e.kind() == ErrorKind::WouldBlock => stream
                .readable()
                .await
                .map_err(|e| io_failure(e, reader.has_head()))?,
            Err(e) => return Err(io_failure(e, reader.has_head())),
        }
    }
}

/// A socket error: before the reply's head, a reset or broken connection means the device
/// closed it before answering (a spare it had dropped: retried on a fresh one).
fn io_failure(e: std::io::Error, has_head: bool) -> HttpError {
    let closed = matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    );
    if closed && !has_head {
        HttpError::Closed(e.to_string())
    } else {
        HttpError::Protocol(e.to_string())
    }
}

/// The request: its head in the order, with the values and the spelling miniupnpc writes
/// (miniwget.c for GET, minisoap.c for POST), then the body. The spelling matters: some
/// routers match header names case-sensitively (a Linksys WRT120N routes a POST to its UPnP
/// handler only for `SOAPAction`/`SOAPACTION` and answers HTTP 501 otherwise,
/// syncthing/syncthing#1696), and every router in the field has met miniupnpc's head.
/// `extra` (Content-Type, SOAPAction) goes after Content-Length, each value written from its
/// parts.
fn request_bytes(
    method: &str,
    endpoint: &Endpoint,
    extra: &[(&str, &[&str])],
    body: &[u8],
) -> Result<Vec<u8>, HttpError> {
    let target = request_target(&endpoint.path_and_query)?;
    // Room for the whole request at once: the fixed text is under 192 bytes.
    let extra_len: usize = extra
        .iter()
        .map(|(name, parts)| name.len() + 4 + parts.iter().map(|p| p.len()).sum::<usize>())
        .sum();
    let room = 192 + target.len() + endpoint.host_and_port.len() + extra_len + body.len();
    let mut out = Vec::with_capacity(room);
    // One header line from the parts of its name and of its value.
    let mut line = |name: &[&str], value: &[&str]| {
        for part in name.iter().chain(value) {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    };
    if method == "GET" {
        line(&["GET ", target, " HTTP/1.1"], &[]);
        line(&["Host: "], &[header_value(&endpoint.host_and_port)?]);
        line(&["Connection: Close"], &[]);
        line(&["User-Agent: ", USER_AGENT_VALUE], &[]);
    } else {
        line(&["POST ", target, " HTTP/1.1"], &[]);
        line(&["Host: "], &[header_value(&endpoint.host_header)?]);
        line(&["User-Agent: ", USER_AGENT_VALUE], &[]);
        let mut digits = [0u8; 20];
        line(&["Content-Length: "], &[decimal(body.len(), &mut digits)]);
        for (name, parts) in extra {
            for part in *parts {
                header_value(part)?;
            }
            line(&[name, ": "], parts);
        }
        line(&["Connection: Close"], &[]);
        line(&["Cache-Control: no-cache"], &[]);
        line(&["Pragma: no-cache"], &[]);
    }
    line(&[], &[]);
    out.extend_from_slice(body);
    Ok(out)
}

/// `n` in decimal, written into `digits`.
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&digits[at..]).unwrap_or("0")
}

/// A header value that cannot break the head: no control character but tab (the rule of the
/// `http` crate's `HeaderValue`, which hyper's requests were built from).
fn header_value(value: &str) -> Result<&str, HttpError> {
    if value.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t') {
        Ok(value)
    } else {
        Err(HttpError::Protocol(
            "failed to parse header value".to_string(),
        ))
    }
}

/// The request target of a path (and query) from a device's URL, checked the way the `http`
/// crate's `Uri` checked it when hyper wrote the request: bytes a path (or query) may carry
/// as they are, or any non-ASCII character; a fragment (`#...`) is not sent.
fn request_target(path: &str) -> Result<&str, HttpError> {
    let invalid = || HttpError::Protocol("invalid uri character".to_string());
    if !path.starts_with(['/', '?', '#']) {
        return Err(invalid());
    }
    let mut in_query = false;
    for (i, b) in path.bytes().enumerate() {
        let fits = match b {
            b'#' => return Ok(&path[..i]),
            b'?' if !in_query => {
                in_query = true;
                true
            }
            0x80..=0xFF => true,
            _ if in_query => matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E),
            _ => matches!(
                b,
                0x21 | 0x22 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7B..=0x7E
            ),
        };
        if !fits {
            return Err(invalid());
        }
    }
    Ok(path)
}

/// GET `url`, for device descriptions.
pub async fn get(endpoint: &Endpoint, limits: &Limits) -> Result<Response, HttpError> {
    let conn = connect(endpoint, limits).await?;
    exchange(conn, endpoint, "GET", &[], &[], limits).await
}

/// Header for SOAP requests (UPnP Device Architecture 1.1, 3.2.1).
pub const SOAP_CONTENT_TYPE: (&str, &[&str]) = ("Content-Type", &["text/xml; charset=\"utf-8\""]);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Reads one request head from a loopback listener while `send` runs, answers 200.
    async fn head_on_the_wire<F>(send: impl FnOnce(String) -> F) -> String
    where
        F: std::future::Future<Output = ()>,
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serve = async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed before the head ended");
                got.extend_from_slice(&buf[..n]);
            }
            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            s.write_all(reply).await.unwrap();
            let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            String::from_utf8(got[..end + 4].to_vec()).unwrap()
        };
        let (head, ()) = tokio::join!(serve, send(format!("127.0.0.1:{port}")));
        head.replace(&port.to_string(), "PORT")
    }

    /// The head miniupnpc 2.2.4 writes (recorded from Debian's upnpc against the zoo's
    /// replays), with only the values that are ours: User-Agent, Content-Type (UDA 1.1's
    /// charset) and the body's length.
    #[tokio::test]
    async fn request_heads_are_miniupnpcs_byte_for_byte() {
        let limits = || Limits::within(Duration::from_secs(2), 1024);
        let head = head_on_the_wire(|host| async move {
            let e = Endpoint::parse(&format!("http://{host}/rootDesc.xml")).unwrap();
            assert_eq!(get(&e, &limits()).await.unwrap().body, b"ok");
        })
        .await;
        assert_eq!(
            head,
            format!("GET /rootDesc.xml HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: Close\r\nUser-Agent: {USER_AGENT_VALUE}\r\n\r\n")
        );
        let head = head_on_the_wire(|host| async move {
            let e = Endpoint::parse(&format!("http://{host}/ctl/IPConn")).unwrap();
            let conn = connect(&e, &limits()).await.unwrap();
            let headers = [
                SOAP_CONTENT_TYPE,
                ("SOAPAction", &["\"urn:x#GetStatusInfo\""][..]),
            ];
            exchange(conn, &e, "POST", &headers, b"<x/>", &limits())
                .await
                .unwrap();
        })
        .await;
        assert_eq!(
            head,
            format!(
                "POST /ctl/IPConn HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nUser-Agent: {USER_AGENT_VALUE}\r\n\
                 Content-Length: 4\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n\
                 SOAPAction: \"urn:x#GetStatusInfo\"\r\nConnection: Close\r\n\
                 Cache-Control: no-cache\r\nPragma: no-cache\r\n\r\n"
            )
        );
    }

    /// A traced call records the connection, the request exactly as written and the reply
    /// (status, head as the device wrote it, body), paired by their exchange number.
    #[tokio::test]
    async fn a_traced_exchange_records_what_went_over_the_wire() {
        use crate::trace::{Event, Kind, Sink};
        #[derive(Default)]
        struct Collect(std::sync::Mutex<Vec<Event>>);
        impl Sink for Collect {
            fn record(&self, _call: u32, event: Event) {
                self.0.lock().unwrap().push(event);
            }
        }
        let sink = Arc::new(Collect::default());
        let call = trace::open_call(sink.clone());
        let wire = head_on_the_wire(|host| {
            trace::scoped(Some(call), async move {
                let e = Endpoint::parse(&format!("http://{host}/ctl/IPConn")).unwrap();
                let limits = Limits::within(Duration::from_secs(2), 1024);
                let conn = connect(&e, &limits).await.unwrap();
                let headers = [SOAP_CONTENT_TYPE, ("SOAPAction", &["\"urn:x#A\""][..])];
                exchange(conn, &e, "POST", &headers, b"<x/>", &limits)
                    .await
                    .unwrap();
            })
        })
        .await;
        trace::close_call(call);
        let events = sink.0.lock().unwrap();
        let kinds: Vec<Kind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [Kind::HttpConnection, Kind::HttpRequest, Kind::HttpResponse]
        );
        let (request, reply) = (&events[1], &events[2]);
        let port = request.peer.unwrap().port().to_string();
        let head = request.head.as_deref().unwrap().replace(&port, "PORT");
        assert_eq!(format!("{head}\r\n"), wire);
        assert_eq!(request.body.as_deref(), Some(&b"<x/>"[..]));
        assert_eq!(request.action.as_deref(), Some("POST"));
        assert_eq!(request.url.as_deref(), Some("/ctl/IPConn"));
        assert!(request.exchange.is_some());
        assert_eq!(reply.exchange, request.exchange);
        assert_eq!(reply.status, Some(200));
        assert_eq!(
            reply.head.as_deref(),
            Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n")
        );
        assert_eq!(reply.body.as_deref(), Some(&b"ok"[..]));
    }

    /// The request target is checked and cut exactly as the `http` crate's `Uri` did when
    /// hyper wrote the request: every byte, in the path and in the query.
    #[test]
    fn request_targets_are_checked_as_the_http_crate_checks_them() {
        let mut cases = vec![
            "/".to_string(),
            "/ctl/IPConn".into(),
            "/a#frag".into(),
            "/é?q=ü#x".into(),
        ];
        for b in 0u8..=0x7F {
            let c = char::from(b);
            cases.push(format!("/p{c}x"));
            cases.push(format!("/p?q{c}x"));
            cases.push(format!("/p?q{c}"));
        }
        for case in cases {
            let ours = request_target(&case).ok();
            let theirs = case
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.path_and_query().map(|p| p.as_str().to_string()));
            assert_eq!(ours.map(str::to_string), theirs, "{case:?}");
        }
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        let mut digits = [0u8; 20];
        for n in [0, 7, 10, 263, 65_536, usize::MAX] {
            assert_eq!(decimal(n, &mut digits), n.to_string());
        }
    }

    #[test]
    fn header_values_cannot_break_the_head() {
        assert!(header_value("\"urn:x#A\"\tö").is_ok());
        for bad in ["a\r\nX-Injected: 1", "a\nb", "nul\0", "del\x7f"] {
            assert!(header_value(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_plain_ipv4_urls() {
        let e = Endpoint::parse("http://192.168.1.1:5000/rootDesc.xml").unwrap();
        assert_eq!(e.addr, "192.168.1.1:5000".parse().unwrap());
        assert_eq!(e.host_header, "192.168.1.1:5000");
        assert_eq!(e.host_and_port, "192.168.1.1:5000");
        assert_eq!(e.path_and_query, "/rootDesc.xml");

        let e = Endpoint::parse("http://10.0.0.1").unwrap();
        assert_eq!(e.addr.port(), 80);
        assert_eq!(e.host_header, "10.0.0.1");
        assert_eq!(e.path_and_query, "/");

        let e = Endpoint::parse("http://10.0.0.1:80/ctl?x=1").unwrap();
        assert_eq!(e.path_and_query, "/ctl?x=1");
        assert_eq!(e.host_header, "10.0.0.1");
        assert_eq!(e.host_and_port, "10.0.0.1:80");
    }

    #[test]
    fn parses_ipv6_with_zone() {
        let e = Endpoint::parse("http://[fd00::1]:5000/d.xml").unwrap();
        assert_eq!(e.addr, "[fd00::1]:5000".parse().unwrap());
        assert_eq!(e.host_header, "[fd00::1]:5000");

        let e = Endpoint::parse("http://[fe80::1%253]:5000/d.xml").unwrap();
        match e.addr {
            SocketAddr::V6(v6) => assert_eq!(v6.scope_id(), 3),
            _ => panic!("not v6"),
        }
        assert_eq!(e.host_header, "[fe80::1]:5000");

        let e = Endpoint::parse("http://[fe80::1%25lo]:5000/d.xml").unwrap();
        match e.addr {
            SocketAddr::V6(v6) => assert!(v6.scope_id() > 0),
            _ => panic!("not v6"),
        }
    }

    #[test]
    fn refuses_what_it_cannot_reach_safely() {
        for bad in [
            "",
            "https://10.0.0.1/",
            "ftp://10.0.0.1/",
            "http://router.local:5000/",
            "http://user@10.0.0.1/",
            "http://10.0.0.1:0/",
            "http://10.0.0.1:99999/",
            "http://10.0.0.1:abc/",
            "http://[fe80::1/",
            "http://[fe80::1%25nosuchif0]:80/",
            "http://[fe80::1]x/",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
