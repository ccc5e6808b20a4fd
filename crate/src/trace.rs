//! Exchange events for diagnostics: what went over the wire (SSDP datagrams, HTTP heads and
//! bodies, SOAP outcomes, NAT-PMP/PCP messages) and what discovery decided, reported only for
//! calls someone listens to.
//!
//! A call is traced when the caller opened it with [`open_call`] (the N-API layer does, when a
//! logger, `NODE_DEBUG` or a `diagnostics_channel` subscriber wants it) and ran its work inside
//! [`scoped`]. The hooks in the protocol code call [`emit`] with a closure that builds the
//! event; while no traced call is running anywhere in the process that is one relaxed atomic
//! load and a branch: nothing is allocated, formatted or copied. Inside a traced call the
//! event goes to the call's [`Sink`] (the N-API layer's queue for its JS thread).
//!
//! Every byte an event carries is already bounded by the caps of the exchange that read it
//! (`limits.rs`, the HTTP and SOAP body caps, the SSDP and PXP datagram sizes); free text is
//! cut to [`MAX_ERROR_CHARS`].

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::task::futures::TaskLocalFuture;
use tokio_util::either::Either;

use crate::limits::{cap, MAX_ERROR_CHARS};

/// What happened. Each kind's name is what JavaScript sees (`LogRecord.event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An M-SEARCH went out (`head`: the datagram, `peer`: where to, `detail`: the interface).
    SsdpSent,
    /// A datagram arrived on the search socket (`body`: its bytes, `detail`: what became of it).
    SsdpReceived,
    /// A connection for one request: opened, a spare reused, or refused (`detail`).
    HttpConnection,
    /// A request head and body as sent.
    HttpRequest,
    /// A reply: status, head, body, time since the request was written.
    HttpResponse,
    /// No (complete) reply: timeout, reset, too large, not HTTP.
    HttpFailed,
    /// A SOAP action's outcome: its values, or the fault's code and words.
    SoapResult,
    /// A device classified: which connection service it uses and its status, or why not.
    Described,
    /// Discovery's deadline passed while a device was still being described.
    Deadline,
    /// A NAT-PMP or PCP request sent (`body`: the message, `attempt`: 1, 2, ...).
    PxpSent,
    /// A datagram from the NAT-PMP/PCP server: the answer, or ignored (`detail` says why).
    PxpReceived,
    /// No answer: timeout, refused, unreachable.
    PxpFailed,
    /// Records a listener could not hold (`detail`: how many); see `limits::MAX_TRACE_RECORDS`.
    Dropped,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::SsdpSent => "ssdp.sent",
            Kind::SsdpReceived => "ssdp.received",
            Kind::HttpConnection => "http.connection",
            Kind::HttpRequest => "http.request",
            Kind::HttpResponse => "http.response",
            Kind::HttpFailed => "http.failed",
            Kind::SoapResult => "soap.result",
            Kind::Described => "upnp.described",
            Kind::Deadline => "upnp.deadline",
            Kind::PxpSent => "pxp.sent",
            Kind::PxpReceived => "pxp.received",
            Kind::PxpFailed => "pxp.failed",
            Kind::Dropped => "trace.dropped",
        }
    }
}

/// One event. Only the fields its kind uses are set.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: Kind,
    pub time: SystemTime,
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// A description or control URL, or a request's path.
    pub url: Option<String>,
    /// The SOAP action, or the HTTP method.
    pub action: Option<String>,
    pub status: Option<u16>,
    /// A UPnP fault's or a NAT-PMP/PCP result code.
    pub code: Option<i64>,
    /// Text: an HTTP head (request or reply), an M-SEARCH we sent.
    pub head: Option<String>,
    /// Bytes as they went over the wire: HTTP bodies, datagrams.
    pub body: Option<Bytes>,
    pub elapsed: Option<Duration>,
    pub attempt: Option<u32>,
    /// The HTTP exchange a request and its reply (or failure) share.
    pub exchange: Option<u32>,
    /// Free text: an outcome, an error, a device's summary (capped).
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            time: SystemTime::now(),
            peer: None,
            local: None,
            url: None,
            action: None,
            status: None,
            code: None,
            head: None,
            body: None,
            elapsed: None,
            attempt: None,
            exchange: None,
            detail: None,
        }
    }

    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    pub fn local(mut self, local: SocketAddr) -> Self {
        self.local = Some(local);
        self
    }

    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }

    pub fn head(mut self, head: impl Into<String>) -> Self {
        self.head = Some(head.into());
        self
    }

    pub fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }

    pub fn elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = Some(elapsed);
        self
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = Some(attempt);
        self
    }

    pub fn exchange(mut self, exchange: Option<u32>) -> Self {
        self.exchange = exchange;
        self
    }

    pub fn detail(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = Some(cap(detail.as_ref(), MAX_ERROR_CHARS));
        self
    }

    /// Bytes of text and body this event holds (the N-API queue's budget).
    pub fn size(&self) -> usize {
        [&self.url, &self.action, &self.head, &self.detail]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>()
            + self.body.as_ref().map_or(0, Bytes::len)
            + 128
    }
}

