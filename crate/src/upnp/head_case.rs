//! Request heads spelled the way miniupnpc spells them.
//!
//! hyper writes header names in lower case (`soapaction: ...`), and its title-case option
//! would write `Soapaction`. Some routers match header names case-sensitively: a Linksys
//! WRT120N routes a POST to its UPnP handler only for `SOAPAction`/`SOAPACTION` and answers
//! HTTP 501 otherwise (syncthing/syncthing#1696). miniupnpc (what Godot uses) writes
//! `SOAPAction`, `Content-Type`, `Host`..., and every router in the field has met that head.
//!
//! [`MiniupnpcCase`] sits between hyper and the socket: it holds back the request head until
//! its blank line, re-spells the known header names (same length, so nothing else moves) and
//! passes everything after the head through untouched. Replies are read as they come.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Header names as miniupnpc 2.x writes them (minisoap.c, miniwget.c).
const SPELLINGS: [&str; 8] = [
    "Host",
    "User-Agent",
    "Content-Length",
    "Content-Type",
    "SOAPAction",
    "Connection",
    "Cache-Control",
    "Pragma",
];

/// A head longer than this is passed on as it is (ours are a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;

/// Re-spells the names of `head`'s header lines (everything after the request line) that
/// match one of [`SPELLINGS`] case-insensitively. Values are never touched.
pub fn respell(head: &mut [u8]) {
    let mut start = match find(head, b"\r\n") {
        Some(i) => i + 2,
        None => return,
    };
    while start < head.len() {
        let end = find(&head[start..], b"\r\n").map_or(head.len(), |i| start + i);
        let line = &mut head[start..end];
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = &mut line[..colon];
            if let Some(spelling) = SPELLINGS
                .iter()
                .find(|s| s.as_bytes().eq_ignore_ascii_case(name))
            {
                name.copy_from_slice(spelling.as_bytes());
            }
        }
        start = end + 2;
    }
}

/// Where `needle` first occurs (memchr's vectorised search: a comparison at every position
/// cost a sixth of a request's instructions).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

enum State {
    /// Collecting the head (and whatever follows it in the same writes).
    Head(Vec<u8>),
    /// The re-spelled head (and body bytes written with it), partly sent.
    Sending { bytes: Vec<u8>, sent: usize },
    /// Head sent: writes go straight through.
    Through,
}

/// Wraps one connection's IO for one request (see the module comment).
pub struct MiniupnpcCase<T> {
    inner: T,
    state: State,
}

impl<T> MiniupnpcCase<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            state: State::Head(Vec::new()),
        }
    }
}

impl<T: AsyncWrite + Unpin> MiniupnpcCase<T> {
    /// Sends what is held back. Ready(Ok) once nothing is (no longer) held.
    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Sending { bytes, sent } => {
                    if *sent == bytes.len() {
                        self.state = State::Through;
                        continue;
                    }
                    let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *sent += n;
                }
                // A head without its blank line (only on shutdown): send it as it is.
                State::Head(held) => {
                    let bytes = std::mem::take(held);
                    self.state = State::Sending { bytes, sent: 0 };
                }
                State::Through => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MiniupnpcCase<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let State::Head(held) = &mut this.state {
            // Only the new bytes (and the three before them) can complete the blank line.
            let searched = held.len().saturating_sub(3);
            held.extend_from_slice(buf);
            if let Some(end) = find(&held[searched..], b"\r\n\r\n").map(|i| searched + i) {
                respell(&mut held[..end]);
            } else if held.len() <= MAX_HEAD {
                // Taken; sent once the head is complete (or on flush/shutdown).
                return Poll::Ready(Ok(buf.len()));
            }
            let bytes = std::mem::take(held);
            this.state = State::Sending { bytes, sent: 0 };
            // The bytes are ours now: report them written and send on the next poll.
            return match this.poll_send_held(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.state, State::Head(_)) {
            // hyper flushes after a whole message; a partial head simply waits for more.
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MiniupnpcCase<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn respells_known_names_and_nothing_else() {
        let mut head = b"POST /ctl?host:x HTTP/1.1\r\nhost: 10.0.0.1\r\nsoapaction: \"urn:x#soapaction\"\r\ncontent-type: text/xml\r\nx-other: Host\r\nconnection: close".to_vec();
        respell(&mut head);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "POST /ctl?host:x HTTP/1.1\r\nHost: 10.0.0.1\r\nSOAPAction: \"urn:x#soapaction\"\r\nContent-Type: text/xml\r\nx-other: Host\r\nConnection: close"
        );
    }

    /// A writer that takes at most `chunk` bytes per write, to exercise partial writes.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn head_split_over_writes_and_partial_sends_arrives_whole() {
        let request =
            b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\nsoapaction: \"s#A\"\r\n\r\nbody";
        for split in [1, 7, 30, request.len()] {
            let mut io = MiniupnpcCase::new(Trickle {
                out: Vec::new(),
                chunk: 5,
            });
            for part in request.chunks(split) {
                io.write_all(part).await.unwrap();
            }
            io.flush().await.unwrap();
            assert_eq!(
                io.inner.out,
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nSOAPAction: \"s#A\"\r\n\r\nbody",
                "split {split}"
            );
        }
    }
}
