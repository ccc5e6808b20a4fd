//! The elements of a SOAP reply as a flat list in document order, which is all `soap.rs`
//! reads of it: names, the text right after each start tag, and who contains whom.
//!
//! [`scan`] reads the list in one pass when the reply keeps to the plain subset routers write
//! (an optional declaration, elements with attributes and namespace prefixes, ASCII text
//! without references, comments, CDATA or a CR inside a value); for anything else it returns
//! `None`, and [`from_document`] takes the list from roxmltree's tree instead. For every
//! document `scan` accepts, roxmltree accepts it too and yields the same list (tested below and
//! in the soap fuzz target). A router's reply is a few hundred bytes: roxmltree spent about
//! 30,000 instructions on building its tree for one, more than the rest of the call.

use roxmltree::{Document, NodeId};

/// One element of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// Local name (without its namespace prefix).
    pub name: &'a str,
    /// Its first child when that is text, trimmed; "" otherwise.
    pub text: &'a str,
    /// Index of the element that contains it; `None` for the root.
    pub parent: Option<usize>,
    /// The root's is 0.
    pub depth: usize,
}

/// Attributes one start tag may have in the plain subset.
const MAX_ATTRIBUTES: usize = 8;
/// The namespaces prefixes may not be bound to (XML Namespaces 1.0, 3).
const RESERVED_URIS: [&str; 2] = [
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2000/xmlns/",
];

/// The elements of `doc` if it is in the plain subset (see the module comment), else `None`.
pub fn scan(doc: &str) -> Option<Vec<Element<'_>>> {
    let mut s = Cursor { doc, at: 0 };
    if s.eat("<?xml ") {
        declaration(&mut s)?;
    }
    s.spaces();
    let mut elements: Vec<Element<'_>> = Vec::with_capacity(8);
    // Open elements (qualified name, index) and bound prefixes (prefix, depth bound at).
    let mut open: Vec<(&str, usize)> = Vec::with_capacity(8);
    let mut prefixes: Vec<(&str, usize)> = Vec::new();
    loop {
        if !s.eat("<") {
            return None;
        }
        let qname = s.name()?;
        let depth = open.len();
        let mut names = [""; MAX_ATTRIBUTES];
        let mut count = 0;
        let empty = loop {
            let spaced = s.spaces();
            if s.eat("/>") {
                break true;
            }
            if s.eat(">") {
                break false;
            }
            if !spaced || count == MAX_ATTRIBUTES {
                return None;
            }
            let name = s.name()?;
            s.spaces();
            if !s.eat("=") {
                return None;
            }
            s.spaces();
            let value = s.quoted()?;
            if RESERVED_URIS.contains(&value) {
                return None;
            }
            if let Some(prefix) = name.strip_prefix("xmlns:") {
                if value.is_empty() || matches!(prefix, "xml" | "xmlns") {
                    return None;
                }
                prefixes.push((prefix, depth));
            }
            // Two attributes with one local name might be one expanded name: left to roxmltree.
            if names[..count].iter().any(|n| local(n) == local(name)) {
                return None;
            }
            names[count] = name;
            count += 1;
        };
        // Every prefix bound (by this tag or an ancestor); `xml:` and `xmlns:` left to roxmltree
        // except on the namespace declarations themselves.
        let bound = |name: &str| match name.split_once(':') {
            None => true,
            Some((prefix, _)) => prefix != "xml" && prefixes.iter().any(|(p, _)| *p == prefix),
        };
        let declaration = |name: &str| name.starts_with("xmlns:");
        if qname.starts_with("xmlns:") || !bound(qname) {
            return None;
        }
        if !names[..count].iter().all(|n| declaration(n) || bound(n)) {
            return None;
        }
        elements.push(Element {
            name: local(qname),
            text: "",
            parent: open.last().map(|&(_, i)| i),
            depth,
        });
        if empty {
            prefixes.retain(|&(_, d)| d < depth);
            if !open.is_empty() {
                s.text()?;
            }
        } else {
            open.push((qname, elements.len() - 1));
            let text = s.text()?;
            elements.last_mut()?.text = text;
        }
        // End tags and the text after them, up to the next start tag.
        loop {
            if open.is_empty() {
                s.spaces();
                return s.at_end().then_some(elements);
            }
            if s.eat("</") {
                let name = s.name()?;
                s.spaces();
                if !s.eat(">") || open.pop().map(|(q, _)| q) != Some(name) {
                    return None;
                }
                prefixes.retain(|&(_, d)| d < open.len());
                if !open.is_empty() {
                    s.text()?;
                }
            } else if s.rest().starts_with(b"<!") || s.rest().starts_with(b"<?") || s.at_end() {
                return None;
            } else {
                break;
            }
        }
    }
}

