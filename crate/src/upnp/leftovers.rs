//! No mapping left behind when a request is given up.
//!
//! An `AddPortMapping` whose reply does not come before its deadline was sent all the same:
//! the router may carry it out later (it had read the request, or a busy router gets to it
//! after the caller was told it failed), and then a mapping nobody knows about stays on the
//! router. So when an add is given up with its outcome unknown, the mapping is deleted again,
//! and checked once more a request timeout later (a router that carries requests out late).
//! A delete given up the same way is finished the same way. Meanwhile any new request for the
//! same mapping waits, so that the cleanup never undoes what came after it.
//!
//! An add that renews a mapping this process holds is not undone: the mapping was there
//! before, and is there whether or not the renewal arrived.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::watch;
use tokio::time::{sleep, timeout_at, Instant};

use crate::errors::{Failure, UpnpResult};
use crate::trace;
use crate::upnp::soap::{self, Target};

/// One mapping on one router's connection service. Made for every add and delete: the
/// usual one (the target's URL, no remote host, UDP or TCP) without allocating.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MappingKey {
    pub control_url: Arc<str>,
    pub remote_host: String,
    pub external_port: u16,
    pub protocol: Cow<'static, str>,
}

impl MappingKey {
    pub fn new(target: &Target, remote_host: &str, external_port: u16, protocol: &str) -> Self {
        Self {
            control_url: target.control_url_shared(),
            remote_host: remote_host.to_string(),
            external_port,
            protocol: match protocol {
                "UDP" => Cow::Borrowed("UDP"),
                "TCP" => Cow::Borrowed("TCP"),
                other => Cow::Owned(other.to_string()),
            },
        }
    }

    /// The arguments that name it (DeletePortMapping, GetSpecificPortMappingEntry).
    pub fn args(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NewRemoteHost", self.remote_host.clone()),
            ("NewExternalPort", self.external_port.to_string()),
            ("NewProtocol", self.protocol.to_string()),
        ]
    }
}

/// Mappings remembered as held at most (a process mapping more is not realistic; past it,
/// a given-up renewal is undone like a new add).
const MAX_HELD: usize = 4096;

#[derive(Default)]
struct Book {
    /// Added by this process and not deleted since.
    held: HashSet<MappingKey>,
    /// Cleanups under way; the receiver turns true when done.
    cleaning: HashMap<MappingKey, watch::Receiver<bool>>,
}

static BOOK: LazyLock<Mutex<Book>> = LazyLock::new(Default::default);

fn book() -> std::sync::MutexGuard<'static, Book> {
    BOOK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits until no cleanup of `key` is under way, at most until `deadline`.
pub async fn settled(key: &MappingKey, deadline: Instant) -> Result<(), Failure> {
    let Some(mut done) = book().cleaning.get(key).cloned() else {
        return Ok(());
    };
    let waited = timeout_at(deadline, done.wait_for(|done| *done)).await;
    match waited {
        Ok(_) => Ok(()),
        Err(_) => Err(Failure::new(
            UpnpResult::HttpError,
            "an earlier request for this mapping that timed out is still being undone",
        )),
    }
}

/// The router confirmed the add.
pub fn added(key: &MappingKey) {
    let mut ledger = book();
    if ledger.held.len() < MAX_HELD {
        ledger.held.insert(key.clone());
    }
}

/// The router confirmed the delete (or said there was nothing to delete).
pub fn deleted(key: &MappingKey) {
    book().held.remove(key);
}

/// An add (`client`: the internal client it sent) or a delete (`client` None) of `key` was
/// given up after it was sent. Starts the cleanup unless the add renewed a held mapping.
pub fn given_up(target: &Target, key: MappingKey, client: Option<String>) {
    let mut ledger = book();
    if client.is_some() && ledger.held.contains(&key) {
        return;
    }
    ledger.held.remove(&key);
    // A cleanup under way covers this one; one whose task is gone (its runtime shut down
    // with its last environment, dropping the sender) does not.
    if ledger
        .cleaning
        .get(&key)
        .is_some_and(|done| done.has_changed().is_ok())
    {
        return;
    }
    let (tx, rx) = watch::channel(false);
    ledger.cleaning.insert(key.clone(), rx);
    drop(ledger);
    let target = target.clone();
    // Part of the call that gave the add up, in its trace.
    tokio::spawn(trace::inherit(async move {
        clean(&target, &key, client.as_deref()).await;
        book().cleaning.remove(&key);
        let _ = tx.send(true);
    }));
}

/// Deletes the mapping; a request timeout later, deletes it again if the router lists it (for
/// this client, when the given-up request was an add).
async fn clean(target: &Target, key: &MappingKey, client: Option<&str>) {
    let _ = soap::call(target, "DeletePortMapping", key.args()).await;
    sleep(target.timeout).await;
    let Ok(reply) = soap::call(target, "GetSpecificPortMappingEntry", key.args()).await else {
        return; // 714 (gone), or the router cannot say: nothing more to do
    };
    let listed_client = reply.values.get("NewInternalClient").unwrap_or("");
    if client.is_none_or(|client| client == listed_client) {
        let _ = soap::call(target, "DeletePortMapping", key.args()).await;
    }
}
