//! The N-API surface: plain data in, plain data out, every network call a Promise run on
//! napi-rs's tokio runtime. Godot's validation order lives in `lib/godot/`; this layer re-checks
//! ranges so that no JS value can reach the core unchecked.
//!
//! Panics: napi-rs settles a panicking async call as a rejected promise (`panic = "unwind"`)
//! and `catch_unwind` does the same for sync calls; `lib/native/convert.ts` turns such a
//! rejection into `UNKNOWN_ERROR`, so a bug can never take the Node process down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::errors::{Failure, UpnpResult};
use crate::napi::cancel::{self, CallCancel};
use crate::napi::check;
use crate::napi::completion;
use crate::napi::NativeFailure;
use crate::trace;
use crate::upnp::actions::{self, Mapping};
use crate::upnp::device::connections::ConnectionInfo;
use crate::upnp::device::from_url;
use crate::upnp::device::DeviceInfo;
use crate::upnp::discovery::notify;
use crate::upnp::discovery::ssdp::SocketOptions;
use crate::upnp::discovery::{self, DiscoverConfig};
use crate::upnp::soap::Target;

/// One WAN connection service of a gateway (see `upnp::connections`).
#[napi(object)]
pub struct NativeConnection {
    pub service_type: String,
    pub control_url: String,
    pub igd_status: u32,
    /// `NewConnectionStatus` as the router wrote it ("" if it was not asked).
    pub connection_status: String,
    pub external_address: String,
    pub double_nat: bool,
    pub last_error: Option<NativeFailure>,
}

impl From<ConnectionInfo> for NativeConnection {
    fn from(c: ConnectionInfo) -> Self {
        Self {
            service_type: c.service_type,
            control_url: c.control_url,
            igd_status: c.igd_status as u32,
            connection_status: c.connection_status,
            external_address: c.external_address,
            double_nat: c.double_nat,
            last_error: c.last_error.map(Into::into),
        }
    }
}

#[napi(object)]
pub struct NativeDevice {
    pub description_url: String,
    pub service_type: String,
    pub igd_control_url: String,
    pub igd_service_type: String,
    pub igd_our_addr: String,
    pub igd_status: u32,
    pub external_address: String,
    pub double_nat: bool,
    pub friendly_name: String,
    pub manufacturer: String,
    pub model_name: String,
    pub server: String,
    pub boot_id: Option<u32>,
    /// Reboots of this device seen by this process so far (BOOTID changes, judged in Rust).
    pub resets: u32,
    pub last_error: Option<NativeFailure>,
    /// Every WAN connection service, in description order; `igd*` name the one in use.
    pub connections: Vec<NativeConnection>,
    /// The IPv6 pinhole service (`WANIPv6FirewallControl`), "" when the device has none.
    pub firewall_control_url: String,
    pub firewall_service_type: String,
}

impl From<DeviceInfo> for NativeDevice {
    fn from(d: DeviceInfo) -> Self {
        Self {
            description_url: d.description_url,
            service_type: d.service_type,
            igd_control_url: d.igd_control_url,
            igd_service_type: d.igd_service_type,
            igd_our_addr: d.igd_our_addr,
            igd_status: d.igd_status as u32,
            external_address: d.external_address,
            double_nat: d.double_nat,
            friendly_name: d.friendly_name,
            manufacturer: d.manufacturer,
            model_name: d.model_name,
            server: d.server,
            boot_id: d.boot_id,
            resets: d.resets,
            last_error: d.last_error.map(Into::into),
            connections: d.connections.into_iter().map(Into::into).collect(),
            firewall_control_url: d.firewall_control_url,
            firewall_service_type: d.firewall_service_type,
        }
    }
}

#[napi(object)]
pub struct DiscoverOptions {
    pub timeout_ms: u32,
    pub ttl: u32,
    pub device_filter: String,
    pub multicast_if: String,
    /// Godot's `discover_local_port`: 0 ephemeral, 1 = 1900, else that port.
    pub local_port: u32,
    pub ipv6: bool,
    pub until_gateway: bool,
    pub request_timeout_ms: u32,
    /// A traced call's id (`traceCall()`): its exchanges are reported (diagnostics).
    pub trace: Option<u32>,
}

