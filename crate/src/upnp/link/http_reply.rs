//! One HTTP/1.1 reply, read from a connection's bytes as they arrive: the head parsed by
//! httparse, the body framed and capped the way hyper (which this replaces, see `http.rs`)
//! framed replies to a client: 1xx heads skipped, no body for 101/204/304, `Transfer-Encoding`
//! before `Content-Length` (HTTP/1.0 may not have it), differing or malformed lengths refused,
//! else the body runs to the end of the connection.
//!
//! Pure: no socket here, so the fuzz target (`crate/fuzz/fuzz_targets/http_reply.rs`) can feed
//! it any bytes in any pieces.

/// A head longer than this is refused (hyper's read buffer was capped at the same).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header lines a head may have (httparse needs a fixed array; hyper's default count).
const MAX_HEADERS: usize = 100;
/// Room offered to each read (SOAP replies are a few hundred bytes).
const READ_CHUNK: usize = 2048;

/// A complete reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The head as text, when asked for with [`ReplyReader::keep_head`] (the trace's).
    pub head: Option<String>,
}

/// Why no reply could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The connection ended (or was reset) before a whole head had arrived.
    Incomplete(String),
    /// The body is larger than the cap.
    TooLarge,
    /// Not HTTP/1.x, or a body that ends wrong.
    Invalid(String),
}

enum Framing {
    /// Exactly this many bytes.
    Length(usize),
    /// Until the device closes the connection.
    UntilClose,
    Chunked(Chunks),
}

#[derive(Default)]
struct Chunks {
    body: Vec<u8>,
    /// Bytes still due in the current chunk's data, then its CRLF.
    data_left: usize,
    in_data: bool,
}

enum State {
    Head,
    Body {
        status: u16,
        start: usize,
        framing: Framing,
    },
}

/// Collects one reply (see the module comment).
pub struct ReplyReader {
    max_body: usize,
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    state: State,
    /// The final head as text: `Some` once read, when asked for.
    head: Option<String>,
    keep_head: bool,
}

impl ReplyReader {
    pub fn new(max_body: usize) -> Self {
        Self {
            max_body,
            buf: Vec::new(),
            state: State::Head,
            head: None,
            keep_head: false,
        }
    }

    /// Keeps the final reply's head as text, for the trace (see [`head_text`]).
    pub fn keep_head(&mut self) {
        self.keep_head = true;
    }

    /// Where the next read appends (with room for it; not zeroed first).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.buf.reserve(READ_CHUNK);
        &mut self.buf
    }

    /// Whether the head has been read (a failure after it is no longer an early close).
    pub fn has_head(&self) -> bool {
        matches!(self.state, State::Body { .. })
    }

    /// `n` more bytes were appended to [`buffer`](Self::buffer); 0 means the connection
    /// ended. The reply once it is complete.
    pub fn received(&mut self, n: usize) -> Result<Option<Reply>, ReplyError> {
        let ended = n == 0;
        loop {
            let step = match self.state {
                State::Head => self.head(ended)?,
                State::Body { .. } => return self.body(ended),
            };
            if !step {
                return Ok(None);
            }
        }
    }

    /// Parses the head if it is all there; true when the state moved on.
    fn head(&mut self, ended: bool) -> Result<bool, ReplyError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response
            .parse(&self.buf)
            .map_err(|e| ReplyError::Invalid(format!("invalid reply head: {e}")))?;
        let httparse::Status::Complete(len) = parsed else {
            if ended {
                return Err(ReplyError::Incomplete(
                    "connection closed before message completed".into(),
                ));
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return Err(ReplyError::Invalid("message head is too large".into()));
            }
            return Ok(false);
        };
        let status = response.code.unwrap_or(0);
        if status < 100 {
            return Err(ReplyError::Invalid(format!("invalid status code {status}")));
        }
        let framing = match status {
            101 | 204 | 304 => Framing::Length(0),
            // Informational: skipped, the real reply follows.
            100..=199 => {
                self.buf.drain(..len);
                return Ok(true);
            }
            _ => framing(response.version == Some(0), response.headers)?,
        };
        if let Framing::Length(n) = framing {
            if n > self.max_body {
                return Err(ReplyError::TooLarge);
            }
        }
        if self.keep_head {
            self.head = Some(head_text(&response));
        }
        self.state = State::Body {
            status,
            start: len,
            framing,
        };
        Ok(true)
    }

    fn body(&mut self, ended: bool) -> Result<Option<Reply>, ReplyError> {
        let State::Body {
            status,
            start,
            framing,
        } = &mut self.state
        else {
            unreachable!("body() is called in the body state")
        };
        let (status, start) = (*status, *start);
        let have = self.buf.len() - start;
        let body = match framing {
            Framing::Length(n) => {
                if have < *n {
                    if ended {
                        return Err(ReplyError::Invalid(
                            "end of file before message length reached".into(),
                        ));
                    }
                    return Ok(None);
                }
                self.buf.truncate(start + *n);
                self.buf.drain(..start);
                std::mem::take(&mut self.buf)
            }
            Framing::UntilClose => {
                if have > self.max_body {
                    return Err(ReplyError::TooLarge);
                }
                if !ended {
                    return Ok(None);
                }
                self.buf.drain(..start);
                std::mem::take(&mut self.buf)
            }
            Framing::Chunked(chunks) => {
                let (used, done) = chunks.decode(&self.buf[start..], self.max_body)?;
                self.buf.drain(start..start + used);
                if !done {
                    if ended {
                        return Err(ReplyError::Invalid(
                            "connection closed inside a chunked body".into(),
                        ));
                    }
                    if self.buf.len() - start >= MAX_HEAD_BYTES {
                        return Err(ReplyError::Invalid("chunk size line too long".into()));
                    }
                    return Ok(None);
                }
                std::mem::take(&mut chunks.body)
            }
        };
        Ok(Some(Reply {
            status,
            body,
            head: self.head.take(),
        }))
    }
}

