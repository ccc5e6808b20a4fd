//! What NAT-PMP (RFC 6886) and PCP (RFC 6887) share: the server port, one request/response
//! exchange over a connected UDP socket with the retransmission schedule, and the epoch rule
//! that tells a router reboot from a live router.
//!
//! Both protocols are one datagram each way, so the exchange is ours rather than a crate's:
//! what matters is the timing (first retry after 250 ms, doubling, never past the caller's
//! budget), stopping at the first valid answer (a delete is sent once unless unanswered) and
//! never trusting a datagram that does not parse.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{sleep_until, Instant};

use crate::trace::{self, Event, Kind};

/// Where NAT-PMP and PCP servers listen (RFC 6886 3, RFC 6887 19.1).
pub const SERVER_PORT: u16 = 5351;
/// RFC 6887 7: no PCP message is larger; NAT-PMP messages are 16 bytes at most. A larger
/// datagram is not one of ours (the receive buffer is one byte bigger so we can tell).
pub const MAX_MESSAGE: usize = 1100;

/// When to (re)send and when to give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Wait after the first send; doubled after each retransmission (RFC 6886 3.1: 250 ms).
    pub initial: Duration,
    /// Total time for the whole exchange, retransmissions included.
    pub budget: Duration,
    /// RFC 6886 3.1: at most 9 sends.
    pub max_attempts: u32,
}

impl Timing {
    pub const DEFAULT_INITIAL: Duration = Duration::from_millis(250);
    /// A request's budget when the caller gives none: 250, 500 and 1000 ms waits (4 sends)
    /// before giving up, long enough for a busy router, short enough to fall back to UPnP.
    pub const DEFAULT_BUDGET: Duration = Duration::from_millis(2000);

    /// The RFC schedule cut to `budget`.
    ///
    /// PCP's own schedule (RFC 6887 8.1.1) starts at 3 s, longer than a whole probe; on a LAN
    /// an unanswered datagram is lost, not slow, so both protocols use NAT-PMP's 250 ms.
    pub fn with_budget(budget: Duration) -> Self {
        Self {
            initial: Self::DEFAULT_INITIAL,
            budget,
            max_attempts: 9,
        }
    }

    /// Offsets from the first send at which each send happens, within the budget.
    pub fn send_offsets(&self) -> Vec<Duration> {
        let mut offsets = Vec::new();
        let mut at = Duration::ZERO;
        let mut wait = self.initial.max(Duration::from_millis(1));
        while offsets.len() < self.max_attempts.max(1) as usize
            && (offsets.is_empty() || at < self.budget)
        {
            offsets.push(at);
            at = at.saturating_add(wait);
            wait = wait.saturating_mul(2);
        }
        offsets
    }
}

/// Whether the send planned for `due` goes out now: its time has come and the budget is not
/// spent (the first send always goes, even from a late, busy runtime). Shared with STUN.
pub fn send_due(due: Option<Instant>, first: bool, now: Instant, deadline: Instant) -> bool {
    due.is_some_and(|at| at <= now && (first || now < deadline))
}

/// When to wake: for the next send if it comes before the deadline, else at the deadline.
pub fn wake_at(due: Option<Instant>, now: Instant, deadline: Instant) -> Instant {
    match due {
        Some(at) if at < deadline && now < deadline => at,
        _ => deadline,
    }
}

/// A datagram that was read and accepted as the answer.
#[derive(Debug)]
pub struct Answer<T> {
    pub value: T,
    /// Requests sent (1 = answered without retransmission).
    pub attempts: u32,
    /// From the first send to the answer.
    pub latency: Duration,
    pub received_at: Instant,
    /// Datagrams read and thrown away before the answer (malformed, not ours).
    pub ignored: u32,
    /// Our end of the exchange: the address the server saw.
    pub local: SocketAddr,
}

