//! The N-API surface of STUN: the NAT's behaviour as seen from the servers the caller names,
//! and a socket whose port can be mapped and then checked from outside. Nothing here knows a
//! server of its own: no name, no address, no default.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use napi_derive::napi;

use crate::limits::{self, MAX_STUN_SERVERS};
use crate::napi::pxp_answer::ms;
use crate::stun::behaviour::{self, Behaviour};
use crate::stun::client;
use crate::stun::message::DEFAULT_PORT;
use crate::trace;

/// STUN's default budget for one test (`stun::client::DEFAULT_BUDGET`).
#[napi]
pub const STUN_BUDGET_MS: u32 = client::DEFAULT_BUDGET.as_millis() as u32;

/// Why a STUN server gave no answer we could use.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeStunFailure {
    /// TIMEOUT, REFUSED, INVALID_RESPONSE, SOCKET_ERROR, INVALID_SERVER.
    pub meaning: String,
    pub description: String,
}

fn failure(meaning: &str, description: String) -> NativeStunFailure {
    NativeStunFailure {
        meaning: meaning.to_string(),
        description: limits::cap(&description, limits::MAX_ERROR_CHARS),
    }
}

impl From<&behaviour::Error> for NativeStunFailure {
    fn from(e: &behaviour::Error) -> Self {
        failure(e.meaning(), e.to_string())
    }
}

/// `host`, `host:port`, `address`, `address:port` or `[IPv6]:port` to one socket address
/// (a name is looked up by the system resolver; the first answer is used).
async fn resolve(server: &str) -> Result<SocketAddr, NativeStunFailure> {
    let invalid = |why: &str| {
        failure(
            "INVALID_SERVER",
            format!("STUN server {:?}: {why}", limits::cap(server, 64)),
        )
    };
    if server.is_empty()
        || server.len() > 255
        || server.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid("not a host name or address"));
    }
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = server.trim_matches(['[', ']']).parse() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let with_port = match server.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => server.to_string(),
        Some(_) => return Err(invalid("the port is not a number 0..65535")),
        None => format!("{server}:{DEFAULT_PORT}"),
    };
    match tokio::net::lookup_host(with_port).await {
        Ok(mut found) => found
            .next()
            .ok_or_else(|| invalid("the name has no address")),
        Err(e) => Err(invalid(&format!("cannot resolve: {e}"))),
    }
}

fn budget(budget_ms: Option<u32>) -> Duration {
    Duration::from_millis(u64::from(
        budget_ms.unwrap_or(STUN_BUDGET_MS).clamp(50, 60_000),
    ))
}

/// One server's findings (RFC 5780 4.3/4.4), or why it gave none.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeStunBehaviour {
    /// As the caller named it, and the address asked.
    pub server: String,
    pub server_address: Option<String>,
    pub failure: Option<NativeStunFailure>,
    /// This host's address and port as the server saw them (XOR-MAPPED-ADDRESS).
    pub mapped_address: Option<String>,
    pub mapped_port: Option<u32>,
    /// The server's other address (RFC 5780 OTHER-ADDRESS), when it has one.
    pub other_address: Option<String>,
    /// This host's own address towards the server.
    pub local_address: Option<String>,
    /// The server saw this host's own address and port: no NAT on the way.
    pub no_nat: bool,
    #[napi(
        ts_type = "'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent'"
    )]
    pub mapping: Option<String>,
    #[napi(
        ts_type = "'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent'"
    )]
    pub filtering: Option<String>,
    /// Why mapping or filtering could not be told, and other remarks.
    pub notes: Vec<String>,
    pub latency_ms: f64,
}

impl NativeStunBehaviour {
    fn failed(server: &str, address: Option<SocketAddr>, failure: NativeStunFailure) -> Self {
        Self {
            server: server.to_string(),
            server_address: address.map(|a| a.to_string()),
            failure: Some(failure),
            mapped_address: None,
            mapped_port: None,
            other_address: None,
            local_address: None,
            no_nat: false,
            mapping: None,
            filtering: None,
            notes: Vec::new(),
            latency_ms: 0.0,
        }
    }

    fn found(server: &str, b: Behaviour) -> Self {
        Self {
            server: server.to_string(),
            server_address: Some(b.server.to_string()),
            failure: None,
            mapped_address: Some(b.mapped.ip().to_canonical().to_string()),
            mapped_port: Some(u32::from(b.mapped.port())),
            other_address: b.other.map(|o| o.to_string()),
            local_address: b.local.map(|ip| ip.to_string()),
            no_nat: b.no_nat,
            mapping: b.mapping.map(|d| d.name().to_string()),
            filtering: b.filtering.map(|d| d.name().to_string()),
            notes: b
                .notes
                .iter()
                .map(|n| limits::cap(n, limits::MAX_ERROR_CHARS))
                .collect(),
            latency_ms: ms(b.latency),
        }
    }
}

/// RFC 5780 behaviour discovery against the servers given, in order, until one could tell
/// both the mapping and the filtering behaviour (at most `MAX_STUN_SERVERS` are asked).
/// `trace`: a traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
#[napi]
pub async fn stun_behaviour(
    servers: Vec<String>,
    budget_ms: Option<u32>,
    trace: Option<u32>,
) -> Vec<NativeStunBehaviour> {
    trace::scoped(trace, stun_behaviour_untraced(servers, budget_ms)).await
}