#[napi(object)]
pub struct DiscoverResult {
    pub devices: Vec<NativeDevice>,
    /// Absent on success.
    pub failure: Option<NativeFailure>,
    /// Valid SSDP replies received, before filtering and de-duplication.
    pub replies: u32,
}

/// One discovery run, cancellable from JS (an `AbortSignal` in `index.ts`).
#[napi]
pub struct Discovery {
    config: DiscoverConfig,
    cancel: CancellationToken,
    started: AtomicBool,
    trace: Option<u32>,
}

#[napi]
impl Discovery {
    #[napi(constructor)]
    pub fn new(options: DiscoverOptions) -> Result<Self> {
        let local_port = u16::try_from(options.local_port)
            .map_err(|_| Error::new(Status::InvalidArg, "discoverLocalPort must be 0..65535"))?;
        if options.ttl > 255 {
            return Err(Error::new(Status::InvalidArg, "ttl must be 0..255"));
        }
        Ok(Self {
            config: DiscoverConfig {
                socket: SocketOptions {
                    ipv6: options.ipv6,
                    multicast_if: options.multicast_if,
                    local_port,
                    ttl: options.ttl,
                },
                timeout: Duration::from_millis(options.timeout_ms.into()),
                device_filter: options.device_filter,
                until_gateway: options.until_gateway,
                request_timeout: Duration::from_millis(options.request_timeout_ms.max(1).into()),
            },
            cancel: CancellationToken::new(),
            started: AtomicBool::new(false),
            trace: options.trace,
        })
    }

    /// Resolves with the outcome, or with `null` when cancelled first.
    #[napi(ts_return_type = "Promise<DiscoverResult | null>")]
    pub fn run<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<DiscoverResult>>> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(Error::new(Status::GenericFailure, "a Discovery runs once"));
        }
        let config = self.config.clone();
        let cancel = self.cancel.clone();
        env.spawn_future(trace::scoped(self.trace, async move {
            Ok(match discovery::discover(config, cancel).await {
                Ok(outcome) => Some(DiscoverResult {
                    devices: outcome.devices.into_iter().map(Into::into).collect(),
                    // No reply at all is NO_DEVICES without a failure of its own: say so here.
                    failure: match outcome.error {
                        Some(f) => Some(f.into()),
                        None if outcome.result != UpnpResult::Success => Some(
                            Failure::new(outcome.result, "no device answered the search").into(),
                        ),
                        None => None,
                    },
                    replies: u32::try_from(outcome.replies).unwrap_or(u32::MAX),
                }),
                Err(discovery::Cancelled) => None,
            })
        }))
    }

    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

/// One device opened from its description URL: the device, or why not (absent on success).
#[napi(object)]
pub struct DeviceResult {
    pub device: Option<NativeDevice>,
    pub failure: Option<NativeFailure>,
}

/// One device from its description URL, without a search.
#[napi]
pub async fn device_from_url(
    url: String,
    request_timeout_ms: u32,
    trace: Option<u32>,
) -> DeviceResult {
    trace::scoped(trace, device_from_url_untraced(url, request_timeout_ms)).await
}

async fn device_from_url_untraced(url: String, request_timeout_ms: u32) -> DeviceResult {
    let timeout = Duration::from_millis(request_timeout_ms.max(1).into());
    match from_url::device_from_url(&url, timeout).await {
        Ok(device) => DeviceResult {
            device: Some(device.into()),
            failure: None,
        },
        Err(f) => DeviceResult {
            device: None,
            failure: Some(f.into()),
        },
    }
}

#[napi(object)]
pub struct SoapTarget {
    pub control_url: String,
    pub service_type: String,
    pub timeout_ms: u32,
    /// Send from this address of this host (IPv6 pinhole actions: the pinhole's address);
    /// absent or "" = the system's choice. `lib/godot/device.ts` checks it is an IP address;
    /// anything else is ignored here.
    pub local_address: Option<String>,
}

impl From<SoapTarget> for Target {
    fn from(t: SoapTarget) -> Self {
        Target::new(
            t.control_url,
            t.service_type,
            Duration::from_millis(t.timeout_ms.max(1).into()),
        )
        .sent_from(t.local_address.and_then(|a| a.parse().ok()))
    }
}