/// A head as the trace shows it: the status line and the header lines as they came (line ends
/// written CRLF, bytes that are not UTF-8 replaced), without the blank line that ends it.
fn head_text(response: &httparse::Response<'_, '_>) -> String {
    let mut text = format!(
        "HTTP/1.{} {} {}\r\n",
        response.version.unwrap_or(1),
        response.code.unwrap_or(0),
        response.reason.unwrap_or("")
    );
    for header in response.headers.iter() {
        text.push_str(header.name);
        text.push_str(": ");
        text.push_str(&String::from_utf8_lossy(header.value));
        text.push_str("\r\n");
    }
    text
}

/// How the body of a final reply is delimited (RFC 9112 6.3, as hyper's client decides it).
fn framing(http10: bool, headers: &[httparse::Header<'_>]) -> Result<Framing, ReplyError> {
    let named = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    };
    if let Some(last) = named("Transfer-Encoding").next_back() {
        if http10 {
            return Err(ReplyError::Invalid(
                "HTTP/1.0 reply with a Transfer-Encoding".into(),
            ));
        }
        // Chunked only when it is the last coding; any other is read to the end.
        let chunked = visible_ascii(last.value).is_some_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        });
        return Ok(if chunked {
            Framing::Chunked(Chunks::default())
        } else {
            Framing::UntilClose
        });
    }
    let mut length = None;
    for header in named("Content-Length") {
        let invalid = || ReplyError::Invalid("invalid Content-Length".into());
        // Repeated values (in one line or several) must all agree.
        for part in visible_ascii(header.value).ok_or_else(invalid)?.split(',') {
            let n = digits(part.trim()).ok_or_else(invalid)?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid());
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(n) => Framing::Length(usize::try_from(n).unwrap_or(usize::MAX)),
        None => Framing::UntilClose,
    })
}