/// Where a traced call's events go (the N-API layer's queue for the JS thread that made it).
pub trait Sink: Send + Sync {
    fn record(&self, call: u32, event: Event);
}

/// Traced work alive in the process (scopes and their inherited copies): the off switch.
static TRACED: AtomicUsize = AtomicUsize::new(0);
/// Events built since the process started (the "nothing is built when off" proof).
static BUILT: AtomicU64 = AtomicU64::new(0);
static NEXT_CALL: AtomicU32 = AtomicU32::new(1);
static NEXT_EXCHANGE: AtomicU32 = AtomicU32::new(1);
/// Calls opened and not yet closed, with their sinks.
static CALLS: LazyLock<Mutex<HashMap<u32, Arc<dyn Sink>>>> = LazyLock::new(Default::default);

/// A traced call's identity inside its tasks.
#[derive(Clone)]
pub struct Context {
    call: u32,
    sink: Arc<dyn Sink>,
    _alive: Arc<Alive>,
}

/// Counts traced work in [`TRACED`] while any copy of a context lives.
struct Alive;

impl Alive {
    fn new() -> Arc<Self> {
        TRACED.fetch_add(1, Ordering::Relaxed);
        Arc::new(Alive)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        TRACED.fetch_sub(1, Ordering::Relaxed);
    }
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// Registers a call whose events go to `sink`; its id is what the caller passes as `trace`.
pub fn open_call(sink: Arc<dyn Sink>) -> u32 {
    let mut calls = CALLS.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
        if id != 0 && !calls.contains_key(&id) {
            calls.insert(id, sink);
            return id;
        }
    }
}

/// Forgets a call (its scope, if still running, keeps its sink until it ends).
pub fn close_call(id: u32) {
    CALLS.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
}

/// Work that may be traced: as it is, or inside its call's context.
pub type Traced<F> = Either<TaskLocalFuture<Context, F>, F>;

/// Runs `work` as part of call `trace` (opened with [`open_call`]); untraced when `None` or
/// when the call is unknown.
pub fn scoped<F: Future>(trace: Option<u32>, work: F) -> Traced<F> {
    let sink = trace.and_then(|id| {
        let calls = CALLS.lock().unwrap_or_else(|p| p.into_inner());
        calls.get(&id).map(|sink| (id, sink.clone()))
    });
    match sink {
        Some((call, sink)) => Either::Left(CONTEXT.scope(
            Context {
                call,
                sink,
                _alive: Alive::new(),
            },
            work,
        )),
        None => Either::Right(work),
    }
}

/// Work spawned as a task of its own (a device classified during discovery, a cleanup) stays
/// part of the call that spawned it.
pub fn inherit<F: Future>(work: F) -> Traced<F> {
    let context = if on() {
        CONTEXT.try_with(Context::clone).ok()
    } else {
        None
    };
    match context {
        Some(context) => Either::Left(CONTEXT.scope(context, work)),
        None => Either::Right(work),
    }
}

/// Whether any traced work runs: the hooks' one check.
#[inline]
pub fn on() -> bool {
    TRACED.load(Ordering::Relaxed) != 0
}

/// Reports an event of the current call, built by `build` only if the call is traced.
#[inline]
pub fn emit(build: impl FnOnce() -> Event) {
    if on() {
        emit_traced(build);
    }
}

#[cold]
fn emit_traced(build: impl FnOnce() -> Event) {
    let _ = CONTEXT.try_with(|context| {
        BUILT.fetch_add(1, Ordering::Relaxed);
        context.sink.record(context.call, build());
    });
}

/// A number for an HTTP exchange whose request and reply are traced (pairs them up).
pub fn next_exchange() -> u32 {
    NEXT_EXCHANGE.fetch_add(1, Ordering::Relaxed)
}

/// Events built since the process started.
pub fn built() -> u64 {
    BUILT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(u32, Kind)>>);

    impl Sink for Collect {
        fn record(&self, call: u32, event: Event) {
            self.0.lock().unwrap().push((call, event.kind));
        }
    }

    #[tokio::test]
    async fn only_traced_calls_build_events() {
        let sink = Arc::new(Collect::default());
        let untraced = async {
            emit(|| panic!("built while nobody listens"));
        };
        scoped(None, untraced).await;
        let id = open_call(sink.clone());
        scoped(Some(id), async {
            emit(|| Event::new(Kind::SoapResult));
            // A task spawned inside the call stays in it.
            tokio::spawn(inherit(async { emit(|| Event::new(Kind::Described)) }))
                .await
                .unwrap();
        })
        .await;
        close_call(id);
        // A closed call is not traced any more.
        scoped(Some(id), async {
            emit(|| panic!("built for a closed call"))
        })
        .await;
        assert_eq!(
            *sink.0.lock().unwrap(),
            vec![(id, Kind::SoapResult), (id, Kind::Described)]
        );
    }

    #[test]
    fn free_text_is_capped() {
        let long = "x".repeat(MAX_ERROR_CHARS + 10);
        let e = Event::new(Kind::HttpFailed).detail(&long);
        assert_eq!(e.detail.unwrap().chars().count(), MAX_ERROR_CHARS + 1);
    }
}