/// Result of one action: what went wrong (absent on success), or the action's main value.
#[napi(object)]
pub struct ActionResult {
    pub failure: Option<NativeFailure>,
    pub value: Option<String>,
}

impl From<std::result::Result<String, Failure>> for ActionResult {
    fn from(r: std::result::Result<String, Failure>) -> Self {
        match r {
            Ok(value) => Self {
                failure: None,
                value: Some(value),
            },
            Err(f) => Self {
                failure: Some(f.into()),
                value: None,
            },
        }
    }
}

#[napi(ts_return_type = "Promise<ActionResult>")]
pub fn get_external_ip_address<'env>(
    env: &'env Env,
    target: SoapTarget,
    cancel: Option<&CallCancel>,
    trace: Option<u32>,
) -> Result<PromiseRaw<'env, ActionResult>> {
    let target: Target = target.into();
    spawn_cancellable(env, cancel, trace, async move {
        actions::external_ip_address(&target).await
    })
}

/// [`completion::spawn`] for a query that `cancel` can stop (dropped: nothing to undo),
/// traced when `trace` names a traced call.
fn spawn_cancellable<'env, T, R, F>(
    env: &'env Env,
    cancel: Option<&CallCancel>,
    trace: Option<u32>,
    work: F,
) -> Result<PromiseRaw<'env, R>>
where
    F: std::future::Future<Output = std::result::Result<T, Failure>> + Send + 'static,
    R: From<std::result::Result<T, Failure>> + ToNapiValue + Send + 'static,
{
    let cancel = cancel::token(cancel);
    completion::spawn(
        env,
        trace::scoped(trace, async move {
            let outcome = actions::until(cancel.as_ref(), work).await;
            R::from(outcome.unwrap_or_else(|| Err(actions::cancelled())))
        }),
    )
}

/// A port mapping: what `addPortMapping` sends, and a row of the router's table.
#[napi(object)]
pub struct PortMapping {
    pub remote_host: String,
    pub external_port: u32,
    pub protocol: String,
    pub internal_port: u32,
    /// "" = the local address of the connection that reaches the router.
    pub internal_client: String,
    pub enabled: bool,
    pub description: String,
    pub lease_duration: u32,
}

/// A connection service of a gateway, prepared once for the calls made on it: the hot ones,
/// adding and deleting mappings, are its methods. Their arguments come in order, not as an
/// object (reading an object's properties through N-API cost more than the rest of the
/// crossing), the control URL is parsed once, not per call, and they resolve with `null` on
/// success (no result object to build) or the failure. `UPNPDevice` keeps one while its
/// control URL, service type and timeout stay the same.
#[napi]
pub struct SoapService {
    target: Arc<Target>,
}

#[napi]
impl SoapService {
    #[napi(constructor)]
    pub fn new(target: SoapTarget) -> Self {
        Self {
            target: Arc::new(target.into()),
        }
    }

    /// `AddPortMapping` (`internalClient` "" = the local address of the connection that
    /// reaches the router). `cancel` stops it; an add that may have reached the router is
    /// then undone. `trace`: a traced call's id (`traceCall()`).
    #[napi(ts_return_type = "Promise<NativeFailure | null>")]
    #[allow(clippy::too_many_arguments)] // AddPortMapping's own eight, in its order
    pub fn add_port_mapping<'env>(
        &self,
        env: &'env Env,
        remote_host: String,
        external_port: u32,
        protocol: String,
        internal_port: u32,
        internal_client: String,
        enabled: bool,
        description: String,
        lease_duration: u32,
        cancel: Option<&CallCancel>,
        trace: Option<u32>,
    ) -> Result<PromiseRaw<'env, Option<NativeFailure>>> {
        let target = self.target.clone();
        let args = PortMapping {
            remote_host,
            external_port,
            protocol,
            internal_port,
            internal_client,
            enabled,
            description,
            lease_duration,
        };
        let cancel = cancel::token(cancel);
        completion::spawn(
            env,
            trace::scoped(trace, async move {
                add(&target, args, cancel).await.err().map(Into::into)
            }),
        )
    }

    /// `DeletePortMapping`. `cancel` stops it; a delete that may have reached the router is
    /// then finished. `trace`: a traced call's id.
    #[napi(ts_return_type = "Promise<NativeFailure | null>")]
    pub fn delete_port_mapping<'env>(
        &self,
        env: &'env Env,
        remote_host: String,
        external_port: u32,
        protocol: String,
        cancel: Option<&CallCancel>,
        trace: Option<u32>,
    ) -> Result<PromiseRaw<'env, Option<NativeFailure>>> {
        let target = self.target.clone();
        let key = PortMappingKey {
            remote_host,
            external_port,
            protocol,
        };
        let cancel = cancel::token(cancel);
        completion::spawn(
            env,
            trace::scoped(trace, async move {
                let run = async {
                    let (external_port, protocol) = key.checked()?;
                    actions::delete_port_mapping_until(
                        &target,
                        &key.remote_host,
                        external_port,
                        protocol,
                        cancel.as_ref(),
                    )
                    .await
                };
                run.await.err().map(NativeFailure::from)
            }),
        )
    }
}

