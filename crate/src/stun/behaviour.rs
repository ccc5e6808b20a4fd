//! RFC 5780's tests on top of STUN transactions: what the NAT between us and a server does
//! (its mapping and filtering behaviour, section 4.3 and 4.4), and whether a socket gets an
//! answer the server sends from its *other* address (section 4.4's test II, aimed at a
//! mapped port with RESPONSE-PORT): the one packet that arrives only if unsolicited inbound
//! traffic is let through.
//!
//! Mapping and filtering are tested on two sockets: the mapping tests send to the server's
//! other address, which opens a port-restricted NAT's filter for exactly the answer the
//! filtering test waits for (RFC 5780 4.4 warns of this).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::pxp::transport::Timing;
use crate::route;
use crate::stun::client::{self, Outcome, Run, Transaction};
use crate::stun::message::BindingRequest;

/// RFC 4787 / RFC 5780 terms for how a NAT maps and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependence {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

impl Dependence {
    pub fn name(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address-and-port-dependent",
        }
    }
}

/// Why a test could not tell.
#[derive(Debug)]
pub enum Error {
    /// Our side: no socket, no route.
    Socket(io::Error),
    /// The server did not answer a plain Binding request.
    NoAnswer {
        server: SocketAddr,
        attempts: u32,
        ignored: u32,
        last_ignored: Option<String>,
    },
    /// It answered with an error response.
    Refused {
        server: SocketAddr,
        code: u16,
        reason: String,
    },
    /// Its answer had no mapped address.
    NoMappedAddress { server: SocketAddr },
}

impl Error {
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Socket(_) => "SOCKET_ERROR",
            Self::NoAnswer { .. } => "TIMEOUT",
            Self::Refused { .. } => "REFUSED",
            Self::NoMappedAddress { .. } => "INVALID_RESPONSE",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "socket: {e}"),
            Self::NoAnswer {
                server,
                attempts,
                ignored,
                last_ignored,
            } => {
                write!(
                    f,
                    "the STUN server {server} did not answer ({attempts} request(s))"
                )?;
                if let Some(why) = last_ignored {
                    write!(f, "; {ignored} datagram(s) ignored, last: {why}")?;
                }
                Ok(())
            }
            Self::Refused {
                server,
                code,
                reason,
            } => write!(
                f,
                "the STUN server {server} answered error {code} {reason:?}"
            ),
            Self::NoMappedAddress { server } => write!(
                f,
                "the STUN server {server} answered without a mapped address"
            ),
        }
    }
}

/// A plain Binding's answer: our address as the server saw it, its other address if any.
#[derive(Clone, Copy, Debug)]
pub struct Reflexive {
    pub mapped: SocketAddr,
    /// RFC 5780 OTHER-ADDRESS: absent when the server cannot do behaviour discovery.
    pub other: Option<SocketAddr>,
    pub latency: Duration,
}

/// Asks `server` who we are, from `socket`.
pub async fn binding(
    socket: &UdpSocket,
    server: SocketAddr,
    timing: &Timing,
) -> Result<Reflexive, Error> {
    let run = client::run(socket, &[Transaction::binding(server)], timing)
        .await
        .map_err(Error::Socket)?;
    reflexive(server, &run)
}

fn reflexive(server: SocketAddr, run: &Run) -> Result<Reflexive, Error> {
    match &run.outcomes[0] {
        Outcome::Silent { attempts } => Err(Error::NoAnswer {
            server,
            attempts: *attempts,
            ignored: run.ignored,
            last_ignored: run.last_ignored.clone(),
        }),
        Outcome::Answered(a) => {
            if let Some(e) = a.response.error.as_ref().filter(|_| !a.response.success) {
                return Err(Error::Refused {
                    server,
                    code: e.code,
                    reason: e.reason.clone(),
                });
            }
            let Some(mapped) = a.response.mapped.filter(|_| a.response.success) else {
                return Err(Error::NoMappedAddress { server });
            };
            // An OTHER-ADDRESS equal to the server's own address is no other address.
            let other = a
                .response
                .other_address
                .filter(|o| o.ip() != server.ip() && o.port() != server.port());
            Ok(Reflexive {
                mapped,
                other,
                latency: a.latency,
            })
        }
    }
}

/// What RFC 5780's tests found between us and one server.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub server: SocketAddr,
    /// Our address towards the server (this host's own), and as the server saw it.
    pub local: Option<IpAddr>,
    pub mapped: SocketAddr,
    pub other: Option<SocketAddr>,
    /// The server saw this host's own address and port: no NAT on the way.
    pub no_nat: bool,
    /// `None`: could not tell (no OTHER-ADDRESS, or a test went unanswered: see `notes`).
    pub mapping: Option<Dependence>,
    pub filtering: Option<Dependence>,
    pub notes: Vec<String>,
    pub latency: Duration,
}

