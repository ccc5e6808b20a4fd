//! How many connections one device gets at once, and how many are opened ahead of need.
//!
//! Measured against miniupnpd (BENCHMARKS.md, issue 15): a router serves HTTP from one loop
//! behind a listen backlog of 5. Connections beyond what it can accept are dropped at the SYN
//! and wait out TCP's 1 s retransmission, so more connections make it slower, not faster, and
//! a request given up meanwhile may still be carried out later. Each request costs a TCP
//! handshake (routers close after every reply), so a connection opened while a request is in
//! flight, a *spare*, saves the next request a round trip. On a fast link (a router that
//! answers within a few milliseconds) one spare is enough and more only crowd its backlog. On
//! a slow link ([`SLOW_LINK`] and more) a connection spends most of its life on the wire, so
//! more can be under way without the router holding them, as long as the router keeps up:
//! each answer that comes back within about the round trip *while the link is at its limit*
//! allows one more connection beyond the fast link's limit; an answer that took clearly longer
//! (the router is busy, connections wait in its accept queue) halves that extra. Only answers
//! under load count: a router that answers one request at a time promptly says nothing about
//! a burst (measured: extra connections earned by sequential requests at 2 ms overflowed
//! miniupnpd's accept queue when 64 requests came at once, and a lost SYN cost a second).
//!
//! A fast link gets one connection more when at least one is on the wire rather than at the
//! router: under load the router answers at some pace, and a connection spends at least one
//! round trip of its life between client and router (the handshake, the reply's way back),
//! so the pace times the round trip is how many of the link's connections are not in the
//! router's queue (Little's law). At 0 ms that is none; at 2 ms about two. Only one more,
//! never past [`MAX_OPEN_PACED`]: a router that stalls for longer than the round trip gets
//! every connection into its accept queue at once (measured at 2 ms with 256 mappings: seven
//! overflowed it in 2 of 6 runs, six in none of 12).
//!
//! This module is the arithmetic only (no sockets), so that it is tested on its own.

use std::time::Duration;

use tokio::time::Instant;

/// Handshakes under way at once to one device, never more (miniupnpd's backlog is 5).
pub const MAX_HANDSHAKES: usize = 5;
/// Connections open at once to a device on a fast link: requests in flight, handshakes and
/// spares. There the router's CPU is the limit and every connection is at the router: a sixth
/// would only wait in its accept queue, which holds backlog + 1, leaving no room for another
/// client's.
pub const MAX_OPEN_FAST: usize = 5;
/// ...and on a fast link whose router answers at a pace that keeps a connection on the wire:
/// the accept queue's backlog + 1, so that all of them fit in it even when the router stalls.
pub const MAX_OPEN_PACED: usize = MAX_HANDSHAKES + 1;
/// ...and on a slow link, where a connection is mostly in flight on the wire: a spare on its
/// way for every request the handshake limit lets run.
pub const MAX_OPEN_SLOW: usize = 2 * MAX_HANDSHAKES;
/// A link is slow when even its fastest recent handshake took this long. The fastest, not the
/// mean: on a busy machine a fast link has slow handshakes too (the scheduler's, not the
/// wire's), and mistaking it for slow would let too many connections at the router. Not less:
/// below a few milliseconds the router's own work per request (0.5-2.5 ms for miniupnpd in
/// the lab, more on a home router's CPU) is a large share of a round trip, and connections
/// beyond its accept queue wait there. Measured at 2 ms with a 1 ms threshold: 256 pairs in
/// flight overflowed miniupnpd's accept queue in 2 of 3 runs (ListenOverflows 3-5, a second
/// lost each time); with 5 ms, none in 6 runs, and the 64-batch kept its rate.
pub const SLOW_LINK: Duration = Duration::from_millis(5);
/// An answer is prompt when it came within the wire's round trip plus this much or half of
/// the round trip, whichever is more.
const PROMPT: Duration = Duration::from_millis(1);
/// An idle spare is closed after this: it only pays off for a request that follows soon.
pub const SPARE_IDLE: Duration = Duration::from_millis(500);
/// A handshake this much slower than the fastest recent one lost a SYN (TCP retransmits it
/// after 1 s): the router's backlog was full.
const LOST_SYN: Duration = Duration::from_millis(700);
/// Handshake times remembered (the window of "recent").
const WINDOW: usize = 8;
/// Answers under load timed for the router's pace: enough that one late read of several
/// replies at once does not pass for a fast router.
const PACE_WINDOW: usize = 16;

