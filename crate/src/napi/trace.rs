//! Trace records across N-API: a traced call's events (see `crate::trace`) wait in a queue of
//! the JS thread that made the call, which takes them with `traceDrain()`: when a wake-up
//! arrives (the queue was empty and got a record), and right after the call settles, so that
//! every record of a call is delivered before its result is used. Nothing here runs unless
//! JavaScript opened a traced call with `traceCall()`.
//!
//! A call gets its id as its trailing `trace` argument (the SOAP calls: a positional argument
//! left out costs nothing, while an object field is looked up by name on every call, about
//! 3000 instructions in V8 per call, measured with callgrind) or as the `trace` field of its
//! options (discovery, from a URL, NAT-PMP/PCP, the probe: calls made once in a while).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::limits::{MAX_TRACE_BYTES, MAX_TRACE_RECORDS};
use crate::trace::{self, Event, Sink};

/// One event of a traced call, as JavaScript receives it (`lib/log/` turns it into a
/// `LogRecord`). Strings other than `head`, `detail`, `url`, `action`, `peer` and `local` are
/// ours; those may carry what a device sent and are escaped where they are printed.
#[napi(object)]
pub struct TraceRecord {
    /// The call it belongs to (`traceCall()`'s id).
    pub call: u32,
    /// `ssdp.sent`, `http.response`, ... (`trace::Kind::name`).
    pub event: String,
    /// Milliseconds since the Unix epoch.
    pub time: f64,
    pub peer: Option<String>,
    pub local: Option<String>,
    pub url: Option<String>,
    pub action: Option<String>,
    pub status: Option<u32>,
    pub code: Option<i64>,
    pub head: Option<String>,
    /// Bytes as they went over the wire.
    pub body: Option<Buffer>,
    pub elapsed_ms: Option<f64>,
    pub attempt: Option<u32>,
    /// The HTTP exchange a request and its reply (or failure) share.
    pub exchange: Option<u32>,
    pub detail: Option<String>,
}

impl From<(u32, Event)> for TraceRecord {
    fn from((call, e): (u32, Event)) -> Self {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        Self {
            call,
            event: e.kind.name().to_string(),
            time: e.time.duration_since(UNIX_EPOCH).map(ms).unwrap_or(0.0),
            peer: e.peer.map(|a| a.to_string()),
            local: e.local.map(|a| a.to_string()),
            url: e.url,
            action: e.action,
            status: e.status.map(u32::from),
            code: e.code,
            head: e.head,
            body: e.body.map(|b| Buffer::from(b.to_vec())),
            elapsed_ms: e.elapsed.map(ms),
            attempt: e.attempt,
            exchange: e.exchange,
            detail: e.detail,
        }
    }
}

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

/// One JS thread's queue of records.
#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    /// Called (without arguments) when the queue gets its first record since the last drain.
    wake: Mutex<Option<Wake>>,
}

#[derive(Default)]
struct Pending {
    records: Vec<(u32, Event)>,
    bytes: usize,
    dropped: u32,
    woken: bool,
}

impl Sink for Queue {
    fn record(&self, call: u32, event: Event) {
        let wake = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let size = event.size();
            if p.records.len() >= MAX_TRACE_RECORDS || p.bytes + size > MAX_TRACE_BYTES {
                p.dropped = p.dropped.saturating_add(1);
                return;
            }
            p.bytes += size;
            p.records.push((call, event));
            !std::mem::replace(&mut p.woken, true)
        };
        if wake {
            if let Some(f) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                let _ = f.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }
}

thread_local! {
    /// The queue of each environment on this thread.
    static QUEUES: RefCell<Vec<(usize, Arc<Queue>)>> = const { RefCell::new(Vec::new()) };
}

fn queue_of(env: &Env) -> Result<Arc<Queue>> {
    let key = env.raw() as usize;
    if let Some(found) = QUEUES.with(|q| {
        q.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, q)| q.clone())
    }) {
        return Ok(found);
    }
    let queue = Arc::new(Queue::default());
    QUEUES.with(|q| q.borrow_mut().push((key, queue.clone())));
    // The environment's end (a worker terminated) forgets its queue.
    env.add_env_cleanup_hook(key, |key| {
        QUEUES.with(|q| q.borrow_mut().retain(|(k, _)| *k != key));
    })?;
    Ok(queue)
}

/// Calls `onRecords` (with no arguments) whenever this thread's queue gets records after being
/// empty; it should then call `traceDrain()`. The callback does not keep Node alive.
#[napi]
pub fn trace_listen(env: &Env, on_records: Function<(), ()>) -> Result<()> {
    let wake = on_records
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    *queue_of(env)?
        .wake
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(wake);
    Ok(())
}

/// Opens a traced call: pass the id as the `trace` option of the call whose records you want.
#[napi]
pub fn trace_call(env: &Env) -> Result<u32> {
    let queue = queue_of(env)?;
    Ok(trace::open_call(queue))
}

/// Takes this thread's queued records (oldest first); `ended`, a call that has settled, is
/// forgotten. Records that did not fit the queue come first as one `trace.dropped` record.
#[napi]
pub fn trace_drain(env: &Env, ended: Option<u32>) -> Result<Vec<TraceRecord>> {
    if let Some(id) = ended {
        trace::close_call(id);
    }
    let queue = queue_of(env)?;
    let (records, dropped) = {
        let mut p = queue.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.woken = false;
        p.bytes = 0;
        (
            std::mem::take(&mut p.records),
            std::mem::take(&mut p.dropped),
        )
    };
    let mut out = Vec::with_capacity(records.len() + 1);
    if dropped > 0 {
        let note = Event::new(trace::Kind::Dropped).detail(format!(
            "{dropped} records dropped: at most {MAX_TRACE_RECORDS} records ({} MiB) wait for one thread",
            MAX_TRACE_BYTES >> 20
        ));
        out.push(TraceRecord::from((0, note)));
    }
    out.extend(records.into_iter().map(TraceRecord::from));
    Ok(out)
}

/// Trace events built since the process started: tests prove with it that nothing is built
/// while nobody listens.
#[napi(js_name = "__traceEventsBuiltForTests")]
pub fn trace_events_built() -> f64 {
    trace::built() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_holds_at_most_the_caps_and_counts_the_rest() {
        let queue = Queue::default();
        for _ in 0..MAX_TRACE_RECORDS + 10 {
            queue.record(1, Event::new(trace::Kind::SsdpSent));
        }
        let p = queue.pending.lock().unwrap();
        assert_eq!((p.records.len(), p.dropped), (MAX_TRACE_RECORDS, 10));
        drop(p);

        let big = Queue::default();
        let body = bytes::Bytes::from(vec![0u8; 1 << 20]);
        for _ in 0..20 {
            big.record(1, Event::new(trace::Kind::HttpResponse).body(body.clone()));
        }
        let p = big.pending.lock().unwrap();
        assert!(p.bytes <= MAX_TRACE_BYTES);
        assert_eq!(p.records.len() + p.dropped as usize, 20);
        assert!(p.dropped >= 4);
    }
}