/// RFC 5780 4.3 and 4.4 against `server`: mapping tests on one socket, filtering tests on
/// another, both at once.
pub async fn discover(server: SocketAddr, timing: &Timing) -> Result<Behaviour, Error> {
    let mapping_socket = client::bind_for(server).map_err(Error::Socket)?;
    let filtering_socket = client::bind_for(server).map_err(Error::Socket)?;
    let (mapping, filtering) = tokio::join!(
        mapping_tests(&mapping_socket, server, timing),
        filtering_tests(&filtering_socket, server, timing)
    );
    let (first, mapping, mut notes) = mapping?;
    let local = route::local_address_for(server).ok();
    let local_port = mapping_socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let no_nat = local.is_some_and(|ip| ip.to_canonical() == first.mapped.ip().to_canonical())
        && local_port == first.mapped.port();
    let filtering = match filtering {
        Ok((filtering, more)) => {
            notes.extend(more);
            filtering
        }
        Err(e) => {
            notes.push(format!("filtering: {e}"));
            None
        }
    };
    Ok(Behaviour {
        server,
        local,
        mapped: first.mapped,
        other: first.other,
        no_nat,
        mapping,
        filtering,
        notes,
        latency: first.latency,
    })
}

/// RFC 5780 4.3: the mapped address asked from the primary address, from the other address
/// with the primary port, and from the other address and port.
async fn mapping_tests(
    socket: &UdpSocket,
    server: SocketAddr,
    timing: &Timing,
) -> Result<(Reflexive, Option<Dependence>, Vec<String>), Error> {
    let first = binding(socket, server, timing).await?;
    let Some(other) = first.other else {
        return Ok((first, None, vec![no_other_address(server)]));
    };
    let mut notes = Vec::new();
    let second = match binding(socket, SocketAddr::new(other.ip(), server.port()), timing).await {
        Ok(r) => r,
        Err(e) => {
            notes.push(format!("mapping test II: {e}"));
            return Ok((first, None, notes));
        }
    };
    if second.mapped == first.mapped {
        return Ok((first, Some(Dependence::EndpointIndependent), notes));
    }
    match binding(socket, other, timing).await {
        Ok(third) if third.mapped == second.mapped => {
            Ok((first, Some(Dependence::AddressDependent), notes))
        }
        Ok(_) => Ok((first, Some(Dependence::AddressAndPortDependent), notes)),
        Err(e) => {
            notes.push(format!("mapping test III: {e}"));
            Ok((first, None, notes))
        }
    }
}

/// RFC 5780 4.4: after a plain Binding to the primary address, answers asked from the other
/// address and port (test II) and from the other port only (test III), both at once.
async fn filtering_tests(
    socket: &UdpSocket,
    server: SocketAddr,
    timing: &Timing,
) -> Result<(Option<Dependence>, Vec<String>), Error> {
    let first = binding(socket, server, timing).await?;
    let Some(other) = first.other else {
        return Ok((None, vec![]));
    };
    let change = |ip: bool, from: SocketAddr| Transaction {
        request: BindingRequest {
            change_ip: ip,
            change_port: true,
            response_port: None,
        },
        to: server,
        expect_from: from,
    };
    let tests = [
        change(true, other),
        change(false, SocketAddr::new(server.ip(), other.port())),
    ];
    let run = client::run(socket, &tests, timing)
        .await
        .map_err(Error::Socket)?;
    let (ii, iii) = (
        run.outcomes[0].answered().is_some(),
        run.outcomes[1].answered().is_some(),
    );
    let filtering = if ii {
        Dependence::EndpointIndependent
    } else if iii {
        Dependence::AddressDependent
    } else {
        Dependence::AddressAndPortDependent
    };
    let mut notes = Vec::new();
    if let (false, Some(why)) = (ii || iii, run.last_ignored) {
        notes.push(format!(
            "filtering: no answer from the other address or port; ignored: {why}"
        ));
    }
    Ok((Some(filtering), notes))
}

fn no_other_address(server: SocketAddr) -> String {
    format!("{server} gave no OTHER-ADDRESS: it does not do RFC 5780 behaviour discovery (needs two addresses)")
}

/// The inbound check of one socket: is an answer from the server's other address and port
/// let in to it?
#[derive(Clone, Debug)]
pub struct Inbound {
    /// The socket's address as the server saw it.
    pub mapped: SocketAddr,
    /// Where the server answered from.
    pub other: SocketAddr,
    /// The port the answer was sent to (RESPONSE-PORT when it differs from `mapped`'s).
    pub sent_to_port: u16,
    /// The answer from the other address arrived.
    pub reached: bool,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// Asks `server`, from `socket`, for an answer from its other address and port, sent to
/// `external_port` of our reflexive address (the mapping's port; `None`: the socket's own
/// mapped port). `Ok(None)`: the server cannot do it (no OTHER-ADDRESS).
pub async fn inbound(
    socket: &UdpSocket,
    server: SocketAddr,
    external_port: Option<u16>,
    timing: &Timing,
) -> Result<Result<Inbound, String>, Error> {
    let started = Instant::now();
    let first = binding(socket, server, timing).await?;
    let Some(other) = first.other else {
        return Ok(Err(no_other_address(server)));
    };
    let port = external_port.unwrap_or(first.mapped.port());
    let test = Transaction {
        request: BindingRequest {
            change_ip: true,
            change_port: true,
            response_port: (port != first.mapped.port()).then_some(port),
        },
        to: server,
        expect_from: other,
    };
    let run = client::run(socket, &[test], timing)
        .await
        .map_err(Error::Socket)?;
    let (reached, attempts) = match &run.outcomes[0] {
        Outcome::Answered(a) => (true, a.attempts),
        Outcome::Silent { attempts } => (false, *attempts),
    };
    Ok(Ok(Inbound {
        mapped: first.mapped,
        other,
        sent_to_port: port,
        reached,
        attempts,
        elapsed: started.elapsed(),
    }))
}

#[cfg(test)]
#[path = "behaviour_tests.rs"]
mod tests;
