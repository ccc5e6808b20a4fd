//! One device's connections: how many at once, in which order, and the spare opened ahead.
//!
//! Routers close the connection after every reply (miniupnpd even when asked to keep it), so
//! every request costs a TCP handshake, one more round trip than the request itself. While a
//! request is in flight, the link opens a *spare* connection to the same device; the next
//! request takes it and goes out at once. A spare that stays idle for [`SPARE_IDLE`] is closed.
//! How many connections may be open at once, and how many spares are worth holding, is
//! [`Policy`]'s decision (it measures the handshakes); this module does the bookkeeping:
//! requests wait in a queue when the device is at its limit, deletes first. A request's
//! deadline holds however long it waited: a waiter that reaches it leaves the queue without
//! taking a connection, and one handed a connection keeps its own deadline, so every call
//! settles within its timeout (a queue of 10,000 calls behind a silent router included).
//!
//! Built on it, in this folder: [`http`] (one bounded exchange on a connection from the
//! link), [`http_reply`] (the reply framed and capped as it arrives), `http_trace` (the
//! exchange's trace events); [`policy`] is the decision above, fed by [`round_trip`] (the
//! kernel's measure of a handshake); `tests` drive it all against loopback routers shaped
//! like miniupnpd. Every request's [`Limits`] are here.

pub mod http;
pub mod http_reply;
mod http_trace;
pub mod policy;
pub mod round_trip;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout_at, Instant};

use crate::upnp::link::policy::{Policy, MAX_HANDSHAKES, SPARE_IDLE};
use crate::upnp::link::round_trip::handshake_round_trip;

/// A spare's handshake may take as long as a request's (a slow router's SYN-ACK).
const SPARE_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

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

/// The two ends of a connection: the device's address, and ours when the caller chose it
/// (IPv6 pinhole actions must come from the pinhole's own address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ends {
    pub remote: SocketAddr,
    pub local: Option<IpAddr>,
}

/// Why a connection could not be had.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The deadline passed (waiting for the device, or in the handshake).
    Timeout,
    /// The connect failed (refused, reset, unreachable).
    Connect(String),
}

/// The connections of one device (one IP address: its HTTP server's backlog is what we
/// spare; a device serving on several ports is still one loop, one CPU).
pub struct Link {
    state: Mutex<State>,
}

struct State {
    policy: Policy,
    /// Connections counted against the policy's limit: handshakes, spares and in use.
    open: usize,
    /// Handshakes under way (requests' and spares').
    handshakes: usize,
    /// Spares being opened (part of `handshakes`).
    opening: usize,
    spares: Vec<Spare>,
    urgent: VecDeque<Waiter>,
    normal: VecDeque<Waiter>,
    next_spare: u64,
    /// The most connections open at once since [`Link::take_most_open`] (tests, diagnostics).
    most_open: usize,
}

struct Spare {
    id: u64,
    ends: Ends,
    stream: TcpStream,
    /// Its local end, read when it connected: not a system call on the request's way.
    local: SocketAddr,
}

struct Waiter {
    ends: Ends,
    /// Past it the waiter is given nothing: its call has timed out.
    deadline: Instant,
    /// May be given a spare (not when retrying after a spare the device had closed).
    spare: bool,
    tx: oneshot::Sender<Grant>,
}

/// What a waiter is handed: a counted connection slot, and how it gets its connection.
struct Grant {
    ticket: Ticket,
    via: Via,
}

enum Via {
    /// A spare, already open, and its local end.
    Spare(TcpStream, SocketAddr),
    /// A handshake of its own, already counted.
    Handshake(HandshakeSlot),
}

/// The idle timer's hold on spare `id`. If the timer is dropped unfinished, its runtime is
/// shutting down (with its last environment): the spare goes too, because its socket belongs
/// to that runtime's reactor and could not serve a request on the next runtime.
struct SpareWatch {
    link: Option<Arc<Link>>,
    id: u64,
}

impl Drop for SpareWatch {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let mut state = link.lock();
            if let Some(i) = state.spares.iter().position(|s| s.id == self.id) {
                state.spares.swap_remove(i);
                state.open -= 1;
            }
        }
    }
}

/// A handshake counted in `State::handshakes` (a spare's also in `opening` and `open`). It
/// is given back when dropped, so that a request or spare dropped in the middle of its
/// handshake (a cancelled call, a discovery past its deadline, the runtime shut down with its
/// last environment) never leaves the link counting a handshake that is not under way, which
/// would stop the device's requests for good.
struct HandshakeSlot {
    link: Option<Arc<Link>>,
    spare: bool,
}

