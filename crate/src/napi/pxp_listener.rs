//! The N-API surface of hearing NAT-PMP/PCP announcements ([`crate::pxp::announcements`]):
//! a listener for one server, reporting each announcement it makes.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::pxp::announcements::{self, CLIENT_PORT};
use crate::pxp::transport::{Protocol, SERVER_PORT};
use crate::route;

#[napi(object)]
pub struct PxpListenerOptions {
    /// The NAT-PMP/PCP server whose announcements count (`192.168.1.1`, `fe80::1%eth0`): the
    /// one the mappings were made with. Over IPv6 it also picks the family heard.
    pub server: String,
}

#[napi(object)]
pub struct PxpAnnouncement {
    #[napi(ts_type = "'natpmp' | 'pcp'")]
    pub via: String,
    /// The server's epoch as announced (a hint: the renewal it prompts is what is judged).
    pub epoch: u32,
    /// NAT-PMP's announcement: the server's new external address.
    pub external_address: Option<String>,
    /// Address the announcement came from.
    pub from: String,
}

/// Hears what a NAT-PMP/PCP server announces (a restart, a new external address) on UDP 5350,
/// shared with other listeners. Passive: it never sends. Its callback does not keep Node alive.
#[napi]
pub struct PxpAnnouncementListener {
    cancel: CancellationToken,
}

#[napi]
impl PxpAnnouncementListener {
    #[napi(constructor)]
    pub fn new(
        options: PxpListenerOptions,
        on_announcement: Function<PxpAnnouncement, ()>,
    ) -> Result<Self> {
        let (server, _) =
            route::parse_gateway(&options.server).map_err(|e| Error::new(Status::InvalidArg, e))?;
        let socket = announcements::open_listener(server, CLIENT_PORT).map_err(|e| {
            Error::new(
                Status::GenericFailure,
                format!("NAT-PMP/PCP announcement listener: {e}"),
            )
        })?;
        let callback = on_announcement
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        let cancel = CancellationToken::new();
        napi::bindgen_prelude::spawn(announcements::listen(
            socket,
            server,
            SERVER_PORT,
            cancel.clone(),
            move |heard| {
                let event = PxpAnnouncement {
                    via: match heard.protocol {
                        Protocol::NatPmp => "natpmp",
                        Protocol::Pcp => "pcp",
                    }
                    .to_string(),
                    epoch: heard.epoch,
                    external_address: heard.external_address.map(|a| a.to_string()),
                    from: heard.from.ip().to_string(),
                };
                let _ = callback.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            },
        ));
        Ok(Self { cancel })
    }

    /// Stops listening and releases the socket. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.cancel.cancel();
    }
}

impl Drop for PxpAnnouncementListener {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
