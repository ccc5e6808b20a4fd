//! The HTTP/1.1 client for descriptions and SOAP: one short-lived connection per request
//! (as miniupnpc does; routers close after each reply anyway), hard deadlines and size caps.
//!
//! We drive hyper's connection ourselves instead of using a pooled client because we need
//! the local address of the very socket that reached the router (Godot's `igd_our_addr`,
//! and the default `NewInternalClient`), and because IPv6 link-local routers need a zone
//! that URLs cannot carry through a pooled client.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

use crate::limits::MAX_URL_BYTES;
use crate::upnp::head_case::MiniupnpcCase;

/// Sent with every request; routers sometimes log it.
pub const USER_AGENT_VALUE: &str = concat!("upnp-native/", env!("CARGO_PKG_VERSION"), " UPnP/1.1");

/// Connections open at once to one device. Routers serve HTTP from a single loop with a
/// short listen backlog: 64 simultaneous connects to miniupnpd lose SYNs (then every
/// request waits out TCP's 1 s retransmission or times out, and a late add can land after
/// its delete). Queueing here instead keeps each request fast and in order per device.
pub const MAX_CONNECTIONS_PER_DEVICE: usize = 4;

/// The connection slots of one device. Urgent requests (deletes) are served before the
/// others: every operation of miniupnpd's nftables backend costs time proportional to its
/// table, so under load, emptying the table first keeps every request fast.
struct Slots {
    state: Mutex<SlotState>,
}

struct SlotState {
    free: usize,
    urgent: VecDeque<oneshot::Sender<Slot>>,
    normal: VecDeque<oneshot::Sender<Slot>>,
}

/// One held slot; dropping it hands the slot to the next waiter (urgent first).
pub struct Slot {
    /// `None` once handed over, so that dropping it then does nothing.
    slots: Option<Arc<Slots>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(slots) = self.slots.take() else {
            return;
        };
        let mut state = slots
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            let Some(next) = state
                .urgent
                .pop_front()
                .or_else(|| state.normal.pop_front())
            else {
                state.free += 1;
                return;
            };
            // A waiter that gave up (deadline) dropped its receiver: try the next one. A
            // slot sent but never received is dropped with the channel and comes back here.
            match next.send(Slot {
                slots: Some(slots.clone()),
            }) {
                Ok(()) => return,
                Err(mut unsent) => unsent.slots = None,
            }
        }
    }
}

async fn acquire_slot(ip: IpAddr, urgent: bool) -> Slot {
    let slots = {
        let mut all = DEVICE_SLOTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.entry(ip)
            .or_insert_with(|| {
                Arc::new(Slots {
                    state: Mutex::new(SlotState {
                        free: MAX_CONNECTIONS_PER_DEVICE,
                        urgent: VecDeque::new(),
                        normal: VecDeque::new(),
                    }),
                })
            })
            .clone()
    };
    let waiting = {
        let mut state = slots
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.free > 0 {
            state.free -= 1;
            return Slot {
                slots: Some(slots.clone()),
            };
        }
        let (tx, rx) = oneshot::channel();
        if urgent {
            state.urgent.push_back(tx);
        } else {
            state.normal.push_back(tx);
        }
        rx
    };
    // The sender is only dropped after sending, so this cannot fail while `slots` lives.
    match waiting.await {
        Ok(slot) => slot,
        Err(_) => Slot { slots: Some(slots) },
    }
}

static DEVICE_SLOTS: LazyLock<Mutex<HashMap<IpAddr, Arc<Slots>>>> = LazyLock::new(Default::default);

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
}

impl Limits {
    pub fn within(total: Duration, max_body: usize) -> Self {
        Self {
            deadline: Instant::now() + total,
            connect_timeout: total.min(Duration::from_secs(3)),
            max_body,
            urgent: false,
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
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "could not connect: {e}"),
            HttpError::Timeout => write!(f, "no complete reply before the deadline"),
            HttpError::TooLarge(max) => write!(f, "reply larger than {max} bytes"),
            HttpError::Protocol(e) => write!(f, "HTTP error: {e}"),
        }
    }
}

/// A connected socket, kept so that a caller can read its local address before it decides
/// what to send (the SOAP client needs it for `NewInternalClient`).
pub struct Connection {
    stream: TcpStream,
    pub local_addr: SocketAddr,
    /// Held until the exchange ends: one of the device's connection slots.
    _slot: Slot,
}