impl HandshakeSlot {
    /// The handshake ended and the caller settles the counts itself, with the lock held.
    fn settled(mut self) {
        self.link = None;
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let mut state = link.lock();
            state.handshakes -= 1;
            if self.spare {
                state.opening -= 1;
                state.open -= 1;
            }
            link.dispatch(&mut state);
        }
    }
}

/// One connection counted against the device's limit; dropping it frees the slot.
pub struct Ticket {
    link: Option<Arc<Link>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let mut state = link.lock();
            state.open -= 1;
            link.dispatch(&mut state);
        }
    }
}

/// A connection to the device, ready for one request.
pub struct Leased {
    pub stream: TcpStream,
    /// The connection's local end (the SOAP client needs it for `NewInternalClient`).
    pub local: SocketAddr,
    /// A spare: opened earlier, so the device may have closed it since (retry on a fresh one).
    pub reused: bool,
    pub ticket: Ticket,
}

/// See [`Link::snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub open: usize,
    pub handshakes: usize,
    pub spares: usize,
    pub waiting: usize,
    pub open_limit: usize,
    pub back_offs: usize,
    /// Whether the policy takes the link for a slow one (see `link/policy.rs`).
    pub slow_link: bool,
}

static LINKS: LazyLock<Mutex<HashMap<IpAddr, Arc<Link>>>> = LazyLock::new(Default::default);

/// Links kept for devices that have nothing open: beyond this many, idle ones are forgotten.
const KEEP_IDLE_LINKS: usize = 64;