/// What one device's connections are allowed to do now.
#[derive(Clone, Debug)]
pub struct Policy {
    recent: [Duration; WINDOW],
    seen: usize,
    /// Connections allowed beyond [`MAX_OPEN_FAST`] on a slow link, earned by prompt answers.
    extra: usize,
    /// Cap on open connections below the link's maximum after a back-off (grows back).
    allowed: usize,
    /// Successful exchanges since `allowed` last changed.
    credit: usize,
    /// Back-offs so far (for tests and diagnostics).
    backed_off: usize,
    /// When the latest answers under load came (a ring of [`PACE_WINDOW`]; read only once
    /// `paced_seen` says it is full).
    paced: [Instant; PACE_WINDOW],
    /// Answers in a row that came while the link was at its limit.
    paced_seen: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            recent: [Duration::ZERO; WINDOW],
            seen: 0,
            extra: 0,
            allowed: MAX_OPEN_SLOW,
            credit: 0,
            backed_off: 0,
            paced: [Instant::now(); PACE_WINDOW],
            paced_seen: 0,
        }
    }
}

impl Policy {
    /// The fastest of the recent handshakes (none measured yet: `None`).
    pub fn fastest_handshake(&self) -> Option<Duration> {
        self.recent[..self.seen.min(WINDOW)].iter().min().copied()
    }

    /// Slow link: even the fastest recent handshake took [`SLOW_LINK`].
    pub fn slow_link(&self) -> bool {
        self.fastest_handshake().is_some_and(|d| d >= SLOW_LINK)
    }

    /// Connections that may be open at once now (requests, handshakes and spares).
    pub fn open_limit(&self) -> usize {
        let max = if self.slow_link() {
            MAX_OPEN_FAST + self.extra
        } else {
            (MAX_OPEN_FAST + self.on_the_wire()).min(MAX_OPEN_PACED)
        };
        self.allowed.min(max)
    }

    /// How many of a fast link's connections are on the wire at the router's pace under load
    /// (none until [`PACE_WINDOW`] answers in a row came at the limit): the router's answers
    /// per second times the fastest round trip.
    fn on_the_wire(&self) -> usize {
        let Some(round_trip) = self.fastest_handshake() else {
            return 0;
        };
        if self.paced_seen < PACE_WINDOW {
            return 0;
        }
        let newest = self.paced[(self.paced_seen - 1) % PACE_WINDOW];
        let oldest = self.paced[self.paced_seen % PACE_WINDOW];
        let span = newest.duration_since(oldest);
        // Answers read together after a pause say how late we read, not the router's pace.
        if span < round_trip {
            return 0;
        }
        let on_wire = (PACE_WINDOW - 1) as f64 * round_trip.as_secs_f64() / span.as_secs_f64();
        on_wire as usize
    }

    /// Spares worth holding while `in_use` requests are running: one on a fast link; on a slow
    /// link one per request in flight, within the handshake limit.
    pub fn spares_wanted(&self, in_use: usize) -> usize {
        if self.slow_link() {
            in_use.clamp(1, MAX_HANDSHAKES)
        } else {
            1
        }
    }

    /// A handshake completed in `took` (by our clock); `round_trip`: the kernel's measure of
    /// it where it has one (`round_trip.rs`), which leaves out how late our thread ran, and
    /// is what the link's speed is judged by. Returns false when it lost a SYN on the way
    /// (then the link has backed off already).
    pub fn handshake(&mut self, took: Duration, round_trip: Option<Duration>) -> bool {
        let lost = self
            .fastest_handshake()
            .is_some_and(|fastest| took > fastest + LOST_SYN);
        self.recent[self.seen % WINDOW] = round_trip.unwrap_or(took);
        self.seen += 1;
        if lost {
            self.back_off();
        }
        !lost
    }

    /// The router refused, reset or did not answer a connection: halve what is allowed, at
    /// once (down to one connection at a time).
    pub fn back_off(&mut self) {
        self.allowed = (self.open_limit() / 2).max(1);
        self.credit = 0;
        self.extra = 0;
        self.paced_seen = 0;
        self.backed_off += 1;
    }