/// A header value that is visible ASCII (and tabs), as text.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| (32..127).contains(&b) || b == b'\t')
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// A decimal number of digits only (no sign), or None (also on overflow).
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Chunks {
    /// Decodes what `raw` holds; returns the bytes used and whether the last chunk was seen
    /// (trailers are not waited for: the connection is closed after every reply).
    fn decode(&mut self, raw: &[u8], max_body: usize) -> Result<(usize, bool), ReplyError> {
        let mut at = 0;
        loop {
            if self.in_data {
                if self.data_left > 0 {
                    let take = self.data_left.min(raw.len() - at);
                    self.body.extend_from_slice(&raw[at..at + take]);
                    self.data_left -= take;
                    at += take;
                    if self.data_left > 0 {
                        return Ok((at, false));
                    }
                }
                match raw.get(at..at + 2) {
                    None => return Ok((at, false)),
                    Some(b"\r\n") => {
                        at += 2;
                        self.in_data = false;
                    }
                    Some(_) => return Err(ReplyError::Invalid("invalid chunk end".into())),
                }
            }
            let (used, size) = match httparse::parse_chunk_size(&raw[at..]) {
                Ok(httparse::Status::Complete(found)) => found,
                Ok(httparse::Status::Partial) => return Ok((at, false)),
                Err(_) => return Err(ReplyError::Invalid("invalid chunk size".into())),
            };
            at += used;
            if size == 0 {
                return Ok((at, true));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > max_body - self.body.len() {
                return Err(ReplyError::TooLarge);
            }
            self.data_left = size;
            self.in_data = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `split`, then the end of the connection when `close`.
    fn read(
        bytes: &[u8],
        split: usize,
        close: bool,
        max: usize,
    ) -> Result<Option<Reply>, ReplyError> {
        let mut reader = ReplyReader::new(max);
        for piece in bytes.chunks(split.max(1)) {
            reader.buffer().extend_from_slice(piece);
            if let Some(reply) = reader.received(piece.len())? {
                return Ok(Some(reply));
            }
        }
        if close {
            return reader.received(0);
        }
        Ok(None)
    }

    fn each_split(bytes: &[u8], close: bool, max: usize) -> Result<Option<Reply>, ReplyError> {
        let whole = read(bytes, bytes.len(), close, max);
        for split in [1, 2, 3, 7, 64] {
            assert_eq!(read(bytes, split, close, max), whole, "split {split}");
        }
        whole
    }

    fn ok(status: u16, body: &str) -> Result<Option<Reply>, ReplyError> {
        Ok(Some(Reply {
            status,
            body: body.as_bytes().to_vec(),
            head: None,
        }))
    }

    #[test]
    fn content_length_ends_the_body_without_waiting_for_the_close() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        assert_eq!(each_split(reply, false, 64), ok(200, "hello"));
        // Bytes past the length are not part of the body.
        assert_eq!(
            each_split(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello",
                false,
                64
            ),
            ok(200, "he")
        );
        // Repeated, agreeing lengths are one length.
        let twice = b"HTTP/1.1 500 X\r\nContent-Length: 2, 2\r\ncontent-length:2\r\n\r\nhi";
        assert_eq!(each_split(twice, false, 64), ok(500, "hi"));
    }

    #[test]
    fn without_a_length_the_body_runs_to_the_close() {
        let reply = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n<a/>";
        assert_eq!(each_split(reply, false, 64), Ok(None));
        assert_eq!(each_split(reply, true, 64), ok(200, "<a/>"));
        // A coding other than chunked (last) is read to the close too.
        let gzip = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw";
        assert_eq!(each_split(gzip, true, 64), ok(200, "raw"));
    }

    #[test]
    fn chunked_bodies_are_decoded_and_need_no_trailers() {
        let reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\nContent-Length: 99\r\n\r\n4;ext=1\r\n<a>x\r\n3\r\n</a\r\n1\r\n>\r\n0\r\n";
        assert_eq!(each_split(reply, false, 64), ok(200, "<a>x</a>"));
        let trailers =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(each_split(trailers, true, 64), ok(200, "ok"));
    }

    #[test]
    fn informational_heads_are_skipped_and_some_statuses_have_no_body() {
        let reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(each_split(reply, false, 64), ok(200, "ok"));
        for status in [101, 204, 304] {
            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 9\r\n\r\n");
            assert_eq!(each_split(reply.as_bytes(), false, 64), ok(status, ""));
        }
    }

    #[test]
    fn the_head_is_kept_as_text_only_when_asked_for() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 500 Internal Server Error\nServer: r\xff\nContent-Length: 2\n\nok";
        for keep in [false, true] {
            let mut reader = ReplyReader::new(64);
            if keep {
                reader.keep_head();
            }
            reader.buffer().extend_from_slice(bytes);
            let reply = reader.received(bytes.len()).unwrap().unwrap();
            assert_eq!((reply.status, &reply.body[..]), (500, &b"ok"[..]));
            // The final head, its lines ended CRLF, bytes that are not UTF-8 replaced.
            let head =
                "HTTP/1.0 500 Internal Server Error\r\nServer: r\u{FFFD}\r\nContent-Length: 2\r\n";
            assert_eq!(reply.head.as_deref(), keep.then_some(head));
        }
    }

    #[test]
    fn bodies_over_the_cap_are_refused_before_they_are_held() {
        let stated = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n";
        assert_eq!(each_split(stated, false, 64), Err(ReplyError::TooLarge));
        let mut endless = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        endless.extend_from_slice(&[b'x'; 65]);
        assert_eq!(each_split(&endless, false, 64), Err(ReplyError::TooLarge));
        let mut chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n".to_vec();
        chunk.extend_from_slice(&[b'x'; 64]);
        chunk.extend_from_slice(b"\r\n1\r\n");
        assert_eq!(each_split(&chunk, false, 64), Err(ReplyError::TooLarge));
        let huge_size =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        assert_eq!(each_split(huge_size, false, 64), Err(ReplyError::TooLarge));
        // An endless head or chunk-size line ends at the head cap.
        let mut head = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        head.resize(MAX_HEAD_BYTES + 10, b'a');
        assert!(matches!(
            read(&head, 1000, false, 64),
            Err(ReplyError::Invalid(_))
        ));
        let mut line = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        line.resize(MAX_HEAD_BYTES + 100, b'a');
        assert!(matches!(
            read(&line, 1000, false, 64),
            Err(ReplyError::Invalid(_))
        ));
    }

    #[test]
    fn an_early_close_is_incomplete_only_before_the_head() {
        for partial in [&b""[..], b"HTTP/1.1 200 OK\r\nContent-Le"] {
            assert!(matches!(
                each_split(partial, true, 64),
                Err(ReplyError::Incomplete(_))
            ));
        }
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
        assert!(matches!(
            each_split(short, true, 64),
            Err(ReplyError::Invalid(_))
        ));
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc";
        assert!(matches!(
            each_split(cut, true, 64),
            Err(ReplyError::Invalid(_))
        ));
    }

    #[test]
    fn malformed_heads_and_framing_are_invalid() {
        for bad in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nx",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
        ] {
            let got = each_split(bad, true, 64);
            assert!(
                matches!(got, Err(ReplyError::Invalid(_))),
                "{:?}: {got:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