/// The elements of a document roxmltree parsed, as [`scan`] lists them.
pub fn from_document<'a>(doc: &'a Document<'_>) -> Vec<Element<'a>> {
    let mut elements = Vec::new();
    // The open ancestors of the next element: its node and index.
    let mut ancestors: Vec<(NodeId, usize)> = Vec::new();
    for node in doc.root_element().descendants().filter(|n| n.is_element()) {
        let parent = node.parent_element().map(|p| p.id());
        while ancestors.last().is_some_and(|&(id, _)| Some(id) != parent) {
            ancestors.pop();
        }
        elements.push(Element {
            name: node.tag_name().name(),
            text: node.text().unwrap_or("").trim(),
            parent: ancestors.last().map(|&(_, i)| i),
            depth: ancestors.len(),
        });
        ancestors.push((node.id(), elements.len() - 1));
    }
    elements
}

/// `name` without its prefix.
#[inline]
fn local(name: &str) -> &str {
    name.split_once(':').map_or(name, |(_, l)| l)
}

/// `<?xml ` seen: the rest of the declaration, version first, then encoding and standalone.
fn declaration(s: &mut Cursor<'_>) -> Option<()> {
    /// `name = "value"` if it comes next (true), else nothing (false); None when malformed.
    fn pseudo(s: &mut Cursor<'_>, name: &str) -> Option<bool> {
        if !s.eat(name) {
            return Some(false);
        }
        s.spaces();
        s.eat("=").then_some(())?;
        s.spaces();
        s.quoted()?;
        Some(true)
    }
    s.spaces();
    pseudo(s, "version")?.then_some(())?;
    let mut spaced = s.spaces();
    for name in ["encoding", "standalone"] {
        if spaced && pseudo(s, name)? {
            spaced = s.spaces();
        }
    }
    s.eat("?>").then_some(())
}

