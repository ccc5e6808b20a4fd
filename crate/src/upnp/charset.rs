//! The text of an XML document from a router, decoded by what the document says it is.
//!
//! UPnP asks for UTF-8, but some firmwares write ISO-8859-1 and say so in the XML
//! declaration (a MitraStar DSL-2401HN names itself "Passerelle d'accès" in Latin-1).
//! Decoded as UTF-8, every accented letter would become U+FFFD. The parser (roxmltree)
//! takes UTF-8 text only and ignores the declared encoding, so we decode first.

use std::borrow::Cow;

/// Labels of ISO-8859-1 (IANA's name and the aliases firmwares use).
const LATIN1_LABELS: [&str; 6] = [
    "iso-8859-1",
    "iso8859-1",
    "iso_8859-1",
    "latin1",
    "latin-1",
    "l1",
];

/// How far into the document the declaration may end (it must come first).
const DECLARATION_MAX: usize = 256;

/// Decodes `bytes`: a UTF-8 byte order mark wins, then the declaration's `encoding`;
/// ISO-8859-1 maps each byte to its code point, everything else is read as UTF-8 (bytes
/// that are not UTF-8 become U+FFFD, as before).
pub fn decode_xml(bytes: &[u8]) -> Cow<'_, str> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    match declared_encoding(bytes) {
        Some(label) if LATIN1_LABELS.iter().any(|l| l.eq_ignore_ascii_case(label)) => {
            Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
        }
        _ => utf8(bytes),
    }
}

/// `bytes` as UTF-8, invalid sequences as U+FFFD (the check alone is several times cheaper
/// than the lossy conversion's, and replies are almost always valid).
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = &bytes[..bytes.len().min(DECLARATION_MAX)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = head[start..].strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    // A plain window search: str::find sets up a two-way searcher, dearer than this scan.
    let at = declaration
        .as_bytes()
        .windows(8)
        .position(|w| w == b"encoding")?;
    let after = &declaration[at + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_declared_is_latin1() {
        let doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><root><n>Passerelle d'acc\xE8s</n></root>";
        assert_eq!(
            decode_xml(doc),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><root><n>Passerelle d'acc\u{e8}s</n></root>"
        );
        let doc = b"\n <?xml version='1.0' encoding = 'latin1' ?><r>\xE9</r>";
        assert!(decode_xml(doc).ends_with("<r>\u{e9}</r>"));
    }

    #[test]
    fn a_latin1_description_parses_with_its_accents() {
        let doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device><friendlyName>Passerelle d'acc\xE8s</friendlyName></device></root>";
        let d = crate::upnp::device::description::Description::parse(&decode_xml(doc)).unwrap();
        assert_eq!(d.friendly_name, "Passerelle d'acc\u{e8}s");
    }

    #[test]
    fn utf8_bom_and_undeclared_stay_utf8() {
        assert_eq!(decode_xml("<r>\u{e8}</r>".as_bytes()), "<r>\u{e8}</r>");
        assert_eq!(decode_xml(b"\xEF\xBB\xBF<r>\xC3\xA8</r>"), "<r>\u{e8}</r>");
        // A BOM says UTF-8 whatever the declaration claims.
        assert_eq!(
            decode_xml(b"\xEF\xBB\xBF<?xml encoding=\"ISO-8859-1\"?><r>\xC3\xA8</r>"),
            "<?xml encoding=\"ISO-8859-1\"?><r>\u{e8}</r>"
        );
        assert_eq!(
            decode_xml(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><r>\xE8</r>"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><r>\u{fffd}</r>"
        );
    }

    #[test]
    fn odd_declarations_fall_back_to_utf8() {
        for doc in [
            &b"<?xml version=\"1.0\" encoding=ISO-8859-1?><r/>"[..],
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1?><r/>",
            b"<r><?xml encoding=\"ISO-8859-1\"?></r>",
            b"<?xml version=\"1.0\"",
            b"",
        ] {
            assert_eq!(decode_xml(doc), String::from_utf8_lossy(doc), "{doc:?}");
        }
    }
}