impl Link {
    /// The link of the device at `ip` (one per process).
    pub fn of(ip: IpAddr) -> Arc<Link> {
        let mut all = LINKS.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() > KEEP_IDLE_LINKS && !all.contains_key(&ip) {
            all.retain(|_, link| Arc::strong_count(link) > 1 || !link.lock().is_idle());
        }
        all.entry(ip)
            .or_insert_with(|| Arc::new(Link::new()))
            .clone()
    }

    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                policy: Policy::default(),
                open: 0,
                handshakes: 0,
                opening: 0,
                spares: Vec::new(),
                urgent: VecDeque::new(),
                normal: VecDeque::new(),
                next_spare: 0,
                most_open: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection between `ends` for one request: a spare if one is open (and `spare`
    /// allows it), else a new one once the device is below its limit (`urgent` requests
    /// first), all before `limits.deadline`.
    pub async fn connection(
        self: &Arc<Self>,
        ends: Ends,
        limits: &Limits,
        spare: bool,
    ) -> Result<Leased, LinkError> {
        let deadline = limits.deadline;
        let Grant { ticket, via } = self.grant(ends, limits.urgent, deadline, spare).await?;
        let now = Instant::now();
        if now >= deadline {
            // Handed a slot in the very instant its time ran out: dropping the grant gives
            // the slot to the next waiter.
            return Err(LinkError::Timeout);
        }
        let (stream, local, reused) = match via {
            Via::Spare(stream, local) => (stream, local, true),
            Via::Handshake(slot) => {
                let stream = self
                    .handshake(ends, deadline.min(now + limits.connect_timeout), slot)
                    .await?;
                let local = stream
                    .local_addr()
                    .map_err(|e| LinkError::Connect(e.to_string()))?;
                (stream, local, false)
            }
        };
        self.open_spares(ends);
        Ok(Leased {
            stream,
            local,
            reused,
            ticket,
        })
    }

    /// The device answered a request `took` after it was written, at `at`: its queue is
    /// moving, and it may have more connections.
    pub fn answered(self: &Arc<Self>, took: Duration, at: Instant) {
        let mut state = self.lock();
        // The answered request's connection is already free again (+ 1).
        let at_limit = state.open + 1 >= state.policy.open_limit()
            || !state.urgent.is_empty()
            || !state.normal.is_empty();
        state.policy.answered(took, at_limit, at);
        self.dispatch(&mut state);
    }

    /// The device reset a connection in the middle of a request: back off at once.
    pub fn reset_seen(&self) {
        self.lock().policy.back_off();
    }

    async fn grant(
        self: &Arc<Self>,
        ends: Ends,
        urgent: bool,
        deadline: Instant,
        spare: bool,
    ) -> Result<Grant, LinkError> {
        let mut rx = {
            let mut state = self.lock();
            if let Some(grant) = self.try_grant(&mut state, ends, spare) {
                return Ok(grant);
            }
            let (tx, rx) = oneshot::channel();
            let queue = if urgent {
                &mut state.urgent
            } else {
                &mut state.normal
            };
            queue.push_back(Waiter {
                ends,
                deadline,
                spare,
                tx,
            });
            rx
        };
        match timeout_at(deadline, &mut rx).await {
            Ok(Ok(grant)) => Ok(grant),
            // Dispatch dropped the waiter: its deadline had passed.
            Ok(Err(_)) => Err(LinkError::Timeout),
            Err(_) => {
                // Closing `rx` makes dispatch skip the waiter; a grant sent in the meantime
                // goes back to the link when it drops here.
                rx.close();
                if let Ok(grant) = rx.try_recv() {
                    drop(grant);
                }
                Err(LinkError::Timeout)
            }
        }
    }

    /// A slot for a request between `ends` if the device has one now. Called with the lock held.
    fn try_grant(self: &Arc<Self>, state: &mut State, ends: Ends, spare: bool) -> Option<Grant> {
        // The newest spare between these ends that the device has not closed meanwhile.
        while let Some(i) = state.spares.iter().rposition(|s| spare && s.ends == ends) {
            let spare = state.spares.swap_remove(i);
            if still_open(&spare.stream) {
                return Some(Grant {
                    ticket: self.ticket(),
                    via: Via::Spare(spare.stream, spare.local),
                });
            }
            state.open -= 1;
        }
        // At the limit, a spare to another port of the device gives way to a request.
        if state.open >= state.policy.open_limit() && !state.spares.is_empty() {
            state.spares.remove(0);
            state.open -= 1;
        }
        if state.open < state.policy.open_limit() && state.handshakes < MAX_HANDSHAKES {
            state.count_opened();
            state.handshakes += 1;
            return Some(Grant {
                ticket: self.ticket(),
                via: Via::Handshake(HandshakeSlot {
                    link: Some(self.clone()),
                    spare: false,
                }),
            });
        }
        None
    }

    fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            link: Some(self.clone()),
        }
    }

    /// Hands free slots and spares to the waiters, deletes first. Called with the lock held.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        loop {
            let urgent = !state.urgent.is_empty();
            let queue = if urgent {
                &mut state.urgent
            } else {
                &mut state.normal
            };
            let Some(front) = queue.front() else { return };
            // A waiter whose time ran out takes no connection (dropping it tells it so).
            if front.tx.is_closed() || front.deadline <= Instant::now() {
                queue.pop_front();
                continue;
            }
            let (ends, spare) = (front.ends, front.spare);
            let Some(grant) = self.try_grant(state, ends, spare) else {
                return;
            };
            let queue = if urgent {
                &mut state.urgent
            } else {
                &mut state.normal
            };
            let waiter = queue.pop_front().expect("front exists");
            if let Err(unsent) = waiter.tx.send(grant) {
                // The waiter left just now: take the slot back without re-entering the lock.
                Self::take_back(state, unsent);
            }
        }
    }

    /// Undoes a grant nobody received (with the lock held).
    /// A spare handed to a waiter that left in that instant is closed rather than pooled
    /// again: pooling needs a new idle timer, which cannot be spawned safely under the lock.
    fn take_back(state: &mut State, mut grant: Grant) {
        grant.ticket.link = None;
        if let Via::Handshake(slot) = grant.via {
            slot.settled();
            state.handshakes -= 1;
        }
        state.open -= 1;
    }

    /// Connects for a granted slot, measuring the handshake for the policy.
    async fn handshake(
        self: &Arc<Self>,
        ends: Ends,
        deadline: Instant,
        slot: HandshakeSlot,
    ) -> Result<TcpStream, LinkError> {
        let (result, measured) = timed_connect(ends, deadline).await;
        let mut state = self.lock();
        slot.settled();
        state.handshakes -= 1;
        let outcome = match result {
            Ok(Ok(stream)) => {
                if let Some((took, round_trip)) = measured {
                    state.policy.handshake(took, round_trip);
                }
                Ok(prepare(stream))
            }
            Ok(Err(e)) => {
                state.policy.back_off();
                Err(LinkError::Connect(e.to_string()))
            }
            Err(_) => {
                state.policy.back_off();
                Err(LinkError::Timeout)
            }
        };
        self.dispatch(&mut state);
        outcome
    }

    /// Opens spares between `ends` while a request is in flight, as many as the policy wants
    /// and the limits allow. Nothing is opened while requests are waiting: the slots are theirs.
    fn open_spares(self: &Arc<Self>, ends: Ends) {
        let mut state = self.lock();
        let in_use = state
            .open
            .saturating_sub(state.handshakes + state.spares.len());
        let wanted = state.policy.spares_wanted(in_use);
        while state.spares.len() + state.opening < wanted
            && state.open < state.policy.open_limit()
            && state.handshakes < MAX_HANDSHAKES
            && state.urgent.is_empty()
            && state.normal.is_empty()
        {
            state.count_opened();
            state.handshakes += 1;
            state.opening += 1;
            let slot = HandshakeSlot {
                link: Some(self.clone()),
                spare: true,
            };
            tokio::spawn(self.clone().open_spare(ends, slot));
        }
    }

    async fn open_spare(self: Arc<Self>, ends: Ends, slot: HandshakeSlot) {
        let (result, measured) = timed_connect(ends, Instant::now() + SPARE_CONNECT_TIMEOUT).await;
        let id = {
            let mut state = self.lock();
            slot.settled();
            state.handshakes -= 1;
            state.opening -= 1;
            let opened = match result {
                Ok(Ok(stream)) => stream.local_addr().map(|local| (stream, local)).ok(),
                _ => None,
            };
            let id = match opened {
                Some((stream, local)) => {
                    if let Some((took, round_trip)) = measured {
                        state.policy.handshake(took, round_trip);
                    }
                    let id = state.next_spare;
                    state.next_spare += 1;
                    state.spares.push(Spare {
                        id,
                        ends,
                        stream: prepare(stream),
                        local,
                    });
                    Some(id)
                }
                _ => {
                    state.policy.back_off();
                    state.open -= 1;
                    None
                }
            };
            self.dispatch(&mut state);
            id
        };
        if let Some(id) = id {
            let watch = SpareWatch {
                link: Some(self.clone()),
                id,
            };
            self.close_when_idle(watch).await;
        }
    }

    /// Closes spare `id` if nobody took it within [`SPARE_IDLE`].
    async fn close_when_idle(self: Arc<Self>, mut watch: SpareWatch) {
        sleep(SPARE_IDLE).await;
        watch.link = None;
        let id = watch.id;
        let mut state = self.lock();
        if let Some(i) = state.spares.iter().position(|s| s.id == id) {
            state.spares.swap_remove(i);
            state.open -= 1;
            self.dispatch(&mut state);
        }
    }

    /// The most connections that were open at once since the last call (then: since the
    /// link was made); starts counting again from those open now.
    pub fn take_most_open(&self) -> usize {
        let mut state = self.lock();
        let open = state.open;
        std::mem::replace(&mut state.most_open, open)
    }

    /// What the link holds and allows now (tests and diagnostics).
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            open: state.open,
            handshakes: state.handshakes,
            spares: state.spares.len(),
            waiting: state.urgent.len() + state.normal.len(),
            open_limit: state.policy.open_limit(),
            back_offs: state.policy.back_offs(),
            slow_link: state.policy.slow_link(),
        }
    }
}

