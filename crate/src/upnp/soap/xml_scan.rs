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
/// Open elements, and namespace prefixes bound at once, in the plain subset (a reply nests
/// four deep and binds two).
const MAX_DEPTH: usize = 16;
const MAX_PREFIXES: usize = 8;
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
    // Open elements (name, index) and bound prefixes (prefix, depth bound at).
    let mut open: Stack<(Name<'_>, usize), MAX_DEPTH> = Stack::new((Name::default(), 0));
    let mut prefixes: Stack<(&str, usize), MAX_PREFIXES> = Stack::new(("", 0));
    loop {
        if !s.eat("<") {
            return None;
        }
        let tag = s.name()?;
        let depth = open.len;
        let mut names = [Name::default(); MAX_ATTRIBUTES];
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
            if name.prefix() == Some("xmlns") {
                if value.is_empty() || matches!(name.local(), "xml" | "xmlns") {
                    return None;
                }
                prefixes.push((name.local(), depth))?;
            }
            // Two attributes with one local name might be one expanded name: left to roxmltree.
            if names[..count].iter().any(|n| n.local() == name.local()) {
                return None;
            }
            names[count] = name;
            count += 1;
        };
        // Every prefix bound (by this tag or an ancestor); `xml:` and `xmlns:` left to roxmltree
        // except on the namespace declarations themselves.
        let bound = |name: &Name<'_>| match name.prefix() {
            None => true,
            Some(prefix) => prefix != "xml" && prefixes.items().iter().any(|(p, _)| *p == prefix),
        };
        if tag.prefix() == Some("xmlns") || !bound(&tag) {
            return None;
        }
        if !names[..count]
            .iter()
            .all(|n| n.prefix() == Some("xmlns") || bound(n))
        {
            return None;
        }
        elements.push(Element {
            name: tag.local(),
            text: "",
            parent: open.items().last().map(|&(_, i)| i),
            depth,
        });
        if empty {
            prefixes.unwind(depth);
            if open.len > 0 {
                s.text()?;
            }
        } else {
            open.push((tag, elements.len() - 1))?;
            let text = s.text()?;
            elements.last_mut()?.text = text;
        }
        // End tags and the text after them, up to the next start tag.
        loop {
            if open.len == 0 {
                s.spaces();
                return s.at_end().then_some(elements);
            }
            if s.eat("</") {
                let name = s.name()?;
                s.spaces();
                if !s.eat(">") || open.pop().map(|(q, _)| q.qname) != Some(name.qname) {
                    return None;
                }
                prefixes.unwind(open.len);
                if open.len > 0 {
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

/// A name as it stands in the document, and where its prefix ends.
#[derive(Clone, Copy, Default)]
struct Name<'a> {
    qname: &'a str,
    colon: Option<usize>,
}

impl<'a> Name<'a> {
    fn prefix(&self) -> Option<&'a str> {
        self.colon.map(|c| &self.qname[..c])
    }

    fn local(&self) -> &'a str {
        self.colon.map_or(self.qname, |c| &self.qname[c + 1..])
    }
}

/// A stack of at most `N` (beyond that the document is not in the plain subset), on the
/// stack itself: no allocation per reply.
struct Stack<T: Copy, const N: usize> {
    slots: [T; N],
    len: usize,
}

impl<T: Copy, const N: usize> Stack<T, N> {
    fn new(fill: T) -> Self {
        Self {
            slots: [fill; N],
            len: 0,
        }
    }

    fn items(&self) -> &[T] {
        &self.slots[..self.len]
    }

    fn push(&mut self, item: T) -> Option<()> {
        *self.slots.get_mut(self.len)? = item;
        self.len += 1;
        Some(())
    }

    fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        Some(self.slots[self.len])
    }
}

impl<const N: usize> Stack<(&str, usize), N> {
    /// Forgets the prefixes bound at `depth` or deeper.
    fn unwind(&mut self, depth: usize) {
        while self.len > 0 && self.slots[self.len - 1].1 >= depth {
            self.len -= 1;
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
    fn name(&mut self) -> Option<Name<'a>> {
        let rest = self.rest();
        let len = rest
            .iter()
            .position(|&b| CLASS[usize::from(b)] & NAME == 0)
            .unwrap_or(rest.len());
        let bytes = &rest[..len];
        let colon = bytes.iter().position(|&b| b == b':');
        let starts = |part: &[u8]| {
            part.first()
                .is_some_and(|&b| CLASS[usize::from(b)] & START != 0)
        };
        let fits = match colon {
            None => starts(bytes),
            Some(c) => {
                starts(&bytes[..c]) && starts(&bytes[c + 1..]) && !bytes[c + 1..].contains(&b':')
            }
        };
        if !fits {
            return None;
        }
        Some(Name {
            qname: self.take(len),
            colon,
        })
    }

    /// A quoted attribute value without markup or references.
    fn quoted(&mut self) -> Option<&'a str> {
        let (&quote, body) = self.rest().split_first()?;
        if !matches!(quote, b'"' | b'\'') {
            return None;
        }
        let len = body.iter().position(|&b| b == quote)?;
        if !body[..len]
            .iter()
            .all(|&b| CLASS[usize::from(b)] & VALUE != 0)
        {
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
        let len = rest
            .iter()
            .position(|&b| CLASS[usize::from(b)] & TEXT == 0)
            .unwrap_or(rest.len());
        if rest.get(len).is_some_and(|&b| b != b'<') {
            return None;
        }
        let raw = &rest[..len];
        if raw.contains(&b']') && raw.windows(3).any(|w| w == b"]]>") {
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
    CLASS[usize::from(b)] & SPACE != 0
}

/// What each byte may be in the plain subset: bits of [`CLASS`].
const SPACE: u8 = 1;
/// May start a name (or the part after its prefix).
const START: u8 = 2;
/// May be in a name (with `:`, checked apart).
const NAME: u8 = 4;
/// Character data: printable ASCII and white space, no markup or reference.
const TEXT: u8 = 8;
/// An attribute value's character (any quote: the closing one is found first).
const VALUE: u8 = 16;

const CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let space = matches!(c, b' ' | b'\t' | b'\n' | b'\r');
        let printable = matches!(c, 0x20..=0x7E);
        let start = c.is_ascii_alphabetic() || c == b'_';
        let name = start || c.is_ascii_digit() || matches!(c, b'.' | b'-' | b':');
        let text = (printable || space) && c != b'<' && c != b'&';
        class[b] = if space { SPACE } else { 0 }
            | if start { START } else { 0 }
            | if name { NAME } else { 0 }
            | if text { TEXT } else { 0 }
            | if text { VALUE } else { 0 };
        b += 1;
    }
    class
};

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
