//! Promises for the hot calls, settled through one channel per JS thread.
//!
//! napi-rs's `async fn` creates a threadsafe function for every call (allocation, an env
//! cleanup hook, a uv handle opened and closed) and wakes the JS thread once per call. Here a
//! JS thread (the main thread, each worker, each Electron renderer) gets one threadsafe
//! function for its life: the network work runs on the tokio runtime as before, a finished
//! call puts its result in a shared queue, and the JS thread is woken only when the queue was
//! empty, then settles every promise waiting in it. The function is referenced (keeps Node
//! alive) only while calls are pending, as napi-rs's are.
//!
//! A call's first step runs on the calling thread, in the runtime's context, up to its first
//! wait: a hot call takes a spare connection and writes its request there (as libuv writes a
//! socket inline), instead of waiting for the runtime's thread to wake first, which cost a
//! context switch and 20-50 µs of wake-up on the request's way (issue 29). From its first
//! wait on, the call is the runtime's: the event loop never waits on the network.
//!
//! A panic in the work rejects the promise (as napi-rs does), and results that come back
//! after their environment is gone (a worker terminated mid-call) are dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{sys, Env, Error, Result, Status};

/// What a finished call hands the JS thread: its value to resolve with, or why it failed.
type Settle = Box<dyn FnOnce(sys::napi_env) -> std::result::Result<sys::napi_value, String> + Send>;

/// Shared by the JS thread and the runtime's threads.
struct Shared {
    queue: Mutex<Queue>,
    /// The JS thread's wake-up; `None` once its environment is gone.
    wake: Mutex<Option<Tsfn>>,
}

#[derive(Default)]
struct Queue {
    done: Vec<(u64, Settle)>,
    /// A wake-up is on its way: later results ride along.
    woken: bool,
}

struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: a threadsafe function is made to be called from any thread; it is only called
// under `Shared::wake`'s lock, which its finalizer takes before it is gone.
unsafe impl Send for Tsfn {}

impl Shared {
    fn push(&self, id: u64, settle: Settle) {
        let wake = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.done.push((id, settle));
            !std::mem::replace(&mut queue.woken, true)
        };
        if wake {
            let tsfn = self.wake.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(Tsfn(f)) = tsfn.as_ref() {
                // SAFETY: `f` is alive while it is in `wake` (see `finalize`).
                unsafe {
                    sys::napi_call_threadsafe_function(
                        *f,
                        ptr::null_mut(),
                        sys::ThreadsafeFunctionCallMode::nonblocking,
                    );
                }
            }
        }
    }
}

/// The JS thread's side: the promises waiting for a result.
struct Local {
    env: sys::napi_env,
    shared: Arc<Shared>,
    tsfn: sys::napi_threadsafe_function,
    pending: HashMap<u64, sys::napi_deferred>,
    next: u64,
}

thread_local! {
    /// One channel per environment on this thread (usually one; an Electron renderer can
    /// run several contexts on one thread, each with its own environment).
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on the tokio runtime and returns a promise of its result.
pub fn spawn<'env, T, F>(env: &'env Env, work: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check(unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) })?;
    let (id, shared) = LOCAL.with(|cell| -> Result<(u64, Arc<Shared>)> {
        let mut locals = cell.borrow_mut();
        let at = match locals.iter().position(|l| l.env == raw) {
            Some(at) => at,
            None => {
                locals.push(open(raw)?);
                locals.len() - 1
            }
        };
        let local = &mut locals[at];
        let id = local.next;
        local.next += 1;
        local.pending.insert(id, deferred);
        if local.pending.len() == 1 {
            // Calls are pending: keep the event loop alive until they are settled.
            check(unsafe { sys::napi_ref_threadsafe_function(raw, local.tsfn) })?;
        }
        Ok((id, local.shared.clone()))
    })?;
    // Boxed: tokio moves a task's future into its cell and its output out again, and the
    // whole exchange's state machine is kilobytes.
    let mut work = Box::pin(work);
    // The first step runs here, on the calling thread, in the runtime's context: up to the
    // call's first wait, which for a hot call is its reply (a request written to a spare
    // connection, as libuv writes a socket inline, instead of waiting for the runtime's
    // thread to wake and write it). Every wait is the runtime's: a call that waits is handed
    // to it, and its sockets and timers wake it there. Nothing here blocks: the sockets are
    // non-blocking and the locks are held for bookkeeping only.
    let first = napi::bindgen_prelude::within_runtime_if_available(|| {
        let mut step = Context::from_waker(std::task::Waker::noop());
        Pin::new(&mut CatchUnwind(AssertUnwindSafe(work.as_mut()))).poll(&mut step)
    });
    match first {
        Poll::Ready(result) => shared.push(id, settle_with(result)),
        Poll::Pending => {
            napi::bindgen_prelude::spawn(async move {
                let result = CatchUnwind(AssertUnwindSafe(work)).await;
                shared.push(id, settle_with(result));
            });
        }
    }
    Ok(PromiseRaw::new(raw, promise))
}