pub async fn connect(endpoint: &Endpoint, limits: &Limits) -> Result<Connection, HttpError> {
    // Waiting for a slot counts against the request's deadline like everything else.
    let slot = timeout_at(
        limits.deadline,
        acquire_slot(endpoint.addr.ip(), limits.urgent),
    )
    .await
    .map_err(|_| HttpError::Timeout)?;
    let connect_deadline = limits.deadline.min(Instant::now() + limits.connect_timeout);
    let stream = timeout_at(connect_deadline, TcpStream::connect(endpoint.addr))
        .await
        .map_err(|_| HttpError::Timeout)?
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    // Requests are one small write each; do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    // Closing resets the connection instead of lingering: a request we gave up on at its
    // deadline must not reach the router seconds later (a late AddPortMapping would create
    // a mapping the caller was told failed). We only close after the whole reply or on
    // giving up, so nothing is lost on the normal path.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    let local_addr = stream
        .local_addr()
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    Ok(Connection {
        stream,
        local_addr,
        _slot: slot,
    })
}

/// The header lines of a request, in the order and with the values miniupnpc writes
/// (miniwget.c for GET, minisoap.c for POST); `extra` (Content-Type, SOAPAction) goes after
/// Content-Length. Names are re-spelled on the wire by [`MiniupnpcCase`].
fn head_fields<'a>(
    method: &str,
    endpoint: &'a Endpoint,
    body_len: usize,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, String)> {
    if method == "GET" {
        return vec![
            ("Host", endpoint.host_and_port.clone()),
            ("Connection", "Close".into()),
            ("User-Agent", USER_AGENT_VALUE.into()),
        ];
    }
    let mut fields = vec![
        ("Host", endpoint.host_header.clone()),
        ("User-Agent", USER_AGENT_VALUE.into()),
        ("Content-Length", body_len.to_string()),
    ];
    fields.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    fields.extend([
        ("Connection", "Close".into()),
        ("Cache-Control", "no-cache".into()),
        ("Pragma", "no-cache".into()),
    ]);
    fields
}

/// Sends one request on `conn` and reads the whole reply within `limits`.
pub async fn exchange(
    conn: Connection,
    endpoint: &Endpoint,
    method: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    limits: &Limits,
) -> Result<Response, HttpError> {
    let local_addr = conn.local_addr;
    let Connection { stream, _slot, .. } = conn;
    let work = async move {
        let _slot = _slot;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(64 * 1024)
            // One flat buffer per message, so the head reaches MiniupnpcCase as plain writes.
            .writev(false)
            .handshake::<_, Full<Bytes>>(TokioIo::new(MiniupnpcCase::new(stream)))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let body = body.unwrap_or_default();
        let mut request = Request::builder()
            .method(method)
            .uri(&endpoint.path_and_query);
        for (name, value) in head_fields(method, endpoint, body.len(), headers) {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let max_body = limits.max_body;
        let talk = async move {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let status = response.status().as_u16();
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
            Ok::<_, HttpError>((status, body))
            // `sender` drops here, which lets `connection` finish.
        };
        let (reply, _) = tokio::join!(talk, connection);
        reply
    };
    let (status, body) = timeout_at(limits.deadline, work)
        .await
        .map_err(|_| HttpError::Timeout)??;
    Ok(Response {
        status,
        body,
        local_addr,
    })
}

/// GET `url`, for device descriptions.
pub async fn get(endpoint: &Endpoint, limits: &Limits) -> Result<Response, HttpError> {
    let conn = connect(endpoint, limits).await?;
    exchange(conn, endpoint, "GET", &[], None, limits).await
}

/// Header for SOAP requests (UPnP Device Architecture 1.1, 3.2.1).
pub const SOAP_CONTENT_TYPE: (&str, &str) = ("Content-Type", "text/xml; charset=\"utf-8\"");

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn device_slots_are_bounded_and_deletes_go_first() {
        use std::time::Duration;
        let ip: IpAddr = "203.0.113.77".parse().unwrap(); // a key only: nothing is sent
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS_PER_DEVICE {
            held.push(acquire_slot(ip, false).await);
        }
        // Full: a normal and then an urgent request wait; a third waiter gives up.
        let normal = tokio::spawn(acquire_slot(ip, false));
        tokio::task::yield_now().await;
        let urgent = tokio::spawn(acquire_slot(ip, true));
        tokio::task::yield_now().await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(20), acquire_slot(ip, false)).await;
        assert!(gave_up.is_err());
        // One slot frees: the urgent request gets it although it came later.
        held.pop();
        let urgent_slot = tokio::time::timeout(Duration::from_secs(1), urgent)
            .await
            .unwrap()
            .unwrap();
        assert!(!normal.is_finished());
        held.pop();
        let normal_slot = tokio::time::timeout(Duration::from_secs(1), normal)
            .await
            .unwrap()
            .unwrap();
        // Everything released (the one that gave up included): all slots are free again.
        drop((urgent_slot, normal_slot, held));
        let mut again = Vec::new();
        for _ in 0..MAX_CONNECTIONS_PER_DEVICE {
            again.push(
                tokio::time::timeout(Duration::from_millis(100), acquire_slot(ip, false))
                    .await
                    .unwrap(),
            );
        }
    }

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
            let body = Some("<x/>".to_string());
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
