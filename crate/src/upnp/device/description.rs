//! UPnP device descriptions: parsing, finding the IGD's services, resolving their URLs.
//!
//! Routers are sloppy with XML namespaces and casing of URLs, so elements are matched by
//! local name and every text is trimmed; anything that is not a device description at all
//! is an error the caller turns into `IgdStatus::NoIgd`.

use roxmltree::{Document, Node, ParsingOptions};

use crate::limits::{cap, MAX_NAME_CHARS};

/// Largest description we read (real ones are 2-20 KB).
pub const MAX_DESCRIPTION_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    pub service_type: String,
    pub control_url: String,
    pub scpd_url: String,
    pub event_sub_url: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    pub url_base: Option<String>,
    pub device_type: String,
    pub friendly_name: String,
    pub manufacturer: String,
    pub model_name: String,
    /// Every service of the root device and its embedded devices, in document order.
    pub services: Vec<Service>,
}

/// Service type prefixes of the UPnP forum's IGD and of the Broadband Forum's TR-064, which
/// reuses the IGD's services and actions under its own namespace (`urn:dslforum-org:`).
const SERVICE_NAMESPACES: [&str; 2] =
    ["urn:schemas-upnp-org:service:", "urn:dslforum-org:service:"];

/// Whether `service_type` is `<namespace>:<name>:<version>` in one of [`SERVICE_NAMESPACES`].
fn is_service(service_type: &str, name: &str) -> bool {
    SERVICE_NAMESPACES.iter().any(|ns| {
        service_type
            .strip_prefix(ns)
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Whether a service type is TR-064's (`urn:dslforum-org:`) rather than the UPnP forum's.
pub fn is_tr064(service_type: &str) -> bool {
    service_type.starts_with(SERVICE_NAMESPACES[1])
}

impl Description {
    pub fn parse(xml: &str) -> Result<Self, String> {
        // roxmltree stops entity loops and deep nesting, but not width: one 120 KB entity
        // referenced 40,000 times is 4.8 GB of text from a 240 KB body. No description needs
        // an entity of its own (XML's five predefined ones and character references stay),
        // so a declaration is refused before any parsing: cost stays in proportion to bytes.
        if xml.contains("<!ENTITY") {
            return Err(
                "the description declares XML entities (refused: their expansion is unbounded)"
                    .into(),
            );
        }
        let options = ParsingOptions {
            // Some firmwares ship a DOCTYPE (without entities, see above).
            allow_dtd: true,
            nodes_limit: 50_000,
            ..ParsingOptions::default()
        };
        let doc =
            Document::parse_with_options(xml, options).map_err(|e| format!("not XML: {e}"))?;
        let root = doc.root_element();
        if root.tag_name().name() != "root" {
            return Err(format!(
                "root element is <{}>, not <root>",
                root.tag_name().name()
            ));
        }
        let device = child(root, "device").ok_or("description has no <device>")?;
        let mut services = Vec::new();
        collect_services(device, &mut services);
        let name = |field: &str| {
            cap(
                &child_text(device, field).unwrap_or_default(),
                MAX_NAME_CHARS,
            )
        };
        Ok(Self {
            url_base: child_text(root, "URLBase").filter(|s| !s.is_empty()),
            device_type: name("deviceType"),
            friendly_name: name("friendlyName"),
            manufacturer: name("manufacturer"),
            model_name: name("modelName"),
            services,
        })
    }

    /// `WANCommonInterfaceConfig`, the service that makes a device an IGD.
    pub fn wan_common_interface(&self) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| is_service(&s.service_type, "WANCommonInterfaceConfig"))
    }

    /// Every `WANIPConnection:*` and `WANPPPConnection:*` service (UPnP forum or TR-064), in
    /// document order: a router with several WAN connections lists one per connection.
    pub fn connection_services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| {
            is_service(&s.service_type, "WANIPConnection")
                || is_service(&s.service_type, "WANPPPConnection")
        })
    }

    /// The first connection service, as miniupnpc picks it before asking any.
    pub fn connection_service(&self) -> Option<&Service> {
        self.connection_services().next()
    }

    /// `WANIPv6FirewallControl:*`, the IPv6 pinhole service (IGD v2; see `upnp::pinholes`).
    pub fn firewall_service(&self) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| is_service(&s.service_type, "WANIPv6FirewallControl"))
    }

    /// The base that relative URLs in this description resolve against.
    pub fn base<'a>(&'a self, description_url: &'a str) -> &'a str {
        self.url_base.as_deref().unwrap_or(description_url)
    }
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn child_text(node: Node, name: &str) -> Option<String> {
    child(node, name).map(|n| n.text().unwrap_or("").trim().to_string())
}

