//! STUN (RFC 8489) for what a router cannot tell about itself: this host's address as seen
//! from outside, the NAT's mapping and filtering behaviour (RFC 5780), and whether a mapping
//! really lets unsolicited traffic in.
//!
//! - [`message`]: the wire format (Binding requests, the responses' attributes).
//! - [`client`]: transactions on one UDP socket: retransmission, answers accepted only from
//!   the address the request expects and with its transaction id.
//! - [`behaviour`]: RFC 5780's tests built on them: mapping and filtering behaviour, and
//!   the inbound check of a socket (is an answer from the server's other address let in?).
//!
//! No server is built in: every call is given the servers to ask.

pub mod behaviour;
pub mod client;
pub mod message;
