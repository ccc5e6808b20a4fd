//! Caps on what the network can make us hold (SECURITY.md, "Defences"): the length of every
//! string a device hands us, how many devices and search replies one discovery takes in,
//! how much of a mapping table we read. Each number is stated here once.

/// Names a device gives itself (friendlyName, manufacturer, modelName, serviceType) and SSDP
/// header values (SERVER, ST, USN): UDA 1.1 allows 64 characters for the longest of them.
pub const MAX_NAME_CHARS: usize = 256;
/// A mapping's description, internal client and remote host as a router lists them.
pub const MAX_MAPPING_TEXT_CHARS: usize = 256;
/// LOCATION, URLBase and control URLs: longer ones are refused, not cut (a cut URL is another URL).
pub const MAX_URL_BYTES: usize = 1024;
/// What a failure's description may quote of what a device said.
pub const MAX_ERROR_CHARS: usize = 512;
/// Devices one discovery keeps from one responder address, and in all.
pub const MAX_DEVICES_PER_RESPONDER: usize = 4;
pub const MAX_DEVICES: usize = 64;
/// SSDP datagrams one discovery parses from one address, and in all; the rest are read and
/// dropped unparsed, so a flood costs a receive each and nothing more.
pub const MAX_REPLIES_PER_SOURCE: usize = 64;
pub const MAX_REPLIES: usize = 2048;
/// Bytes of SOAP replies one listing of a mapping table reads in all (1024 entries of a real
/// router are about 650 KB).
pub const MAX_TABLE_BYTES: usize = 4 * 1024 * 1024;
/// One STUN message: RFC 8489 6.1 keeps UDP messages under the path MTU (548 bytes advised
/// for IPv4, 1280 for IPv6); a Binding response is about 100. Longer datagrams are refused.
pub const MAX_STUN_MESSAGE: usize = 1500;
/// Attributes read from one STUN message; a real Binding response has fewer than 10.
pub const MAX_STUN_ATTRIBUTES: usize = 32;
/// STUN servers one call may name, and datagrams one call reads before giving up on the
/// rest (a flood of strangers costs a receive each, never more time than the budget).
pub const MAX_STUN_SERVERS: usize = 4;
pub const MAX_STUN_DATAGRAMS: usize = 256;

/// Trace records (`trace.rs`) waiting for one JS thread to take them, and their bytes: what a
/// flood can make a listener hold while its event loop is busy. Beyond either, records are
/// counted as dropped (and the count is reported) instead of kept.
pub const MAX_TRACE_RECORDS: usize = 4096;
pub const MAX_TRACE_BYTES: usize = 16 * 1024 * 1024;

/// `text` cut to `max_chars` characters (on a character boundary), "…" marking the cut.
pub fn cap(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_on_characters() {
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(cap("abcd", 3), "abc…");
        assert_eq!(cap("ééé", 2), "éé…");
        assert_eq!(cap("", 0), "");
    }
}
