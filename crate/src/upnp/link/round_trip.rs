//! A new connection's handshake round trip as the kernel measured it (SYN sent to SYN-ACK
//! received, `TCP_INFO`'s smoothed RTT, which is that one sample right after the handshake).
//!
//! Why not a clock around `connect`: that also counts how late our thread got to run once
//! the kernel had finished. On a busy machine (the lab under the load of parallel builds, a
//! laptop beside a game) every handshake to a router 2 ms away then measured 5-15 ms, the link
//! was taken for a slow one and opened up to twice the connections, more than miniupnpd's
//! accept queue holds (`__test__/lib/godot/slow-link.test.ts` saw 7 to 11 established
//! connections where 6 fit). The kernel takes its sample when the SYN-ACK arrives, whoever
//! runs then.
//!
//! Linux only (`TCP_INFO`); elsewhere `None`, and the link times the handshake itself.

use std::time::Duration;

use tokio::net::TcpStream;

/// The kernel's round trip for `stream`'s handshake; `None` when it has none (another system,
/// or no sample: a SYN retransmitted without timestamps).
#[cfg(target_os = "linux")]
pub fn handshake_round_trip(stream: &TcpStream) -> Option<Duration> {
    use std::mem::{size_of, MaybeUninit};
    use std::os::fd::AsRawFd;

    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = libc::socklen_t::try_from(size_of::<libc::tcp_info>()).ok()?;
    // SAFETY: the kernel writes at most `len` bytes into `info`, which is that large and
    // already zeroed, so a shorter answer (an older kernel) leaves the rest zero.
    let status = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if status != 0 {
        return None;
    }
    // SAFETY: zeroed, then (partly) written by the kernel: every bit pattern is a valid
    // tcp_info (plain integers).
    let rtt_us = unsafe { info.assume_init() }.tcpi_rtt;
    (rtt_us > 0).then(|| Duration::from_micros(rtt_us.into()))
}

#[cfg(not(target_os = "linux"))]
pub fn handshake_round_trip(_stream: &TcpStream) -> Option<Duration> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// On loopback the handshake takes microseconds, however long this thread then sleeps
    /// before it asks.
    #[tokio::test]
    async fn the_kernels_sample_leaves_out_how_late_we_ask() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let rtt = handshake_round_trip(&stream).expect("Linux measures the handshake");
        assert!(rtt < Duration::from_millis(20), "{rtt:?}");
    }
}
