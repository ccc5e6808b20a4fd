//! The HTTP/1.1 client for descriptions and SOAP: one short-lived connection per request
//! (as miniupnpc does; routers close after each reply anyway), hard deadlines and size caps.
//!
//! We drive hyper's connection ourselves instead of using a pooled client because we need
//! the local address of the very socket that reached the router (Godot's `igd_our_addr`,
//! and the default `NewInternalClient`), and because IPv6 link-local routers need a zone
//! that URLs cannot carry through a pooled client.

use std::error::Error as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, HOST, PRAGMA,
    USER_AGENT,
};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::limits::MAX_URL_BYTES;
use crate::trace::{self, Event, Kind};
use crate::upnp::head_case::MiniupnpcCase;
use crate::upnp::link::{Ends, Link, LinkError, Ticket};

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

/// Caps for one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deadline for the whole exchange: connect, send, headers and body.
    pub deadline: Instant,
    /// Cap on the TCP connect alone (a router that drops SYNs should not eat the whole budget).
    pub connect_timeout: Duration,
    /// Largest body accepted; more is an error, never buffered.
    pub max_body: usize,
    /// Served before other requests waiting for the same device (deletes).
    pub urgent: bool,
    /// The local address to connect from (None: the system's choice towards the device).
    pub source: Option<IpAddr>,
}

impl Limits {
    pub fn within(total: Duration, max_body: usize) -> Self {
        Self::until(Instant::now() + total, max_body)
    }

