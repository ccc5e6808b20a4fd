//! An HTTP reply as a hostile device sends it, in pieces of the sizes the input chooses: no
//! panic, and never more held than the caps allow.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upnp_native::upnp::link::http_reply::{ReplyReader, MAX_HEAD_BYTES};

const MAX_BODY: usize = 1024;

fuzz_target!(|input: &[u8]| {
    // The first byte sets the piece size; the rest is the stream, then its end.
    let Some((&split, stream)) = input.split_first() else { return };
    let mut reader = ReplyReader::new(MAX_BODY);
    // Odd piece sizes also keep the head as text (what a traced call does).
    if split % 2 == 1 {
        reader.keep_head();
    }
    for piece in stream.chunks(usize::from(split).max(1)).chain([&[][..]]) {
        reader.buffer().extend_from_slice(piece);
        match reader.received(piece.len()) {
            Ok(Some(reply)) => {
                assert!(reply.body.len() <= MAX_BODY);
                return;
            }
            Ok(None) => assert!(!piece.is_empty(), "the end of the stream settles the reply"),
            Err(_) => return,
        }
        assert!(reader.buffer().len() <= MAX_HEAD_BYTES + MAX_BODY + 512);
    }
});