/// A position in the document, read as bytes (everything accepted is ASCII, so every
/// position kept is a character boundary).
struct Cursor<'a> {
    doc: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn rest(&self) -> &'a [u8] {
        &self.doc.as_bytes()[self.at..]
    }

    #[inline]
    fn at_end(&self) -> bool {
        self.at == self.doc.len()
    }

    #[inline]
    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token.as_bytes());
        if found {
            self.at += token.len();
        }
        found
    }

    /// Skips XML white space; whether there was any.
    #[inline]
    fn spaces(&mut self) -> bool {
        let start = self.at;
        while self.rest().first().is_some_and(|&b| is_space(b)) {
            self.at += 1;
        }
        self.at > start
    }

    /// `len` bytes from here as text, and past them.
    #[inline]
    fn take(&mut self, len: usize) -> &'a str {
        let text = &self.doc[self.at..self.at + len];
        self.at += len;
        text
    }

    /// A name of ASCII letters, digits and `_.-` (not starting with a digit, `.` or `-`), with
    /// at most one prefix.
    fn name(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let mut colon = false;
        let mut len = 0;
        for (i, &b) in rest.iter().enumerate() {
            let first = i == 0 || rest[i - 1] == b':';
            let fits = match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'_' => true,
                b'0'..=b'9' | b'.' | b'-' => !first,
                b':' => !first && !std::mem::replace(&mut colon, true),
                _ => break,
            };
            if !fits {
                return None;
            }
            len = i + 1;
        }
        if len == 0 || rest[len - 1] == b':' {
            return None;
        }
        Some(self.take(len))
    }

    /// A quoted attribute value without markup or references.
    fn quoted(&mut self) -> Option<&'a str> {
        let (&quote, body) = self.rest().split_first()?;
        if !matches!(quote, b'"' | b'\'') {
            return None;
        }
        let len = body.iter().position(|&b| b == quote)?;
        if !body[..len].iter().all(|&b| is_plain(b) && b != b'<') {
            return None;
        }
        self.at += 1;
        let value = self.take(len);
        self.at += 1;
        Some(value)
    }

    /// Character data up to the next `<`, trimmed: plain, and no CR left inside once trimmed
    /// (an XML parser turns one into LF).
    fn text(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest.iter().position(|&b| b == b'<').unwrap_or(rest.len());
        let raw = &rest[..len];
        if !raw.iter().all(|&b| is_plain(b)) || raw.windows(3).any(|w| w == b"]]>") {
            return None;
        }
        let text = self.take(len).trim_matches(|c| is_space(c as u8));
        if text.contains('\r') {
            return None;
        }
        Some(text)
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Printable ASCII and XML white space, without a reference.
#[inline]
fn is_plain(b: u8) -> bool {
    (matches!(b, 0x20..=0x7E) && b != b'&') || is_space(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scan`'s list, and that roxmltree gives the same one.
    fn both(doc: &str) -> Option<Vec<Element<'_>>> {
        let scanned = scan(doc);
        if let Some(list) = &scanned {
            let parsed =
                Document::parse(doc).unwrap_or_else(|e| panic!("roxmltree refuses {doc:?}: {e}"));
            assert_eq!(&from_document(&parsed), list, "{doc:?}");
        }
        scanned
    }

    #[test]
    fn a_routers_reply_is_scanned_as_roxmltree_reads_it() {
        let doc = "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:GetExternalIPAddressResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">\r\n<NewExternalIPAddress> 11.22.33.44 </NewExternalIPAddress><Empty/><Mixed>a<b/>c</Mixed></u:GetExternalIPAddressResponse></s:Body></s:Envelope>\r\n";
        let list = both(doc).expect("plain");
        let names: Vec<_> = list
            .iter()
            .map(|e| (e.name, e.text, e.parent, e.depth))
            .collect();
        assert_eq!(
            names,
            [
                ("Envelope", "", None, 0),
                ("Body", "", Some(0), 1),
                ("GetExternalIPAddressResponse", "", Some(1), 2),
                ("NewExternalIPAddress", "11.22.33.44", Some(2), 3),
                ("Empty", "", Some(2), 3),
                ("Mixed", "a", Some(2), 3),
                ("b", "", Some(5), 4),
            ]
        );
    }

    #[test]
    fn every_seed_reply_roxmltree_reads_is_scanned_the_same() {
        let seeds =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/soap")).unwrap();
        let mut scanned = 0;
        for seed in seeds {
            let text = std::fs::read_to_string(seed.unwrap().path()).unwrap();
            scanned += usize::from(both(&text).is_some());
        }
        // All but the one with raw control characters (left to roxmltree).
        assert!(scanned >= 10, "{scanned}");
    }

    #[test]
    fn the_plain_subset_is_what_roxmltree_accepts_alike() {
        for doc in [
            "<a/>",
            "<a></a>",
            "<?xml version='1.0' encoding=\"UTF-8\" standalone='yes' ?><a/>",
            "<a x='1' y=\"2\"/>",
            "<a xmlns='urn:d' xmlns:p='urn:p'><p:b p:x='1'/></a>",
            "<a>\n\t text \n</a>\n",
            "<a>x &gt; y</a>",
            "<a>one\r\ntwo</a>",
            "<a><!-- c --></a>",
            "<a><![CDATA[x]]></a>",
            "<a>x]]>y</a>",
            "<!DOCTYPE a><a/>",
            "<?pi?><a/>",
            " <?xml version='1.0'?><a/>",
            "<?xml version='1.0'encoding='x'?><a/>",
            "<?xml encoding='x'?><a/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
            "<p:a/>",
            "<a><p:b xmlns:p='u'/><p:c/></a>",
            "<a xmlns:p=''/>",
            "<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
            "<xmlns:a/>",
            "<a xml:lang='en'/>",
            "<a></b>",
            "<a>",
            "<a/><b/>",
            "<a/>x",
            "<a></a>x",
            "<a><b/>x<c/>y</a>",
            "x<a/>",
            "",
            "<a b/>",
            "<a b='<'/>",
            "<a b='&amp;'/>",
            "<1a/>",
            "<a:/>",
            "<a:b:c/>",
            "<é/>",
            "<a>é</a>",
            "<a>\u{1b}</a>",
            "<a/ >",
            "<a x='1'y='2'/>",
        ] {
            both(doc);
        }
        // What it must accept, and what it must leave to roxmltree.
        assert!(scan("<?xml version=\"1.0\"?>\r\n<a>\r\n<b>1</b>\r\n</a>\r\n").is_some());
        for refused in [
            "<a>x &gt; y</a>",
            "<a>one\r\ntwo</a>",
            "<!DOCTYPE a><a/>",
            "<a>é</a>",
        ] {
            assert!(scan(refused).is_none(), "{refused:?}");
        }
    }
}
