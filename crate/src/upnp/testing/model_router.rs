//! A loopback router shaped like miniupnpd for the connection tests: one "CPU" that serves
//! one request at a time, a listen backlog of our choosing, a mapping table, and a record of
//! which connection each request came on. Unit tests only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::upnp::testing::router::{reply, soap_action, Answer};

pub struct Options {
    /// listen(2) backlog (miniupnpd: 5).
    pub backlog: i32,
    /// Time each request holds the router's one CPU.
    pub service: Duration,
    /// AddPortMapping is carried out (and answered) this long after it was read, whatever
    /// became of its connection meanwhile.
    pub add_delay: Duration,
    /// ...holding the CPU meanwhile (miniupnpd: one request at a time), or beside the other
    /// requests (a threaded router, which can carry out a later request first).
    pub add_holds_cpu: bool,
    /// Connections are accepted only while no request is being served (miniupnpd accepts
    /// between requests, in its one loop), so a busy router lets its backlog fill.
    pub accept_when_idle: bool,
    /// A connection that brings no request within this long is closed by the router.
    pub idle_close: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backlog: 5,
            service: Duration::ZERO,
            add_delay: Duration::ZERO,
            add_holds_cpu: true,
            accept_when_idle: false,
            idle_close: None,
        }
    }
}

#[derive(Default)]
pub struct Stats {
    pub accepted: AtomicUsize,
    /// For each request in arrival order: the number of the connection it came on (1-based,
    /// in accept order) and its action.
    pub requests: Mutex<Vec<(usize, String)>>,
    /// Connections closed without a request (spares never used).
    pub closed_unused: AtomicUsize,
    /// (external port, protocol) -> internal client.
    pub table: Mutex<HashMap<(u16, String), String>>,
}

impl Stats {
    /// The connection number of each request.
    pub fn connections(&self) -> Vec<usize> {
        self.requests.lock().unwrap().iter().map(|r| r.0).collect()
    }
    /// The action of each request.
    pub fn actions(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.1.clone())
            .collect()
    }
    pub fn mapped(&self) -> usize {
        self.table.lock().unwrap().len()
    }
}

/// Starts the router on `ip` (a loopback address of its own per test: connection limits
/// are per device address); returns its control URL and its record.
pub async fn start(ip: &str, options: Options) -> (String, Arc<Stats>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(options.backlog).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener: std::net::TcpListener = socket.into();
    let url = format!("http://{}/ctl", listener.local_addr().unwrap());
    let stats = Arc::new(Stats::default());
    let cpu = Arc::new(tokio::sync::Mutex::new(()));
    let options = Arc::new(options);
    let record = stats.clone();
    tokio::spawn(async move {
        loop {
            // Between requests only, when so asked: the CPU is held while trying.
            let accepted = {
                let _idle = if options.accept_when_idle {
                    Some(cpu.lock().await)
                } else {
                    None
                };
                listener.accept()
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                Err(_) => return,
            };
            stream.set_nonblocking(true).unwrap();
            let stream = TcpStream::from_std(stream).unwrap();
            let number = record.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(serve(
                stream,
                number,
                record.clone(),
                cpu.clone(),
                options.clone(),
            ));
        }
    });
    (url, stats)
}

async fn serve(
    mut s: TcpStream,
    number: usize,
    stats: Arc<Stats>,
    cpu: Arc<tokio::sync::Mutex<()>>,
    options: Arc<Options>,
) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let idle_close = options.idle_close.unwrap_or(Duration::from_secs(3600));
    while !String::from_utf8_lossy(&got).contains("</s:Envelope>") {
        let read = tokio::time::timeout(idle_close, s.read(&mut buf)).await;
        if read.is_err() && got.is_empty() {
            // Closed by the router: nothing came.
            stats.closed_unused.fetch_add(1, Ordering::SeqCst);
            return;
        }
        match read.unwrap_or(Ok(0)) {
            Ok(0) | Err(_) => {
                if got.is_empty() {
                    stats.closed_unused.fetch_add(1, Ordering::SeqCst);
                }
                return;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let action = soap_action(&text);
    stats
        .requests
        .lock()
        .unwrap()
        .push((number, action.clone()));
    let arg = |name: &str| {
        text.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("")
            .to_string()
    };
    let key = (
        arg("NewExternalPort").parse().unwrap_or(0),
        arg("NewProtocol"),
    );
    if action == "AddPortMapping" && !options.add_holds_cpu {
        tokio::time::sleep(options.add_delay).await;
    }
    let answer = {
        let _cpu = cpu.lock().await;
        tokio::time::sleep(options.service).await;
        match action.as_str() {
            "AddPortMapping" => {
                if options.add_holds_cpu {
                    tokio::time::sleep(options.add_delay).await;
                }
                let client = arg("NewInternalClient");
                stats.table.lock().unwrap().insert(key, client);
                Ok(String::new())
            }
            "DeletePortMapping" => match stats.table.lock().unwrap().remove(&key) {
                Some(_) => Ok(String::new()),
                None => Err(714),
            },
            "GetSpecificPortMappingEntry" => match stats.table.lock().unwrap().get(&key) {
                Some(client) => Ok(format!("<NewInternalPort>{}</NewInternalPort><NewInternalClient>{client}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>x</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration>", key.0)),
                None => Err(714),
            },
            _ => Ok("<NewExternalIPAddress>11.22.33.44</NewExternalIPAddress>".to_string()),
        }
    };
    let answer = match answer {
        Ok(values) => Answer::Values(values),
        Err(code) => Answer::Fault(code),
    };
    let reply = reply(&action, answer);
    let _ = s.write_all(reply.as_bytes()).await;
}