fn collect_services(device: Node, out: &mut Vec<Service>) {
    if let Some(list) = child(device, "serviceList") {
        for service in list
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "service")
        {
            out.push(Service {
                service_type: cap(
                    &child_text(service, "serviceType").unwrap_or_default(),
                    MAX_NAME_CHARS,
                ),
                control_url: child_text(service, "controlURL").unwrap_or_default(),
                scpd_url: child_text(service, "SCPDURL").unwrap_or_default(),
                event_sub_url: child_text(service, "eventSubURL").unwrap_or_default(),
            });
        }
    }
    if let Some(list) = child(device, "deviceList") {
        for embedded in list
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "device")
        {
            collect_services(embedded, out);
        }
    }
}

/// Resolves `reference` (absolute URL, absolute path or relative path) against `base`.
/// Returns "" for an empty reference: a service without a control URL has none.
pub fn resolve_url(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    if reference.is_empty() {
        return String::new();
    }
    if has_http_scheme(reference) {
        return reference.to_string();
    }
    let (origin, base_path) = split_origin(base);
    if reference.starts_with('/') {
        return format!("{origin}{reference}");
    }
    let dir = match base_path.rfind('/') {
        Some(i) => &base_path[..=i],
        None => "/",
    };
    format!("{origin}{dir}{reference}")
}