async fn add(
    target: &Target,
    args: PortMapping,
    cancel: Option<CancellationToken>,
) -> std::result::Result<String, Failure> {
    let mapping = Mapping {
        remote_host: args.remote_host,
        external_port: check::port(args.external_port, "external port")?,
        protocol: check::protocol(&args.protocol, "UDP", "TCP")?.to_string(),
        internal_port: check::port(args.internal_port, "internal port")?,
        internal_client: args.internal_client,
        enabled: args.enabled,
        description: args.description,
        lease_duration: args.lease_duration,
    };
    actions::add_port_mapping_until(target, mapping, cancel.as_ref()).await
}

#[napi(object)]
pub struct PortMappingKey {
    pub remote_host: String,
    pub external_port: u32,
    pub protocol: String,
}

impl PortMappingKey {
    /// The external port and protocol, checked.
    fn checked(&self) -> std::result::Result<(u16, &'static str), Failure> {
        Ok((
            check::port(self.external_port, "external port")?,
            check::protocol(&self.protocol, "UDP", "TCP")?,
        ))
    }
}

impl From<Mapping> for PortMapping {
    fn from(m: Mapping) -> Self {
        Self {
            remote_host: m.remote_host,
            external_port: m.external_port.into(),
            protocol: m.protocol,
            internal_port: m.internal_port.into(),
            internal_client: m.internal_client,
            enabled: m.enabled,
            description: m.description,
            lease_duration: m.lease_duration,
        }
    }
}

#[napi(object)]
pub struct EntriesResult {
    pub failure: Option<NativeFailure>,
    pub entries: Vec<PortMapping>,
}

impl From<std::result::Result<Vec<Mapping>, Failure>> for EntriesResult {
    fn from(r: std::result::Result<Vec<Mapping>, Failure>) -> Self {
        match r {
            Ok(entries) => Self {
                failure: None,
                entries: entries.into_iter().map(Into::into).collect(),
            },
            Err(f) => Self {
                failure: Some(f.into()),
                entries: Vec::new(),
            },
        }
    }
}

/// `GetSpecificPortMappingEntry`: one entry (or the fault, e.g. 714 when it is gone).
#[napi(ts_return_type = "Promise<EntriesResult>")]
pub fn get_specific_port_mapping_entry<'env>(
    env: &'env Env,
    target: SoapTarget,
    key: PortMappingKey,
    cancel: Option<&CallCancel>,
    trace: Option<u32>,
) -> Result<PromiseRaw<'env, EntriesResult>> {
    let target: Target = target.into();
    spawn_cancellable(env, cancel, trace, async move {
        let (external_port, protocol) = key.checked()?;
        let entry =
            actions::specific_port_mapping(&target, &key.remote_host, external_port, protocol)
                .await?;
        Ok(vec![entry])
    })
}

/// The router's mapping table (`GetGenericPortMappingEntry` 0, 1, ... up to `max_entries`).
#[napi(ts_return_type = "Promise<EntriesResult>")]
pub fn list_port_mappings<'env>(
    env: &'env Env,
    target: SoapTarget,
    max_entries: u32,
    cancel: Option<&CallCancel>,
    trace: Option<u32>,
) -> Result<PromiseRaw<'env, EntriesResult>> {
    let target: Target = target.into();
    spawn_cancellable(env, cancel, trace, async move {
        actions::list_port_mappings(&target, max_entries).await
    })
}

