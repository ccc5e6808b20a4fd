//! The tokio runtime napi-rs runs the network work on: one worker thread instead of one per
//! CPU. The work is waiting on sockets, never computing; with two workers each call woke
//! both and migrated between them (`perf stat`: 16 context switches and 1.3 migrations per
//! add+delete pair), which costs more than the work itself on a 2-core machine.

use std::sync::Once;

static ONCE: Once = Once::new();

/// Registers the runtime before the first call needs one (each environment that loads the
/// addon runs this; the first one builds it).
#[napi_derive::module_init]
fn one_worker_runtime() {
    ONCE.call_once(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("upnp-native")
            .enable_all()
            .build();
        // Without it napi-rs builds its default runtime on first use: slower, still correct.
        if let Ok(runtime) = runtime {
            napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
        }
    });
}
