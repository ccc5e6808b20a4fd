//! Cancelling one call from JS. `lib/` makes a `CallCancel` for a call given an `AbortSignal`
//! and cancels it when the signal aborts: the JS promise has settled already (with the
//! signal's reason); this stops the work, and an add or delete that may have reached the
//! router is finished as a timed-out one is (`upnp/leftovers.rs`).

use napi_derive::napi;
use tokio_util::sync::CancellationToken;

/// One call's cancel handle: given to a call, `cancel()` stops it.
#[napi]
#[derive(Default)]
pub struct CallCancel {
    token: CancellationToken,
}

#[napi]
impl CallCancel {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the call it was given to. Idempotent.
    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// The token of a call's optional `CallCancel`, to move into its work.
pub fn token(cancel: Option<&CallCancel>) -> Option<CancellationToken> {
    cancel.map(|c| c.token.clone())
}