async fn stun_behaviour_untraced(
    servers: Vec<String>,
    budget_ms: Option<u32>,
) -> Vec<NativeStunBehaviour> {
    let timing = client::timing(budget(budget_ms));
    let mut out = Vec::new();
    for server in servers.iter().take(MAX_STUN_SERVERS) {
        let result = match resolve(server).await {
            Err(f) => NativeStunBehaviour::failed(server, None, f),
            Ok(addr) => match behaviour::discover(addr, &timing).await {
                Ok(b) => NativeStunBehaviour::found(server, b),
                Err(e) => NativeStunBehaviour::failed(server, Some(addr), (&e).into()),
            },
        };
        let complete = result.mapping.is_some() && result.filtering.is_some();
        out.push(result);
        if complete {
            break;
        }
    }
    out
}

/// The inbound check of a `StunSocket`.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeInbound {
    pub server: String,
    pub failure: Option<NativeStunFailure>,
    /// The socket's address as the server saw it.
    pub mapped_address: Option<String>,
    pub mapped_port: Option<u32>,
    /// Where the answer was asked to come from (the server's other address and port).
    pub other_address: Option<String>,
    /// The port of `mapped_address` the answer was sent to.
    pub sent_to_port: Option<u32>,
    /// The answer from the other address arrived.
    pub reached: bool,
    pub attempts: u32,
    pub elapsed_ms: f64,
}

impl NativeInbound {
    fn failed(server: &str, failure: NativeStunFailure) -> Self {
        Self {
            server: server.to_string(),
            failure: Some(failure),
            mapped_address: None,
            mapped_port: None,
            other_address: None,
            sent_to_port: None,
            reached: false,
            attempts: 0,
            elapsed_ms: 0.0,
        }
    }
}

/// A UDP socket to map on the router and then check from outside: its answers from the
/// server's other address arrive only if unsolicited inbound traffic reaches it.
#[napi]
pub struct StunSocket {
    socket: Mutex<Option<std::net::UdpSocket>>,
    port: u16,
}

#[napi]
impl StunSocket {
    /// Binds a socket on every address, on `port` (0: an ephemeral one), IPv6 when asked.
    #[napi(factory)]
    pub fn open(port: u32, ipv6: Option<bool>) -> napi::Result<Self> {
        let port =
            u16::try_from(port).map_err(|_| napi::Error::from_reason("port is not 0..65535"))?;
        let bind: SocketAddr = if ipv6.unwrap_or(false) {
            (std::net::Ipv6Addr::UNSPECIFIED, port).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, port).into()
        };
        let socket = std::net::UdpSocket::bind(bind)
            .map_err(|e| napi::Error::from_reason(format!("cannot bind {bind}: {e}")))?;
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(Self {
            socket: Mutex::new(Some(socket)),
            port,
        })
    }

    /// The local port (the one to map).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.port)
    }

    /// Asks `server` for an answer from its other address and port, sent to
    /// `external_port` (the mapping's; absent: the socket's own as seen outside). `trace`: a
    /// traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
    #[napi]
    pub async fn inbound(
        &self,
        server: String,
        external_port: Option<u32>,
        budget_ms: Option<u32>,
        trace: Option<u32>,
    ) -> NativeInbound {
        trace::scoped(
            trace,
            self.inbound_untraced(server, external_port, budget_ms),
        )
        .await
    }

    async fn inbound_untraced(
        &self,
        server: String,
        external_port: Option<u32>,
        budget_ms: Option<u32>,
    ) -> NativeInbound {
        let socket = {
            let guard = self.socket.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref().map(std::net::UdpSocket::try_clone) {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    return NativeInbound::failed(&server, failure("SOCKET_ERROR", e.to_string()))
                }
                None => {
                    return NativeInbound::failed(
                        &server,
                        failure("SOCKET_ERROR", "the socket is closed".into()),
                    )
                }
            }
        };
        let socket = match client::from_std(socket) {
            Ok(s) => s,
            Err(e) => {
                return NativeInbound::failed(&server, failure("SOCKET_ERROR", e.to_string()))
            }
        };
        let addr = match resolve(&server).await {
            Ok(a) => a,
            Err(f) => return NativeInbound::failed(&server, f),
        };
        let external = external_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        match behaviour::inbound(&socket, addr, external, &client::timing(budget(budget_ms))).await
        {
            Err(e) => NativeInbound::failed(&server, (&e).into()),
            Ok(Err(why)) => NativeInbound::failed(&server, failure("NOT_RFC5780", why)),
            Ok(Ok(i)) => NativeInbound {
                server,
                failure: None,
                mapped_address: Some(i.mapped.ip().to_canonical().to_string()),
                mapped_port: Some(u32::from(i.mapped.port())),
                other_address: Some(i.other.to_string()),
                sent_to_port: Some(u32::from(i.sent_to_port)),
                reached: i.reached,
                attempts: i.attempts,
                elapsed_ms: ms(i.elapsed),
            },
        }
    }

    /// Closes the socket (a check in flight keeps its own handle until it ends).
    #[napi]
    pub fn close(&self) {
        self.socket.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