    /// Everything done by `deadline` (a call whose earlier steps already used part of its time).
    pub fn until(deadline: Instant, max_body: usize) -> Self {
        let total = deadline.saturating_duration_since(Instant::now());
        Self {
            deadline,
            connect_timeout: total.min(Duration::from_secs(3)),
            max_body,
            urgent: false,
            source: None,
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
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
        trace::emit(|| connection_event(endpoint, started, &format!("not opened: {e}")));
        e
    })?;
    let local_addr = leased
        .stream
        .local_addr()
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    trace::emit(|| {
        let how = if leased.reused {
            "reused a spare"
        } else {
            "opened"
        };
        connection_event(endpoint, started, how).local(local_addr)
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

/// The header lines of a request, in the order and with the values miniupnpc writes
/// (miniwget.c for GET, minisoap.c for POST); `extra` (Content-Type, SOAPAction) goes after
/// Content-Length. Names are re-spelled on the wire by [`MiniupnpcCase`].
fn head_fields(
    method: &str,
    endpoint: &Endpoint,
    body_len: usize,
    extra: &[(&str, &str)],
) -> Result<HeaderMap, HttpError> {
    let value = |v: &str| HeaderValue::from_str(v).map_err(|e| HttpError::Protocol(e.to_string()));
    let mut fields = HeaderMap::with_capacity(10);
    if method == "GET" {
        fields.append(HOST, value(&endpoint.host_and_port)?);
        fields.append(CONNECTION, HeaderValue::from_static("Close"));
        fields.append(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        return Ok(fields);
    }
    fields.append(HOST, value(&endpoint.host_header)?);
    fields.append(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    fields.append(CONTENT_LENGTH, HeaderValue::from(body_len));
    for (name, v) in extra {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        fields.append(name, value(v)?);
    }
    fields.append(CONNECTION, HeaderValue::from_static("Close"));
    fields.append(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    fields.append(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(fields)
}

/// Sends one request on `conn` and reads the whole reply within `limits`. On a spare that the
/// device had closed meanwhile, the request goes again on a new connection.
pub async fn exchange(
    conn: Connection,
    endpoint: &Endpoint,
    method: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    limits: &Limits,
) -> Result<Response, HttpError> {
    let reused = conn.reused;
    match exchange_once(conn, endpoint, method, headers, body.clone(), limits).await {
        Err(HttpError::Closed(_)) if reused => {
            let fresh = open(endpoint, limits, false).await?;
            exchange_once(fresh, endpoint, method, headers, body, limits).await
        }
        other => other,
    }
}

async fn exchange_once(
    conn: Connection,
    endpoint: &Endpoint,
    method: &str,
    headers: &[(&str, &str)],
    body: Bytes,
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
    let work = async move {
        let _ticket = _ticket;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(64 * 1024)
            // One flat buffer per message, so the head reaches MiniupnpcCase as plain writes.
            .writev(false)
            .handshake::<_, Full<Bytes>>(TokioIo::new(MiniupnpcCase::new(stream)))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let fields = head_fields(method, endpoint, body.len(), headers)?;
        trace::emit(|| {
            Event::new(Kind::HttpRequest)
                .peer(endpoint.addr)
                .local(local_addr)
                .action(method)
                .exchange(exchange)
                .url(endpoint.path_and_query.as_str())
                .head(request_head(method, endpoint, &fields))
                .body(body.clone())
        });
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = if method == "GET" {
            Method::GET
        } else {
            Method::POST
        };
        *request.uri_mut() = endpoint
            .path_and_query
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| HttpError::Protocol(e.to_string()))?;
        *request.headers_mut() = fields;
        let max_body = limits.max_body;
        let talk = async move {
            let response = sender.send_request(request).await.map_err(|e| {
                if closed_early(&e) {
                    HttpError::Closed(e.to_string())
                } else {
                    HttpError::Protocol(e.to_string())
                }
            })?;
            let status = response.status().as_u16();
            let head = trace::on().then(|| response_head(&response));
            if let Some(len) = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                if len > max_body as u64 {
                    return Err(HttpError::TooLarge(max_body));
                }
            }
            let body = Limited::new(response.into_body(), max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(max_body)
                    } else {
                        HttpError::Protocol(e.to_string())
                    }
                })?
                .to_bytes();
            Ok::<_, HttpError>((status, body, head))
            // `sender` drops here, which lets `connection` finish.
        };
        let (reply, _) = tokio::join!(talk, connection);
        reply
    };
    let written = Instant::now();
    let outcome = timeout_at(deadline, work)
        .await
        .map_err(|_| HttpError::Timeout)
        .and_then(|r| r);
    match &outcome {
        Ok(_) => link.answered(written.elapsed()),
        // A fresh connection reset before any reply: the device is shedding load.
        Err(HttpError::Closed(_)) if !reused => link.reset_seen(),
        Err(_) => {}
    }
    trace::emit(|| {
        let event = Event::new(Kind::HttpResponse)
            .peer(endpoint.addr)
            .exchange(exchange)
            .elapsed(written.elapsed());
        match &outcome {
            Ok((status, body, head)) => event
                .status(*status)
                .head(head.clone().unwrap_or_default())
                .body(body.clone()),
            Err(e) => Event {
                kind: Kind::HttpFailed,
                ..event.detail(e.to_string())
            },
        }
    });
    let (status, body, _) = outcome?;
    Ok(Response {
        status,
        body,
        local_addr,
    })
}

/// A connection for one request, for the trace: `how` it was had, and how long that took.
fn connection_event(endpoint: &Endpoint, started: Option<Instant>, how: &str) -> Event {
    let event = Event::new(Kind::HttpConnection)
        .peer(endpoint.addr)
        .detail(how);
    match started {
        Some(started) => event.elapsed(started.elapsed()),
        None => event,
    }
}

/// A request head as it goes on the wire (header names as [`MiniupnpcCase`] spells them).
fn request_head(method: &str, endpoint: &Endpoint, fields: &HeaderMap) -> String {
    let mut head = format!("{method} {} HTTP/1.1\r\n", endpoint.path_and_query).into_bytes();
    for (name, value) in fields {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    crate::upnp::head_case::respell(&mut head);
    String::from_utf8_lossy(&head).into_owned()
}

/// A reply's status line and header fields (names as hyper read them: lower case).
fn response_head<B>(response: &hyper::Response<B>) -> String {
    let reason = match response.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(reason) => String::from_utf8_lossy(reason.as_bytes()).into_owned(),
        None => response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_string(),
    };
    let mut head = format!(
        "{:?} {} {reason}\r\n",
        response.version(),
        response.status().as_u16()
    );
    for (name, value) in response.headers() {
        head += &format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes()));
    }
    head
}

/// hyper's error for a connection the device closed or reset before its reply began.
fn closed_early(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() {
        return true;
    }
    let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
    io.is_some_and(|io| {
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
        )
    })
}

/// GET `url`, for device descriptions.
pub async fn get(endpoint: &Endpoint, limits: &Limits) -> Result<Response, HttpError> {
    let conn = connect(endpoint, limits).await?;
    exchange(conn, endpoint, "GET", &[], Bytes::new(), limits).await
}

/// Header for SOAP requests (UPnP Device Architecture 1.1, 3.2.1).
pub const SOAP_CONTENT_TYPE: (&str, &str) = ("Content-Type", "text/xml; charset=\"utf-8\"");

#[cfg(test)]
mod tests {
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
            assert_eq!(get(&e, &limits()).await.unwrap().body, "ok");
        })
        .await;
        assert_eq!(
            head,
            format!("GET /rootDesc.xml HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: Close\r\nUser-Agent: {USER_AGENT_VALUE}\r\n\r\n")
        );
        let head = head_on_the_wire(|host| async move {
            let e = Endpoint::parse(&format!("http://{host}/ctl/IPConn")).unwrap();
            let conn = connect(&e, &limits()).await.unwrap();
            let headers = [SOAP_CONTENT_TYPE, ("SOAPAction", "\"urn:x#GetStatusInfo\"")];
            let body = Bytes::from_static(b"<x/>");
            exchange(conn, &e, "POST", &headers, body, &limits())
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