fn has_http_scheme(s: &str) -> bool {
    // `get`, not `[..7]`: byte 7 may fall inside a character (a fuzzer's first find).
    s.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// `http://host:port/a/b?q` -> (`http://host:port`, `/a/b`).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = if has_http_scheme(url) { 7 } else { 0 };
    let rest = &url[after_scheme..];
    match rest.find('/') {
        Some(i) => {
            let path = &rest[i..];
            let path = path.split(['?', '#']).next().unwrap_or(path);
            (&url[..after_scheme + i], path)
        }
        None => (url, "/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIUPNPD_V2: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">
<specVersion><major>1</major><minor>1</minor></specVersion>
<device>
 <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>
 <friendlyName>Lab router</friendlyName><manufacturer>miniupnp</manufacturer><modelName>miniupnpd</modelName>
 <serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
   <serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><controlURL>/ctl/L3F</controlURL>
   <eventSubURL>/evt/L3F</eventSubURL><SCPDURL>/L3F.xml</SCPDURL></service></serviceList>
 <deviceList><device>
  <deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
  <serviceList><service>
   <serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
   <controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL><SCPDURL>/WANCfg.xml</SCPDURL>
  </service></serviceList>
  <deviceList><device>
   <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
   <serviceList><service>
    <serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
    <controlURL> /ctl/IPConn </controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL>
   </service></serviceList>
  </device></deviceList>
 </device></deviceList>
</device></root>"#;

    #[test]
    fn finds_igd_services_in_embedded_devices() {
        let d = Description::parse(MINIUPNPD_V2).unwrap();
        assert_eq!(
            d.device_type,
            "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
        );
        assert_eq!(d.friendly_name, "Lab router");
        assert_eq!(d.services.len(), 3);
        assert!(d.wan_common_interface().is_some());
        let c = d.connection_service().unwrap();
        assert_eq!(
            c.service_type,
            "urn:schemas-upnp-org:service:WANIPConnection:2"
        );
        assert_eq!(c.control_url, "/ctl/IPConn");
    }

    #[test]
    fn finds_the_ipv6_firewall_service() {
        // miniupnpd 2.3.1 with IPv6: the pinhole service beside WANIPConnection:2.
        let xml = r#"<root><device><deviceList><device><deviceList><device><serviceList>
            <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IPConn</controlURL></service>
            <service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><controlURL>/ctl/IP6FCtl</controlURL></service>
            </serviceList></device></deviceList></device></deviceList></device></root>"#;
        let d = Description::parse(xml).unwrap();
        let fw = d.firewall_service().unwrap();
        assert_eq!(fw.control_url, "/ctl/IP6FCtl");
        assert!(Description::parse(MINIUPNPD_V2)
            .unwrap()
            .firewall_service()
            .is_none());
    }

    #[test]
    fn ppp_and_first_connection_service_wins() {
        let xml = r#"<root><device><deviceList><device><serviceList>
            <service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>/ppp</controlURL></service>
            <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ip</controlURL></service>
            </serviceList></device></deviceList></device></root>"#;
        let d = Description::parse(xml).unwrap();
        assert_eq!(d.connection_service().unwrap().control_url, "/ppp");
        assert!(d.wan_common_interface().is_none());
    }

    #[test]
    fn every_connection_service_in_order_upnp_forum_and_tr064() {
        let xml = r#"<root><device><deviceList>
            <device><serviceList>
              <service><serviceType>urn:dslforum-org:service:WANCommonInterfaceConfig:1</serviceType></service>
              <service><serviceType>urn:dslforum-org:service:WANPPPConnection:1</serviceType><controlURL>/a</controlURL></service>
              <service><serviceType>urn:schemas-upnp-org:service:WANIPConnectionX:1</serviceType><controlURL>/not</controlURL></service>
              <service><serviceType>urn:example-com:service:WANIPConnection:1</serviceType><controlURL>/not</controlURL></service>
            </serviceList></device>
            <device><serviceList>
              <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/b</controlURL></service>
              <service><serviceType>urn:dslforum-org:service:WANIPConnection:1</serviceType><controlURL>/c</controlURL></service>
            </serviceList></device>
            </deviceList></device></root>"#;
        let d = Description::parse(xml).unwrap();
        let urls: Vec<_> = d
            .connection_services()
            .map(|s| s.control_url.as_str())
            .collect();
        assert_eq!(urls, ["/a", "/b", "/c"]);
        assert!(d.wan_common_interface().is_some());
        assert!(is_tr064("urn:dslforum-org:service:WANPPPConnection:1"));
        assert!(!is_tr064("urn:schemas-upnp-org:service:WANIPConnection:2"));
    }

    #[test]
    fn non_igd_device_has_no_connection_service() {
        let xml = r#"<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
            <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>
            <serviceList><service><serviceType>urn:schemas-upnp-org:service:ContentDirectory:1</serviceType>
            <controlURL>/cd</controlURL></service></serviceList></device></root>"#;
        let d = Description::parse(xml).unwrap();
        assert!(d.connection_service().is_none());
        assert!(d.wan_common_interface().is_none());
    }

    #[test]
    fn refuses_what_is_not_a_description() {
        for bad in [
            "",
            "hello",
            "<html><body>router</body></html>",
            "<root></root>",
            "<root><device>",
        ] {
            assert!(Description::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_entity_declarations_of_any_width() {
        // Issue 10: one wide entity referenced many times (4.8 GB from 240 KB), and the same
        // shape small; both refused before parsing, the predefined entities still work.
        let wide = format!(
            "<!DOCTYPE root [<!ENTITY a \"{}\">]><root><device><friendlyName>{}</friendlyName></device></root>",
            "A".repeat(120 * 1024),
            "&a;".repeat(40_000)
        );
        let small = "<!DOCTYPE root [<!ENTITY a \"b\">]><root><device><friendlyName>&a;</friendlyName></device></root>";
        for xml in [wide.as_str(), small] {
            assert!(Description::parse(xml).unwrap_err().contains("entities"));
        }
        let plain = "<!DOCTYPE root><root><device><friendlyName>a &amp; b &#233;</friendlyName></device></root>";
        assert_eq!(Description::parse(plain).unwrap().friendly_name, "a & b é");
    }

    #[test]
    fn urls_with_multibyte_characters_do_not_panic() {
        // Found by the fuzzer (crate/fuzz/seeds/description/regression-url-slice-mid-char):
        // byte 7 of a URL inside a character.
        assert_eq!(
            resolve_url("http://192.168.1.1:5000/d.xml", "/ctl/Ié"),
            "http://192.168.1.1:5000/ctl/Ié"
        );
        assert_eq!(resolve_url("<?\u{b9}é\u{b9}<", "x"), "<?\u{b9}é\u{b9}</x");
        let xml = "<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>abcdeféx</controlURL></service></serviceList></device></root>";
        let d = Description::parse(xml).unwrap();
        let control = &d.connection_service().unwrap().control_url;
        assert_eq!(
            resolve_url("http://10.0.0.1/d.xml", control),
            "http://10.0.0.1/abcdeféx"
        );
    }

    #[test]
    fn names_are_capped() {
        let xml = format!(
            "<root><device><friendlyName>{}</friendlyName><modelName>m</modelName></device></root>",
            "é".repeat(10_000)
        );
        let d = Description::parse(&xml).unwrap();
        assert_eq!(d.friendly_name.chars().count(), MAX_NAME_CHARS + 1);
        assert_eq!(d.model_name, "m");
    }

    #[test]
    fn survives_entity_bombs() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]><root><device><friendlyName>&lol9;</friendlyName></device></root>"#;
        // Either refused or bounded; never a billion "lol"s in memory.
        if let Ok(d) = Description::parse(bomb) {
            assert!(d.friendly_name.len() < 10_000_000);
        }
    }

    #[test]
    fn resolves_urls_like_miniupnpc() {
        let desc = "http://192.168.1.1:5000/rootDesc.xml";
        assert_eq!(
            resolve_url(desc, "/ctl/IPConn"),
            "http://192.168.1.1:5000/ctl/IPConn"
        );
        assert_eq!(
            resolve_url(desc, "ctl/IPConn"),
            "http://192.168.1.1:5000/ctl/IPConn"
        );
        assert_eq!(
            resolve_url("http://192.168.1.1:5000/igd/desc.xml?v=1", "ctl"),
            "http://192.168.1.1:5000/igd/ctl"
        );
        assert_eq!(
            resolve_url(desc, "http://192.168.1.1:6000/x"),
            "http://192.168.1.1:6000/x"
        );
        assert_eq!(
            resolve_url("http://192.168.1.1:5000", "x"),
            "http://192.168.1.1:5000/x"
        );
        assert_eq!(resolve_url(desc, "  "), "");
        assert_eq!(
            resolve_url("http://[fe80::1%253]:5000/d.xml", "/ctl"),
            "http://[fe80::1%253]:5000/ctl"
        );
    }

    #[test]
    fn url_base_overrides_description_url() {
        let xml = r#"<root><URLBase>http://10.0.0.1:49000/</URLBase><device><deviceType>x</deviceType></device></root>"#;
        let d = Description::parse(xml).unwrap();
        assert_eq!(
            d.base("http://10.0.0.1:5000/d.xml"),
            "http://10.0.0.1:49000/"
        );
        assert_eq!(
            resolve_url(d.base("http://10.0.0.1:5000/d.xml"), "ctl"),
            "http://10.0.0.1:49000/ctl"
        );
    }
}