    /// How many times the link has backed off.
    pub fn back_offs(&self) -> usize {
        self.backed_off
    }

    /// A request was answered `took` after it was written, at `at`; `at_limit`: the link was
    /// using every connection it may open (requests were waiting for one). On a slow link a
    /// prompt answer at the limit earns one connection beyond the fast limit and a late one
    /// halves them; on a fast link answers at the limit time the router's pace. After a
    /// back-off, as many answers as connections are allowed earn one more.
    pub fn answered(&mut self, took: Duration, at_limit: bool, at: Instant) {
        if at_limit {
            self.paced[self.paced_seen % PACE_WINDOW] = at;
            self.paced_seen += 1;
        } else {
            self.paced_seen = 0;
        }
        if let Some(rtt) = self.fastest_handshake().filter(|_| self.slow_link()) {
            if took > rtt + PROMPT.max(rtt / 2) {
                self.extra /= 2;
            } else if at_limit {
                self.extra = (self.extra + 1).min(MAX_OPEN_SLOW - MAX_OPEN_FAST);
            }
        }
        if self.allowed >= MAX_OPEN_SLOW {
            return;
        }
        self.credit += 1;
        if self.credit >= self.allowed {
            self.allowed += 1;
            self.credit = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_micros(120);

    /// A policy whose whole window of handshakes took `rtt`.
    fn measured(rtt: Duration) -> Policy {
        let mut p = Policy::default();
        for _ in 0..WINDOW {
            p.handshake(rtt, None);
        }
        p
    }

    #[test]
    fn an_unmeasured_or_fast_link_gets_five_connections_and_one_spare() {
        let mut p = Policy::default();
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        assert_eq!(p.spares_wanted(4), 1);
        for _ in 0..20 {
            assert!(p.handshake(FAST, None));
        }
        // A busy machine stretches some handshakes: the fastest decides.
        assert!(p.handshake(Duration::from_millis(30), None));
        assert!(!p.slow_link());
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        assert_eq!(p.spares_wanted(4), 1);
    }

    #[test]
    fn the_kernels_round_trip_judges_the_link_and_our_clock_the_lost_syn() {
        let mut p = Policy::default();
        // A busy machine: our clock says 12 ms, the kernel's sample 2 ms. A fast link.
        for _ in 0..WINDOW {
            assert!(p.handshake(Duration::from_millis(12), Some(Duration::from_millis(2))));
        }
        assert!(!p.slow_link());
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        // A SYN retransmitted after 1 s: the kernel's sample may be the last SYN's alone.
        assert!(!p.handshake(Duration::from_millis(1003), Some(Duration::from_millis(2))));
        assert_eq!(p.open_limit(), MAX_OPEN_FAST / 2);
    }

    #[test]
    fn a_slow_link_gets_a_spare_per_request_within_the_handshake_limit() {
        let mut p = measured(Duration::from_millis(20));
        assert!(p.slow_link());
        assert_eq!(
            p.open_limit(),
            MAX_OPEN_FAST,
            "a burst starts at the fast limit"
        );
        for extra in 1..=3 {
            p.answered(Duration::from_millis(21), true, Instant::now());
            assert_eq!(
                p.open_limit(),
                MAX_OPEN_FAST + extra,
                "each prompt answer earns one"
            );
        }
        for _ in 0..10 {
            p.answered(Duration::from_millis(21), true, Instant::now());
        }
        assert_eq!(p.open_limit(), MAX_OPEN_SLOW);
        assert_eq!(p.spares_wanted(0), 1);
        assert_eq!(p.spares_wanted(3), 3);
        assert_eq!(p.spares_wanted(64), MAX_HANDSHAKES);
        // One fast handshake in the window means the link is not slow after all.
        p.handshake(FAST, None);
        assert!(!p.slow_link());
    }

    /// Answers at the limit, one every `pace`, from `start`.
    fn paced(p: &mut Policy, start: Instant, pace: Duration, answers: u32) {
        for i in 0..answers {
            p.answered(pace * 2, true, start + pace * i);
        }
    }

    #[test]
    fn a_two_millisecond_link_under_load_adds_a_connection_on_the_wire() {
        let mut p = measured(Duration::from_millis(2));
        assert!(!p.slow_link());
        let start = Instant::now();
        // One answer every 1.5 ms over a 2 ms round trip: one connection on the wire.
        let pace = Duration::from_micros(1500);
        paced(&mut p, start, pace, PACE_WINDOW as u32 - 1);
        assert_eq!(p.open_limit(), MAX_OPEN_FAST, "not before a full window");
        paced(&mut p, start, pace, PACE_WINDOW as u32);
        assert_eq!(p.open_limit(), MAX_OPEN_PACED);
        assert_eq!(p.spares_wanted(4), 1);
        // An answer below the limit: the load is over, the pace is measured again.
        p.answered(
            Duration::from_millis(2),
            false,
            start + Duration::from_millis(20),
        );
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        // Answers read together after a pause are not the router's pace.
        for _ in 0..PACE_WINDOW {
            p.answered(Duration::from_millis(2), true, start);
        }
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        // A back-off forgets the pace too.
        paced(&mut p, start, pace, PACE_WINDOW as u32);
        assert_eq!(p.open_limit(), MAX_OPEN_PACED);
        p.back_off();
        assert_eq!(p.open_limit(), MAX_OPEN_PACED / 2);
    }

    #[test]
    fn a_link_without_delay_keeps_the_fast_limit_under_load() {
        // 100 µs round trips, an answer every 0.5 ms: the router holds every connection.
        let mut p = measured(Duration::from_micros(100));
        paced(&mut p, Instant::now(), Duration::from_micros(500), 64);
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
    }

    #[test]
    fn many_connections_on_the_wire_still_earn_one_more() {
        // Eight on the wire by the pace: a stall would still bring them all to the router.
        let mut p = measured(Duration::from_millis(4));
        paced(&mut p, Instant::now(), Duration::from_micros(500), 64);
        assert_eq!(p.open_limit(), MAX_OPEN_PACED);
    }

    #[test]
    fn prompt_answers_below_the_limit_earn_nothing() {
        let mut p = measured(Duration::from_millis(10));
        // Sequential requests answered at once: no evidence about a burst.
        for _ in 0..50 {
            p.answered(Duration::from_millis(11), false, Instant::now());
        }
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
        p.answered(Duration::from_millis(11), true, Instant::now());
        assert_eq!(p.open_limit(), MAX_OPEN_FAST + 1);
        // A late answer halves the extra whether or not the link was at its limit.
        p.answered(Duration::from_millis(30), false, Instant::now());
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
    }

    #[test]
    fn a_slow_link_whose_router_falls_behind_gets_the_fast_limit() {
        let mut p = Policy::default();
        for _ in 0..WINDOW {
            p.handshake(Duration::from_millis(10), None);
            p.answered(Duration::from_millis(11), true, Instant::now());
        }
        assert_eq!(p.open_limit(), MAX_OPEN_SLOW);
        // Answers now take three round trips: requests are queueing at the router.
        p.answered(Duration::from_millis(30), true, Instant::now());
        assert_eq!(p.open_limit(), MAX_OPEN_FAST + 2);
        for _ in 0..3 {
            p.answered(Duration::from_millis(30), true, Instant::now());
        }
        assert_eq!(p.open_limit(), MAX_OPEN_FAST);
    }

    #[test]
    fn backs_off_at_once_and_grows_back_with_answers() {
        let mut p = Policy::default();
        p.handshake(FAST, None);
        p.back_off();
        assert_eq!(p.open_limit(), 2);
        p.back_off();
        p.back_off();
        assert_eq!(p.open_limit(), 1, "never below one connection");
        p.answered(FAST, true, Instant::now());
        assert_eq!(
            p.open_limit(),
            2,
            "one answer at one connection earns the second"
        );
        for _ in 0..2 {
            p.answered(FAST, true, Instant::now());
        }
        assert_eq!(p.open_limit(), 3);
        for _ in 0..100 {
            p.answered(FAST, true, Instant::now());
        }
        assert_eq!(
            p.open_limit(),
            MAX_OPEN_FAST,
            "capped by the fast link's maximum"
        );
    }

    #[test]
    fn a_handshake_that_lost_its_syn_backs_off() {
        let mut p = Policy::default();
        p.handshake(FAST, None);
        assert!(!p.handshake(Duration::from_millis(1003), None));
        assert_eq!(p.open_limit(), MAX_OPEN_FAST / 2);
    }
}