/// Proves the panic guarantee in tests: a panic in an async call rejects its promise, a
/// panic in a sync call throws; neither takes the process down.
#[napi(js_name = "__panicForTests")]
pub async fn panic_for_tests(message: String) -> u32 {
    panic!("{message}");
}

/// The same for the hot calls' path ([`completion::spawn`]): the panic rejects the promise.
/// `after_wait`: the panic comes after a wait, on the runtime's thread, instead of in the
/// call's first step on the calling thread.
#[napi(js_name = "__panicInCallForTests", ts_return_type = "Promise<number>")]
pub fn panic_in_call_for_tests(
    env: &Env,
    message: String,
    after_wait: Option<bool>,
) -> Result<PromiseRaw<'_, u32>> {
    completion::spawn(env, async move {
        if after_wait == Some(true) {
            tokio::task::yield_now().await;
        }
        if !message.is_empty() {
            panic!("{message}");
        }
        0u32
    })
}

/// A device's connections as the client counts them, for the lab's tests.
#[napi(object)]
pub struct LinkForTests {
    pub open: u32,
    /// The most open at once since the previous call for the device (`Link::take_most_open`).
    pub most_open: u32,
    pub slow_link: bool,
}

/// The connections to the device at `address` (an IP address) as the client counts them: exact
/// where sampling the kernel's tables is not (slow-link.test.ts says why).
#[napi(js_name = "__linkForTests")]
pub fn link_for_tests(address: String) -> Result<LinkForTests> {
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| Error::new(Status::InvalidArg, "not an IP address"))?;
    let link = crate::upnp::link::Link::of(ip);
    let snapshot = link.snapshot();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(LinkForTests {
        open: count(snapshot.open),
        most_open: count(link.take_most_open()),
        slow_link: snapshot.slow_link,
    })
}

#[napi(js_name = "__panicSyncForTests", catch_unwind)]
pub fn panic_sync_for_tests(message: String) -> u32 {
    panic!("{message}");
}

#[napi(object)]
pub struct NotifyOptions {
    /// Interface name or address; "" = every non-loopback interface.
    pub multicast_if: String,
    pub ipv6: bool,
}

#[napi(object)]
pub struct Announcement {
    /// `ssdp:alive`, `ssdp:byebye` or `ssdp:update`.
    pub nts: String,
    pub nt: String,
    pub usn: String,
    pub location: String,
    pub boot_id: Option<u32>,
    pub next_boot_id: Option<u32>,
    /// This announcement revealed a reboot of the device (a new BOOTID in an `ssdp:alive`).
    pub rebooted: bool,
    /// Reboots of this device seen by this process so far.
    pub resets: u32,
    /// Address the announcement came from.
    pub from: String,
}

/// Hears SSDP announcements (a router coming back from a reboot announces a new
/// `BOOTID.UPNP.ORG`). Passive: it never sends. Its callback does not keep Node alive.
#[napi]
pub struct NotifyListener {
    cancel: CancellationToken,
}

#[napi]
impl NotifyListener {
    #[napi(constructor)]
    pub fn new(
        options: NotifyOptions,
        on_announcement: Function<Announcement, ()>,
    ) -> Result<Self> {
        let socket =
            crate::upnp::discovery::ssdp::open_listener(&options.multicast_if, options.ipv6)
                .map_err(|e| Error::new(Status::GenericFailure, format!("SSDP listener: {e}")))?;
        let callback = on_announcement
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        let cancel = CancellationToken::new();
        napi::bindgen_prelude::spawn(notify::listen(
            socket,
            cancel.clone(),
            move |a, from, check| {
                let event = Announcement {
                    nts: a.nts,
                    nt: a.nt,
                    usn: a.usn,
                    location: a.location,
                    boot_id: a.boot_id,
                    next_boot_id: a.next_boot_id,
                    rebooted: check.rebooted,
                    resets: check.resets,
                    from: from.to_string(),
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

impl Drop for NotifyListener {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