impl State {
    /// One more connection counted open (a handshake starts, for a request or a spare).
    fn count_opened(&mut self) {
        self.open += 1;
        self.most_open = self.most_open.max(self.open);
    }

    fn is_idle(&self) -> bool {
        self.open == 0 && self.urgent.is_empty() && self.normal.is_empty()
    }
}

/// What the policy learns from one connected handshake: its time by our clock (up to the
/// moment it connected, not counting a wait for the link's lock) and the kernel's round trip.
type Measured = Option<(Duration, Option<Duration>)>;

/// [`connect`] by `deadline`, measured for the policy when it connects.
async fn timed_connect(
    ends: Ends,
    deadline: Instant,
) -> (
    Result<std::io::Result<TcpStream>, tokio::time::error::Elapsed>,
    Measured,
) {
    let started = Instant::now();
    let result = timeout_at(deadline, connect(ends)).await;
    let measured = match &result {
        Ok(Ok(stream)) => Some((started.elapsed(), handshake_round_trip(stream))),
        _ => None,
    };
    (result, measured)
}

/// A TCP connection between `ends`: from the chosen local address, else the system's choice.
async fn connect(ends: Ends) -> std::io::Result<TcpStream> {
    let Some(local) = ends.local else {
        return TcpStream::connect(ends.remote).await;
    };
    let socket = if ends.remote.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(ends.remote).await
}

/// Socket options for every connection: no Nagle (each request is one small write) and a
/// reset on close, so that a request given up at its deadline does not reach the router
/// seconds later from the kernel's retransmissions.
fn prepare(stream: TcpStream) -> TcpStream {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    stream
}

/// An idle connection the device has not closed: nothing to read yet. (A router that closed
/// it, or sent something unasked such as a 408, makes it unusable.)
fn still_open(stream: &TcpStream) -> bool {
    let mut probe = [MaybeUninit::<u8>::uninit(); 1];
    matches!(
        socket2::SockRef::from(stream).peek(&mut probe),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}