/// Why no answer came.
#[derive(Debug)]
pub enum ExchangeError {
    /// Our side: no socket, no route, send refused by the kernel.
    Socket(io::Error),
    /// The gateway said (ICMP port unreachable) nothing listens on the port.
    Refused { attempts: u32, elapsed: Duration },
    /// Another ICMP error reported by the kernel (host/network unreachable, ...).
    Network {
        error: io::Error,
        attempts: u32,
        elapsed: Duration,
    },
    /// Silence until the budget ran out. `last_ignored` says why the last thrown-away
    /// datagram was thrown away, if any came.
    Timeout {
        attempts: u32,
        elapsed: Duration,
        ignored: u32,
        last_ignored: Option<String>,
    },
}

impl ExchangeError {
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Socket(_) => 0,
            Self::Refused { attempts, .. }
            | Self::Network { attempts, .. }
            | Self::Timeout { attempts, .. } => *attempts,
        }
    }

    pub fn elapsed(&self) -> Duration {
        match self {
            Self::Socket(_) => Duration::ZERO,
            Self::Refused { elapsed, .. }
            | Self::Network { elapsed, .. }
            | Self::Timeout { elapsed, .. } => *elapsed,
        }
    }

    /// A short upper-case word for JS (`meaning`).
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Socket(_) => "SOCKET_ERROR",
            Self::Refused { .. } => "REFUSED",
            Self::Network { .. } => "UNREACHABLE",
            Self::Timeout { .. } => "TIMEOUT",
        }
    }
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "socket: {e}"),
            Self::Refused { attempts, .. } => {
                write!(
                    f,
                    "port unreachable (no server) after {attempts} request(s)"
                )
            }
            Self::Network {
                error, attempts, ..
            } => write!(f, "{error} after {attempts} request(s)"),
            Self::Timeout {
                attempts,
                elapsed,
                ignored,
                last_ignored,
            } => {
                write!(
                    f,
                    "no answer in {} ms ({attempts} request(s))",
                    elapsed.as_millis()
                )?;
                if let Some(why) = last_ignored {
                    write!(f, "; {ignored} datagram(s) ignored, last: {why}")?;
                }
                Ok(())
            }
        }
    }
}

/// An ephemeral UDP socket connected to `server`: the kernel then drops datagrams from any
/// other source (RFC 6886 3.1 / RFC 6887 8.3: answers must come from where we sent), and its
/// local address is the one the server sees.
pub fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
    connect_from(server, None)
}