/// How the JS thread settles a call that returned `result` (or panicked).
fn settle_with<T: ToNapiValue + Send + 'static>(result: std::result::Result<T, String>) -> Settle {
    match result {
        Ok(value) => {
            Box::new(move |env| unsafe { T::to_napi_value(env, value) }.map_err(|e| e.reason))
        }
        Err(message) => Box::new(move |_| Err(message)),
    }
}

/// This thread's channel for `env`: its threadsafe function (not keeping Node alive yet) and a
/// cleanup hook that forgets it with the environment.
fn open(env: sys::napi_env) -> Result<Local> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        wake: Mutex::new(None),
    });
    let mut name = ptr::null_mut();
    let label = "upnp-native completions";
    check(unsafe {
        sys::napi_create_string_utf8(env, label.as_ptr().cast(), label.len() as isize, &mut name)
    })?;
    let context = Arc::into_raw(shared.clone()) as *mut c_void;
    let mut tsfn = ptr::null_mut();
    let status = unsafe {
        sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            context,
            Some(finalize),
            context,
            Some(deliver),
            &mut tsfn,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the context was not handed over.
        drop(unsafe { Arc::from_raw(context as *const Shared) });
        return Err(Error::new(
            Status::GenericFailure,
            "could not create the completion channel",
        ));
    }
    *shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = Some(Tsfn(tsfn));
    check(unsafe { sys::napi_unref_threadsafe_function(env, tsfn) })?;
    check(unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget), env as *mut c_void) })?;
    Ok(Local {
        env,
        shared,
        tsfn,
        pending: HashMap::new(),
        next: 0,
    })
}

/// On the JS thread: settles every finished call in the queue.
unsafe extern "C" fn deliver(
    env: sys::napi_env,
    _: sys::napi_value,
    context: *mut c_void,
    _: *mut c_void,
) {
    if env.is_null() {
        return; // the environment is being torn down
    }
    // SAFETY: `context` is the Arc leaked in `open`, alive until `finalize`.
    let shared = unsafe { &*(context as *const Shared) };
    let done = {
        let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.woken = false;
        std::mem::take(&mut queue.done)
    };
    LOCAL.with(|cell| {
        let mut locals = cell.borrow_mut();
        let Some(local) = locals.iter_mut().find(|l| l.env == env) else {
            return;
        };
        for (id, settle) in done {
            let Some(deferred) = local.pending.remove(&id) else {
                continue;
            };
            unsafe { settle_one(env, deferred, settle) };
        }
        if local.pending.is_empty() {
            unsafe { sys::napi_unref_threadsafe_function(env, local.tsfn) };
        }
    });
}

/// Resolves or rejects one promise, in a handle scope of its own.
unsafe fn settle_one(env: sys::napi_env, deferred: sys::napi_deferred, settle: Settle) {
    let mut scope = ptr::null_mut();
    unsafe { sys::napi_open_handle_scope(env, &mut scope) };
    // A panic must not unwind into N-API (an abort): it rejects this promise instead.
    let settled = std::panic::catch_unwind(AssertUnwindSafe(|| settle(env)))
        .unwrap_or_else(|_| Err("panic while converting the native result".to_string()));
    match settled {
        Ok(value) => unsafe {
            sys::napi_resolve_deferred(env, deferred, value);
        },
        Err(message) => unsafe {
            let mut text = ptr::null_mut();
            let mut error = ptr::null_mut();
            sys::napi_create_string_utf8(
                env,
                message.as_ptr().cast(),
                message.len() as isize,
                &mut text,
            );
            sys::napi_create_error(env, ptr::null_mut(), text, &mut error);
            sys::napi_reject_deferred(env, deferred, error);
        },
    }
    unsafe { sys::napi_close_handle_scope(env, scope) };
}

/// The threadsafe function is gone (its environment ended): results arriving later are
/// dropped, and the shared state is released.
unsafe extern "C" fn finalize(_: sys::napi_env, data: *mut c_void, _: *mut c_void) {
    // SAFETY: `data` is the Arc leaked in `open`; this is its one release.
    let shared = unsafe { Arc::from_raw(data as *const Shared) };
    *shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The environment is being torn down: its pending promises can never be settled.
unsafe extern "C" fn forget(env: *mut c_void) {
    LOCAL.with(|cell| {
        cell.borrow_mut().retain(|l| l.env as *mut c_void != env);
    });
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::GenericFailure,
            format!("N-API call failed ({status})"),
        ))
    }
}

/// A future whose panic becomes `Err(message)` instead of ending the task silently (which
/// would leave its promise pending forever).
struct CatchUnwind<F>(F);

impl<F: Future> Future for CatchUnwind<AssertUnwindSafe<F>> {
    type Output = std::result::Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0 .0) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Poll::Ready(Err(format!("panic in the native call: {message}")))
            }
        }
    }
}
