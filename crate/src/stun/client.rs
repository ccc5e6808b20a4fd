//! STUN transactions on one UDP socket (RFC 8489 6.2.1): requests retransmitted on a doubling
//! schedule within the caller's budget, several transactions at once when a test needs them
//! (RFC 5780's filtering tests ask for two answers that may or may not come).
//!
//! The socket is not connected: an RFC 5780 answer comes from another address than the one
//! asked. So each transaction names the one address its answer must come from, and a datagram
//! is taken only when it comes from there, parses, and carries the transaction's id; anything
//! else is counted and dropped (with the last reason kept for the report).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{sleep_until, Instant};

use crate::limits::MAX_STUN_MESSAGE;
use crate::pxp::transport::{self, Timing};
use crate::stun::message::{self, BindingRequest, Response, TransactionId};

/// The first wait before a retransmission (RFC 8489 6.2.1 recommends 500 ms for paths of
/// unknown length: these servers are on the Internet, not on the LAN), doubled each time.
pub const INITIAL_RTO: Duration = Duration::from_millis(500);
/// One test's budget when the caller gives none: sends at 0, 0.5 and 1.5 s. An answer that
/// may legitimately never come (a filtered one) costs this much.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(2000);

/// The schedule for a STUN test of `budget`.
pub fn timing(budget: Duration) -> Timing {
    Timing {
        initial: INITIAL_RTO.min(budget / 2).max(Duration::from_millis(50)),
        ..Timing::with_budget(budget)
    }
}

/// One Binding transaction: what to ask, where, and where the answer must come from.
#[derive(Clone, Copy, Debug)]
pub struct Transaction {
    pub request: BindingRequest,
    pub to: SocketAddr,
    pub expect_from: SocketAddr,
}

impl Transaction {
    /// A plain Binding request, answered from where it was sent.
    pub fn binding(server: SocketAddr) -> Self {
        Self {
            request: BindingRequest::default(),
            to: server,
            expect_from: server,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Answered {
    pub response: Response,
    /// Requests sent before it came.
    pub attempts: u32,
    pub latency: Duration,
}

/// What became of one transaction.
#[derive(Clone, Debug)]
pub enum Outcome {
    Answered(Answered),
    /// No answer from the expected address within the budget.
    Silent {
        attempts: u32,
    },
}

impl Outcome {
    pub fn answered(&self) -> Option<&Answered> {
        match self {
            Self::Answered(a) => Some(a),
            Self::Silent { .. } => None,
        }
    }
}

/// One run of transactions: each one's outcome, in order, and what was dropped.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub outcomes: Vec<Outcome>,
    /// Datagrams read and dropped (not STUN, not ours, from the wrong address).
    pub ignored: u32,
    pub last_ignored: Option<String>,
}

/// A UDP socket of `server`'s family on an ephemeral port, on every address.
pub fn bind_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    from_std(std::net::UdpSocket::bind(any)?)
}

/// A std socket handed to tokio (non-blocking first, as tokio requires).
pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

fn new_id() -> io::Result<TransactionId> {
    let mut id = [0u8; 12];
    getrandom::fill(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(id)
}

struct Pending {
    id: TransactionId,
    bytes: Vec<u8>,
    to: SocketAddr,
    expect_from: SocketAddr,
    attempts: u32,
    done: Option<Answered>,
}

/// Runs `transactions` at once on `socket` until each is answered or `timing`'s budget is
/// spent. Errors only for our own side (no socket, send refused by the kernel at once).
pub async fn run(
    socket: &UdpSocket,
    transactions: &[Transaction],
    timing: &Timing,
) -> io::Result<Run> {
    let mut pending = transactions
        .iter()
        .map(|t| {
            let id = new_id()?;
            Ok(Pending {
                id,
                bytes: t.request.encode(&id),
                to: t.to,
                expect_from: t.expect_from,
                attempts: 0,
                done: None,
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let started = Instant::now();
    let deadline = started + timing.budget;
    let offsets = timing.send_offsets();
    let mut sends = 0usize;
    let mut out = Run::default();
    let mut buffer = vec![0u8; MAX_STUN_MESSAGE + 1];
    while pending.iter().any(|p| p.done.is_none()) {
        let now = Instant::now();
        let due = offsets.get(sends).map(|o| started + *o);
        if transport::send_due(due, sends == 0, now, deadline) {
            for p in pending.iter_mut().filter(|p| p.done.is_none()) {
                match socket.send_to(&p.bytes, p.to).await {
                    Ok(_) => p.attempts += 1,
                    Err(e) if sends == 0 => return Err(e),
                    // A later send refused (an ICMP error, a route gone): the answer will not
                    // come, which the outcome says.
                    Err(_) => {}
                }
            }
            sends += 1;
            continue;
        }
        let wake = transport::wake_at(due, now, deadline);
        tokio::select! {
            biased;
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, from)) => {
                    if let Err(why) = take(&mut pending, &buffer[..len], from, started) {
                        out.ignored += 1;
                        out.last_ignored = Some(why);
                    }
                }
                // Unconnected sockets see ICMP errors only with IP_RECVERR; anything else
                // here is our side failing.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            },
            _ = sleep_until(wake) => {
                if wake >= deadline {
                    break;
                }
            }
        }
    }
    out.outcomes = pending
        .into_iter()
        .map(|p| match p.done {
            Some(a) => Outcome::Answered(a),
            None => Outcome::Silent {
                attempts: p.attempts,
            },
        })
        .collect();
    Ok(out)
}

/// Gives `datagram` to the transaction it answers, or says why it answers none.
fn take(
    pending: &mut [Pending],
    datagram: &[u8],
    from: SocketAddr,
    started: Instant,
) -> Result<(), String> {
    let response = message::parse_response(datagram).map_err(|e| format!("from {from}: {e}"))?;
    let Some(p) = pending.iter_mut().find(|p| p.id == response.transaction) else {
        return Err(format!(
            "from {from}: not an answer to a request of this test"
        ));
    };
    if !same_endpoint(from, p.expect_from) {
        // The server answered from somewhere else: for a CHANGE-REQUEST that means it did
        // not honour the change, which must not count as the answer asked for.
        return Err(format!(
            "answer from {from}, expected from {}",
            p.expect_from
        ));
    }
    if p.done.is_none() {
        p.done = Some(Answered {
            response,
            attempts: p.attempts,
            latency: started.elapsed(),
        });
    }
    Ok(())
}

/// The same address and port, an IPv4 address also matching its IPv4-mapped IPv6 form.
pub fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |s: SocketAddr| (s.ip().to_canonical(), s.port());
    canonical(a) == canonical(b)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