/// [`connect`] from `local` when given: a PCP MAP over IPv6 is a pinhole for its source
/// address, which the system would pick link-local towards a link-local router.
pub fn connect_from(server: SocketAddr, local: Option<IpAddr>) -> io::Result<UdpSocket> {
    let any: SocketAddr = match (local, server) {
        (Some(ip), _) => (ip, 0).into(),
        (None, SocketAddr::V4(_)) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        (None, SocketAddr::V6(_)) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = std::net::UdpSocket::bind(any)?;
    socket.connect(server)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Sends `request` on the RFC schedule until `accept` takes a datagram, the kernel reports
/// an error, or the budget is spent. `accept` sees every datagram (up to [`MAX_MESSAGE`] + 1
/// bytes, so oversized ones can be refused) and says why it refuses one.
pub async fn exchange<T>(
    socket: &UdpSocket,
    request: &[u8],
    timing: &Timing,
    mut accept: impl FnMut(&[u8]) -> Result<T, String>,
) -> Result<Answer<T>, ExchangeError> {
    let local = socket.local_addr().map_err(ExchangeError::Socket)?;
    let started = Instant::now();
    let deadline = started + timing.budget;
    let offsets = timing.send_offsets();
    let mut attempts = 0u32;
    let mut ignored = 0u32;
    let mut last_ignored = None;
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    loop {
        let now = Instant::now();
        let due = offsets.get(attempts as usize).map(|o| started + *o);
        // Never a retransmission once the budget is spent (a late, busy runtime).
        if send_due(due, attempts == 0, now, deadline) {
            match socket.send(request).await {
                Ok(_) => {
                    attempts += 1;
                    trace::emit(|| {
                        pxp_event(Kind::PxpSent, socket, request, started).attempt(attempts)
                    });
                }
                // An ICMP error from an earlier send surfaces on the next call.
                Err(e) if attempts > 0 => return Err(kernel_error(e, attempts, started.elapsed())),
                Err(e) => return Err(ExchangeError::Socket(e)),
            }
            continue;
        }
        let wake = wake_at(due, now, deadline);
        tokio::select! {
            biased;
            received = socket.recv(&mut buffer) => match received {
                Ok(len) => match accept(&buffer[..len]) {
                    Ok(value) => {
                        trace::emit(|| pxp_event(Kind::PxpReceived, socket, &buffer[..len], started).detail("the answer"));
                        let received_at = Instant::now();
                        return Ok(Answer {
                            value,
                            attempts,
                            latency: received_at - started,
                            received_at,
                            ignored,
                            local,
                        });
                    }
                    Err(why) => {
                        trace::emit(|| pxp_event(Kind::PxpReceived, socket, &buffer[..len], started).detail(format!("ignored: {why}")));
                        ignored += 1;
                        last_ignored = Some(why);
                    }
                },
                Err(e) => return Err(kernel_error(e, attempts, started.elapsed())),
            },
            // An answer already waiting is still taken (`biased`: receive first).
            _ = sleep_until(wake) => {
                if wake >= deadline {
                    return Err(ExchangeError::Timeout {
                        attempts,
                        elapsed: started.elapsed(),
                        ignored,
                        last_ignored,
                    });
                }
            }
        }
    }
}

/// A NAT-PMP/PCP datagram for the trace (`message`: its bytes).
fn pxp_event(kind: Kind, socket: &UdpSocket, message: &[u8], started: Instant) -> Event {
    let event = Event::new(kind)
        .body(bytes::Bytes::copy_from_slice(message))
        .elapsed(started.elapsed());
    let event = match socket.peer_addr() {
        Ok(peer) => event.peer(peer),
        Err(_) => event,
    };
    match socket.local_addr() {
        Ok(local) => event.local(local),
        Err(_) => event,
    }
}

fn kernel_error(error: io::Error, attempts: u32, elapsed: Duration) -> ExchangeError {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        ExchangeError::Refused { attempts, elapsed }
    } else {
        ExchangeError::Network {
            error,
            attempts,
            elapsed,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Epochs

/// Which of the two protocols: the rule that judges the epoch differs slightly, and so do
/// the names of their results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    NatPmp,
    Pcp,
}

impl Protocol {
    /// The protocol's own name for "unsupported version" (result code 1 in both: RFC 6886
    /// 3.5, RFC 6887 7.4), which is also what an answer in another version means. Named
    /// here, below both wire formats, so that the request skeleton they share can say it.
    pub fn unsupported_version(self) -> &'static str {
        match self {
            Self::NatPmp => "UNSUPPORTED_VERSION",
            Self::Pcp => "UNSUPP_VERSION",
        }
    }
}

/// One earlier observation of a server's epoch.
#[derive(Clone, Copy, Debug)]
pub struct EpochSample {
    pub epoch: u32,
    pub at: Instant,
}

/// Did the server lose its state between `prev` and `now`?
///
/// NAT-PMP (RFC 6886 3.6): the epoch must have advanced by at least 7/8 of the time that
/// passed on our clock, less 2 s of slack.
/// PCP (RFC 6887 8.5): going back by more than 1 s is lost state; otherwise the two clocks
/// must agree within 2 s plus 1/16 of the interval, in either direction.
pub fn epoch_lost(protocol: Protocol, prev: EpochSample, now: EpochSample) -> bool {
    // Milliseconds, signed, wide enough for any u32 epoch difference.
    let client_delta = now.at.saturating_duration_since(prev.at).as_millis() as i128;
    let server_delta = (i128::from(now.epoch) - i128::from(prev.epoch)) * 1000;
    match protocol {
        Protocol::NatPmp => {
            // now < prev + elapsed * 7/8 - 2 s, times 8 to stay in integers.
            server_delta * 8 < client_delta * 7 - 16_000
        }
        Protocol::Pcp => {
            if server_delta < -1000 {
                return true;
            }
            client_delta + 2000 < server_delta - server_delta / 16
                || server_delta + 2000 < client_delta - client_delta / 16
        }
    }
}

/// What one answer's epoch says, after comparing it with the previous one from the same
/// server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochCheck {
    pub epoch: u32,
    /// This answer is the one that revealed lost state (reboot, or a different server).
    pub rebooted: bool,
    /// How many times this process has seen this server lose its state. A caller that
    /// remembers the value from when it created a mapping knows the mapping is gone when a
    /// later answer carries a larger one, even if another caller saw `rebooted` first.
    pub resets: u32,
}

#[derive(Clone, Copy, Debug)]
struct EpochState {
    last: EpochSample,
    resets: u32,
}

type Registry = Mutex<HashMap<(Protocol, IpAddr), EpochState>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Records an epoch from `server` (per protocol: a box may run two daemons) and judges it.
/// The state is process-wide, so every caller in the process shares what is known of a
/// gateway; `resets` lets each caller notice a reboot it did not witness itself.
pub fn observe_epoch(protocol: Protocol, server: IpAddr, sample: EpochSample) -> EpochCheck {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    let state = map.entry((protocol, server)).or_insert(EpochState {
        last: sample,
        resets: 0,
    });
    // Answers to concurrent requests can be judged out of order: the older one is no news.
    if sample.at < state.last.at {
        return EpochCheck {
            epoch: sample.epoch,
            rebooted: false,
            resets: state.resets,
        };
    }
    let rebooted = epoch_lost(protocol, state.last, sample);
    if rebooted {
        state.resets += 1;
    }
    state.last = sample;
    EpochCheck {
        epoch: sample.epoch,
        rebooted,
        resets: state.resets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_is_250_ms_doubling_within_the_budget() {
        let t = Timing::with_budget(Duration::from_secs(2));
        assert_eq!(t.send_offsets(), vec![ms(0), ms(250), ms(750), ms(1750)]);
        let t = Timing::with_budget(ms(250));
        assert_eq!(t.send_offsets(), vec![ms(0)]);
        let t = Timing::with_budget(ms(251));
        assert_eq!(t.send_offsets(), vec![ms(0), ms(250)]);
        // A zero budget still sends once.
        assert_eq!(Timing::with_budget(ms(0)).send_offsets(), vec![ms(0)]);
        // RFC 6886 3.1: 9 sends, the last after 63.75 s, whatever the budget.
        let t = Timing::with_budget(Duration::from_secs(3600));
        let o = t.send_offsets();
        assert_eq!(o.len(), 9);
        assert_eq!(o[8], ms(63_750));
    }

    fn sample(epoch: u32, at: Instant) -> EpochSample {
        EpochSample { epoch, at }
    }

    #[test]
    fn natpmp_epoch_rule() {
        let t0 = Instant::now();
        let prev = sample(1000, t0);
        // Advancing with our clock: fine.
        assert!(!epoch_lost(
            Protocol::NatPmp,
            prev,
            sample(1010, t0 + ms(10_000))
        ));
        // Same second, no time passed.
        assert!(!epoch_lost(Protocol::NatPmp, prev, sample(1000, t0)));
        // Slack: up to 2 s behind 7/8 of elapsed is still fine (1000 + 8.75 - 2 = 1006.75).
        assert!(!epoch_lost(
            Protocol::NatPmp,
            prev,
            sample(1007, t0 + ms(10_000))
        ));
        assert!(epoch_lost(
            Protocol::NatPmp,
            prev,
            sample(1006, t0 + ms(10_000))
        ));
        // A reboot: the epoch starts again from about zero.
        assert!(epoch_lost(Protocol::NatPmp, prev, sample(3, t0 + ms(5000))));
        // Going back a little within the slack (reordering) is not a reboot.
        assert!(!epoch_lost(Protocol::NatPmp, prev, sample(999, t0)));
        assert!(epoch_lost(Protocol::NatPmp, prev, sample(997, t0)));
        // The server's clock running fast is no loss of state for NAT-PMP.
        assert!(!epoch_lost(Protocol::NatPmp, prev, sample(u32::MAX, t0)));
    }

    #[test]
    fn pcp_epoch_rule() {
        let t0 = Instant::now();
        let prev = sample(1000, t0);
        assert!(!epoch_lost(
            Protocol::Pcp,
            prev,
            sample(1010, t0 + ms(10_000))
        ));
        // Back by up to one second: reordering, fine; by more: lost.
        assert!(!epoch_lost(Protocol::Pcp, prev, sample(999, t0)));
        assert!(epoch_lost(Protocol::Pcp, prev, sample(998, t0)));
        // Server behind our clock by more than 2 s + 1/16.
        // client 100 s, server 91 s: 91 + 2 < 100 - 6.25 -> lost; server 92 s: not.
        assert!(epoch_lost(
            Protocol::Pcp,
            prev,
            sample(1091, t0 + ms(100_000))
        ));
        assert!(!epoch_lost(
            Protocol::Pcp,
            prev,
            sample(1092, t0 + ms(100_000))
        ));
        // Server ahead of our clock by too much is invalid too (RFC 6887 8.5).
        assert!(epoch_lost(
            Protocol::Pcp,
            prev,
            sample(1110, t0 + ms(100_000))
        ));
        assert!(!epoch_lost(
            Protocol::Pcp,
            prev,
            sample(1108, t0 + ms(100_000))
        ));
        assert!(epoch_lost(Protocol::Pcp, prev, sample(2, t0 + ms(3000))));
    }

    #[test]
    fn registry_counts_resets_per_server_and_protocol() {
        let server: IpAddr = "192.0.2.77".parse().unwrap();
        let t0 = Instant::now();
        let a = observe_epoch(Protocol::NatPmp, server, sample(500, t0));
        assert_eq!(
            a,
            EpochCheck {
                epoch: 500,
                rebooted: false,
                resets: 0
            }
        );
        let b = observe_epoch(Protocol::NatPmp, server, sample(505, t0 + ms(5000)));
        assert!(!b.rebooted);
        let c = observe_epoch(Protocol::NatPmp, server, sample(1, t0 + ms(6000)));
        assert_eq!(
            c,
            EpochCheck {
                epoch: 1,
                rebooted: true,
                resets: 1
            }
        );
        // The next answer compares with the new epoch: no second reboot.
        let d = observe_epoch(Protocol::NatPmp, server, sample(3, t0 + ms(8000)));
        assert_eq!((d.rebooted, d.resets), (false, 1));
        // An older answer arriving late does not count.
        let e = observe_epoch(Protocol::NatPmp, server, sample(505, t0 + ms(5500)));
        assert_eq!((e.rebooted, e.resets), (false, 1));
        // PCP state for the same address is separate.
        let p = observe_epoch(Protocol::Pcp, server, sample(1, t0 + ms(8000)));
        assert_eq!((p.rebooted, p.resets), (false, 0));
    }

    async fn fake_server(
        replies: impl Fn(u32, &[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<Instant>>) {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 2048];
            while let Ok(Ok((len, from))) =
                tokio::time::timeout(ms(400), server.recv_from(&mut buf)).await
            {
                seen.push(Instant::now());
                if let Some(reply) = replies(seen.len() as u32, &buf[..len]) {
                    server.send_to(&reply, from).await.unwrap();
                }
            }
            seen
        });
        (addr, task)
    }

    fn timing(initial: u64, budget: u64) -> Timing {
        Timing {
            initial: ms(initial),
            budget: ms(budget),
            max_attempts: 9,
        }
    }

    #[tokio::test]
    async fn an_answered_request_is_sent_once() {
        let (addr, server) = fake_server(|_, req| Some(req.to_vec())).await;
        let socket = connect(addr).unwrap();
        let answer = exchange(&socket, b"ping", &timing(20, 1000), |d| Ok(d.to_vec()))
            .await
            .unwrap();
        assert_eq!(answer.value, b"ping");
        assert_eq!(answer.attempts, 1);
        assert_eq!(answer.local.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            server.await.unwrap().len(),
            1,
            "no retransmission after an answer"
        );
    }

    #[tokio::test]
    async fn retransmits_on_the_doubling_schedule_until_answered() {
        // Answers only the third request.
        let (addr, server) =
            fake_server(|n, req| if n == 3 { Some(req.to_vec()) } else { None }).await;
        let socket = connect(addr).unwrap();
        let answer = exchange(&socket, b"x", &timing(40, 2000), |d| Ok(d.to_vec()))
            .await
            .unwrap();
        assert_eq!(answer.attempts, 3);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3);
        // Sends at 0, 40 and 120 ms: never early; the upper bounds leave room for a busy
        // machine.
        let second = seen[1] - seen[0];
        let third = seen[2] - seen[0];
        assert!(second >= ms(38) && second < ms(300), "{second:?}");
        assert!(third >= ms(118) && third < ms(500), "{third:?}");
    }

    #[tokio::test]
    async fn silence_is_a_timeout_within_the_budget() {
        let (addr, server) = fake_server(|_, _| None).await;
        let socket = connect(addr).unwrap();
        let started = Instant::now();
        let err = exchange(&socket, b"x", &timing(30, 300), |d| Ok(d.to_vec()))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(took >= ms(300) && took < ms(600), "{took:?}");
        // Sends at 0, 30, 90 and 210 ms; the next (450) is past the budget.
        assert_eq!(err.attempts(), 4);
        assert_eq!(err.meaning(), "TIMEOUT");
        assert_eq!(server.await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn rejected_datagrams_are_ignored_and_reported() {
        let (addr, _server) = fake_server(|_, _| Some(b"junk".to_vec())).await;
        let socket = connect(addr).unwrap();
        let err = exchange(&socket, b"x", &timing(20, 100), |_| {
            Err::<(), _>("not ours".to_string())
        })
        .await
        .unwrap_err();
        match err {
            ExchangeError::Timeout {
                ignored,
                last_ignored,
                ..
            } => {
                assert!(ignored >= 2);
                assert_eq!(last_ignored.as_deref(), Some("not ours"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_quickly() {
        // Bind and drop: nothing listens there any more, the kernel answers ICMP.
        let addr = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let socket = connect(addr).unwrap();
        let started = Instant::now();
        let err = exchange(&socket, b"x", &timing(250, 2000), |d| Ok(d.to_vec()))
            .await
            .unwrap_err();
        assert_eq!(err.meaning(), "REFUSED", "{err}");
        assert!(started.elapsed() < ms(1000));
    }

    #[tokio::test]
    async fn datagrams_from_elsewhere_never_reach_the_exchange() {
        // The server answers from a second socket (another port): a connected socket never
        // sees it, so the exchange times out.
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let mut buf = [0u8; 64];
            while let Ok(Ok((len, from))) =
                tokio::time::timeout(ms(200), server.recv_from(&mut buf)).await
            {
                other.send_to(&buf[..len], from).await.unwrap();
            }
        });
        let socket = connect(addr).unwrap();
        let err = exchange(&socket, b"x", &timing(20, 80), |d| Ok(d.to_vec()))
            .await
            .unwrap_err();
        assert_eq!(err.meaning(), "TIMEOUT");
        task.await.unwrap();
    }
}
