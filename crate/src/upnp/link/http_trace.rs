//! The trace's records of an HTTP exchange (`http.connection`, `http.request`,
//! `http.response`, `http.failed`), built only inside a traced call: `http.rs` calls these
//! through `trace::emit`, so an untraced call never reaches them.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::trace::{Event, Kind};
use crate::upnp::link::http::{Endpoint, HttpError};
use crate::upnp::link::http_reply::Reply;

/// A connection for one request: `how` it was had, and how long that took.
pub fn connection(endpoint: &Endpoint, started: Option<Instant>, how: &str) -> Event {
    let event = Event::new(Kind::HttpConnection)
        .peer(endpoint.addr)
        .detail(how);
    match started {
        Some(started) => event.elapsed(started.elapsed()),
        None => event,
    }
}

/// A request as written: its head (without the blank line that ends it) and its body.
pub fn request(
    endpoint: &Endpoint,
    local: SocketAddr,
    method: &str,
    exchange: Option<u32>,
    request: &[u8],
) -> Event {
    let end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len().saturating_sub(4));
    let head = String::from_utf8_lossy(&request[..end + 2]).into_owned();
    let body = request.get(end + 4..).unwrap_or_default();
    Event::new(Kind::HttpRequest)
        .peer(endpoint.addr)
        .local(local)
        .action(method)
        .exchange(exchange)
        .url(endpoint.path_and_query.as_str())
        .head(head)
        .body(Bytes::copy_from_slice(body))
}

/// The reply (status, head, body), or why there was none.
pub fn response(
    endpoint: &Endpoint,
    exchange: Option<u32>,
    elapsed: Duration,
    outcome: &Result<Reply, HttpError>,
) -> Event {
    let event = Event::new(Kind::HttpResponse)
        .peer(endpoint.addr)
        .exchange(exchange)
        .elapsed(elapsed);
    match outcome {
        Ok(reply) => event
            .status(reply.status)
            .head(reply.head.clone().unwrap_or_default())
            .body(Bytes::copy_from_slice(&reply.body)),
        Err(e) => Event {
            kind: Kind::HttpFailed,
            ..event.detail(e.to_string())
        },
    }
}

/// A request that could not be written (a header value that would break the head).
pub fn unsent(endpoint: &Endpoint, e: &HttpError) -> Event {
    Event::new(Kind::HttpFailed)
        .peer(endpoint.addr)
        .detail(e.to_string())
}
