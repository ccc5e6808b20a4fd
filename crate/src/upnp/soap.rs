//! SOAP over HTTP for the WAN*Connection services: envelopes, replies, faults.
//!
//! The `SOAPAction` header and the envelope's namespace are always the service type the
//! device announced (WANIPConnection:1/:2, WANPPPConnection:1); strict routers reject a
//! mismatch, which is the igd-next defect this module exists to avoid.

pub mod xml_scan;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use roxmltree::Document;

use crate::errors::{Failure, UpnpResult};
use crate::limits::{cap, MAX_NAME_CHARS};
use crate::trace::{self, Event, Kind};
use crate::upnp::charset;
use crate::upnp::link::http::{self, Endpoint, HttpError, SOAP_CONTENT_TYPE};
use crate::upnp::link::Limits;
use crate::upnp::soap::xml_scan::Element;

/// Largest SOAP reply we read (real ones are well under 2 KB).
pub const MAX_SOAP_BYTES: usize = 64 * 1024;

/// Where an action goes.
#[derive(Clone, Debug)]
pub struct Target {
    /// Private, so that it cannot change under its parsed form below; shared with the keys of
    /// the mappings made through it (`leftovers.rs`) without a copy each.
    control_url: Arc<str>,
    pub service_type: String,
    pub timeout: Duration,
    /// Sent from this local address (None: the system's choice towards the device). Routers
    /// take IPv6 pinhole actions only from the pinhole's own address.
    pub local_address: Option<IpAddr>,
    /// The control URL parsed, on the first call (a target kept for a device, as the addon's
    /// `SoapService` is, parses it once for all its calls).
    endpoint: OnceLock<Result<Endpoint, String>>,
}

impl Target {
    pub fn new(control_url: String, service_type: String, timeout: Duration) -> Self {
        Self {
            control_url: control_url.into(),
            service_type,
            timeout,
            local_address: None,
            endpoint: OnceLock::new(),
        }
    }

    /// The same target sent from `local_address` (see the field).
    pub fn sent_from(self, local_address: Option<IpAddr>) -> Self {
        Self {
            local_address,
            ..self
        }
    }

    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// The control URL, shared.
    pub fn control_url_shared(&self) -> Arc<str> {
        self.control_url.clone()
    }

    /// The same target with another timeout (its parsed URL kept).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    fn endpoint(&self) -> Result<&Endpoint, Failure> {
        self.endpoint
            .get_or_init(|| Endpoint::parse(&self.control_url))
            .as_ref()
            .map_err(|e| Failure::new(UpnpResult::HttpError, e.clone()))
    }
}

/// The output arguments of a successful action, in reply order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values(pub Vec<(String, String)>);

impl Values {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A successful action: its values and the local address that reached the router.
#[derive(Clone, Debug)]
pub struct Reply {
    pub values: Values,
    pub local_addr: SocketAddr,
    /// Size of the reply body, for callers that budget a series of calls.
    pub body_bytes: usize,
}

/// Whether `input` can be sent as text content (as [`escape_into`] would write it), without
/// building its escaped form. Characters XML 1.0 cannot carry at all are refused, so a bad
/// description is caught here (INVALID_ARGS) rather than confusing the router.
pub fn check_xml_text(input: &str) -> Result<(), Failure> {
    if is_plain(input) {
        return Ok(());
    }
    escape_into(&mut String::new(), input)
}

/// Text with nothing to escape (the usual case: numbers, addresses, protocol names).
fn is_plain(input: &str) -> bool {
    input
        .bytes()
        .all(|b| b >= 0x20 && !matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | 0xEF) || b == b'\t')
}

/// `input` XML-escaped and appended to `out`; plain text is copied whole.
fn escape_into(out: &mut String, input: &str) -> Result<(), Failure> {
    if is_plain(input) {
        out.push_str(input);
        return Ok(());
    }
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(Failure::new(
                    UpnpResult::InvalidArgs,
                    format!(
                        "argument contains U+{:04X}, which XML cannot carry",
                        c as u32
                    ),
                ))
            }
            c => out.push(c),
        }
    }
    Ok(())
}

pub fn envelope(
    service_type: &str,
    action: &str,
    args: &[(&str, String)],
) -> Result<String, Failure> {
    let mut body = String::with_capacity(320 + args.len() * 64);
    body.push_str("<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>");
    for part in ["<u:", action, " xmlns:u=\""] {
        body.push_str(part);
    }
    escape_into(&mut body, service_type)?;
    body.push_str("\">");
    for (name, value) in args {
        for part in ["<", name, ">"] {
            body.push_str(part);
        }
        escape_into(&mut body, value)?;
        for part in ["</", name, ">"] {
            body.push_str(part);
        }
    }
    for part in ["</u:", action, "></s:Body></s:Envelope>\r\n"] {
        body.push_str(part);
    }
    Ok(body)
}

/// What a reply body says.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Response(Values),
    Fault {
        code: Option<i64>,
        description: String,
    },
}

/// Control characters XML 1.0 cannot carry, which routers still send raw inside values
/// (miniupnpd stores a mapping description as another LAN client gave it, ESC included):
/// moved to the private-use plane for parsing, and back in the values afterwards.
const SHELTER: u32 = 0xE000;

fn is_unxml_control(c: char) -> bool {
    c < '\u{20}' && !matches!(c, '\t' | '\n' | '\r')
}

fn shelter_controls(body: &str) -> Cow<'_, str> {
    if !body.chars().any(is_unxml_control) {
        return Cow::Borrowed(body);
    }
    body.chars()
        .map(|c| match c {
            c if is_unxml_control(c) => char::from_u32(SHELTER + c as u32).unwrap_or(c),
            c => c,
        })
        .collect()
}

fn unshelter(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c as u32 {
            n @ SHELTER..=0xE01F => char::from_u32(n - SHELTER).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Parses a SOAP reply to `action`. `Err` means the body is not a SOAP reply to it.
pub fn parse_reply(body: &str, action: &str) -> Result<Parsed, String> {
    if let Some(elements) = xml_scan::scan(body) {
        return read_reply(&elements, action);
    }
    let body = shelter_controls(body);
    let doc = Document::parse(&body).map_err(|e| format!("reply is not XML: {e}"))?;
    read_reply(&xml_scan::from_document(&doc), action)
}

/// What the elements of a reply say (the root is the first element).
fn read_reply(elements: &[Element<'_>], action: &str) -> Result<Parsed, String> {
    let children = |parent: usize| {
        elements
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.parent == Some(parent))
    };
    let envelope = elements.first().ok_or("reply has no root element")?;
    if envelope.name != "Envelope" {
        return Err(format!(
            "reply root is <{}>, not a SOAP Envelope",
            envelope.name
        ));
    }
    let (body, _) = children(0)
        .find(|(_, e)| e.name == "Body")
        .ok_or("SOAP reply has no Body")?;
    let (at, payload) = children(body).next().ok_or("SOAP Body is empty")?;
    let name = payload.name;
    if name == "Fault" {
        // The first element of that name inside the fault, in document order.
        let find = |wanted: &str| {
            elements[at + 1..]
                .iter()
                .take_while(|e| e.depth > payload.depth)
                .find(|e| e.name == wanted)
                .map(|e| unshelter(e.text))
        };
        let code = find("errorCode").and_then(|c| c.parse::<i64>().ok());
        let description = find("errorDescription")
            .filter(|d| !d.is_empty())
            .or_else(|| find("faultstring"))
            .unwrap_or_default();
        return Ok(Parsed::Fault { code, description });
    }
    if name.strip_suffix("Response") != Some(action) {
        return Err(format!(
            "expected <{action}Response>, got <{}>",
            cap(name, MAX_NAME_CHARS)
        ));
    }
    let values = children(at)
        .map(|(_, e)| (e.name.to_string(), unshelter(e.text)))
        .collect();
    Ok(Parsed::Response(Values(values)))
}

fn http_failure(e: HttpError) -> Failure {
    match e {
        HttpError::TooLarge(_) => Failure::new(UpnpResult::InvalidResponse, e.to_string()),
        _ => Failure::new(UpnpResult::HttpError, e.to_string()),
    }
}

/// Calls `action`. `build_args` receives the local address of the connection to the router
/// before the request is written, so callers can default `NewInternalClient` to it.
pub async fn call_with<F>(target: &Target, action: &str, build_args: F) -> Result<Reply, Failure>
where
    F: FnOnce(SocketAddr) -> Result<Vec<(&'static str, String)>, Failure>,
{
    call_reporting(target, action, Instant::now() + target.timeout, build_args)
        .await
        .map_err(|given_up| given_up.failure)
}

/// A failed call, and whether the router may have carried it out all the same: the request
/// was sent and no reply came (the deadline passed, or the connection broke first).
#[derive(Debug)]
pub struct CallFailure {
    pub failure: Failure,
    pub outcome_unknown: bool,
}

impl From<Failure> for CallFailure {
    fn from(failure: Failure) -> Self {
        Self {
            failure,
            outcome_unknown: false,
        }
    }
}

/// [`call_with`], telling a request given up after it was sent from one that never left or
/// that the router answered; done by `deadline` (the call's, set when it began).
pub async fn call_reporting<F>(
    target: &Target,
    action: &str,
    deadline: Instant,
    build_args: F,
) -> Result<Reply, CallFailure>
where
    F: FnOnce(SocketAddr) -> Result<Vec<(&'static str, String)>, Failure>,
{
    let outcome = exchange_action(target, action, deadline, build_args).await;
    trace::emit(|| outcome_event(target, action, &outcome));
    outcome
}

/// The trace's record of an action: its values, or the fault or failure.
fn outcome_event(target: &Target, action: &str, outcome: &Result<Reply, CallFailure>) -> Event {
    let event = Event::new(Kind::SoapResult)
        .url(target.control_url())
        .action(action);
    match outcome {
        Ok(reply) => {
            let values: Vec<String> = reply
                .values
                .0
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let detail = match values.is_empty() {
                true => "ok".to_string(),
                false => format!("ok: {}", values.join(", ")),
            };
            event.status(200).detail(detail)
        }
        Err(CallFailure { failure, .. }) => {
            let event = event.detail(format!(
                "{}: {}",
                failure.result.name(),
                failure.description
            ));
            let event = match failure.http_status {
                Some(status) => event.status(status),
                None => event,
            };
            match failure.upnp_code {
                Some(code) => event.code(code),
                None => event,
            }
        }
    }
}

async fn exchange_action<F>(
    target: &Target,
    action: &str,
    deadline: Instant,
    build_args: F,
) -> Result<Reply, CallFailure>
where
    F: FnOnce(SocketAddr) -> Result<Vec<(&'static str, String)>, Failure>,
{
    if target.control_url.is_empty() {
        return Err(Failure::new(UpnpResult::HttpError, "the device has no control URL").into());
    }
    let endpoint = target.endpoint()?;
    let mut limits = Limits::until(deadline, MAX_SOAP_BYTES);
    limits.source = target.local_address;
    // Deletes shrink the router's table, which makes every later request cheaper.
    limits.urgent = matches!(action, "DeletePortMapping" | "DeletePinhole");
    let conn = http::connect(endpoint, &limits)
        .await
        .map_err(http_failure)?;
    let local_addr = conn.local_addr;
    let args = build_args(local_addr)?;
    let body = envelope(&target.service_type, action, &args)?;
    let soap_action = ["\"", &target.service_type, "#", action, "\""];
    let headers = [SOAP_CONTENT_TYPE, ("SOAPAction", &soap_action[..])];
    let response = http::exchange(conn, endpoint, "POST", &headers, body.as_bytes(), &limits)
        .await
        .map_err(|e| CallFailure {
            outcome_unknown: matches!(e, HttpError::Timeout | HttpError::Closed(_)),
            failure: http_failure(e),
        })?;
    let status = response.status;
    let text = charset::decode_xml(&response.body);
    let answered = match parse_reply(&text, action) {
        Ok(Parsed::Fault {
            code: Some(code),
            description,
        }) => Err(Failure::fault(code, description, status)),
        Ok(Parsed::Fault {
            code: None,
            description,
        }) => Err(Failure::new(
            UpnpResult::UnknownError,
            format!("SOAP fault without a UPnP error code: {description}"),
        )
        .with_http_status(status)),
        Ok(Parsed::Response(values)) if status == 200 => Ok(Reply {
            values,
            local_addr,
            body_bytes: response.body.len(),
        }),
        Ok(Parsed::Response(_)) => Err(Failure::new(
            UpnpResult::HttpError,
            format!("HTTP {status} with a success body"),
        )
        .with_http_status(status)),
        Err(_) if status != 200 => Err(Failure::new(
            UpnpResult::HttpError,
            format!("HTTP {status} from the router"),
        )
        .with_http_status(status)),
        Err(_) if text.trim().is_empty() => Err(Failure::new(
            UpnpResult::HttpError,
            "empty reply from the router",
        )
        .with_http_status(status)),
        Err(why) => Err(Failure::new(UpnpResult::InvalidResponse, why).with_http_status(status)),
    };
    answered.map_err(CallFailure::from)
}

/// Calls an action whose arguments do not depend on the local address.
pub async fn call(
    target: &Target,
    action: &str,
    args: Vec<(&'static str, String)>,
) -> Result<Reply, Failure> {
    call_with(target, action, move |_| Ok(args)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_uses_the_announced_service_type_and_escapes() {
        let st = "urn:schemas-upnp-org:service:WANIPConnection:2";
        let body = envelope(
            st,
            "AddPortMapping",
            &[("NewPortMappingDescription", "a<b>&\"c'".into())],
        )
        .unwrap();
        assert!(body.contains(
            "<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">"
        ));
        assert!(body.contains(
            "<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;</NewPortMappingDescription>"
        ));
        assert!(body.contains("s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\""));
        // The envelope is well-formed XML and round-trips the value.
        let doc = Document::parse(&body).unwrap();
        let v = doc
            .descendants()
            .find(|n| n.tag_name().name() == "NewPortMappingDescription")
            .unwrap();
        assert_eq!(v.text(), Some("a<b>&\"c'"));
    }

    #[test]
    fn control_characters_are_invalid_args() {
        let err = envelope("st", "A", &[("X", "bell\u{7}".into())]).unwrap_err();
        assert_eq!(err.result, UpnpResult::InvalidArgs);
        assert!(envelope("st", "A", &[("X", "tab\tok ünïcode 🎮".into())]).is_ok());
    }

    #[test]
    fn parses_success_reply() {
        let body = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewExternalIPAddress>1.2.3.4</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;
        match parse_reply(body, "GetExternalIPAddress").unwrap() {
            Parsed::Response(v) => assert_eq!(v.get("NewExternalIPAddress"), Some("1.2.3.4")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_upnp_fault() {
        let body = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            parse_reply(body, "AddPortMapping").unwrap(),
            Parsed::Fault {
                code: Some(718),
                description: "ConflictInMappingEntry".into()
            }
        );
    }

    #[test]
    fn control_characters_in_values_are_kept_not_fatal() {
        // Captured from miniupnpd 2.3.1 after another LAN client stored this description
        // (crate/fuzz/seeds/soap/soap-GetGenericPortMappingEntry-control-chars).
        let body =
            include_str!("../../fuzz/seeds/soap/soap-GetGenericPortMappingEntry-control-chars");
        let Parsed::Response(v) = parse_reply(body, "GetGenericPortMappingEntry").unwrap() else {
            panic!("not a response")
        };
        assert_eq!(
            v.get("NewPortMappingDescription"),
            Some("\u{1b}[2J\u{1b}[31mPWNED\u{7}\nline2 \u{9b}31m")
        );
        assert_eq!(v.get("NewInternalPort"), Some("42000"));
    }

    #[test]
    fn fault_without_code_keeps_faultstring() {
        let body = r#"<Envelope><Body><Fault><faultstring>Server busy</faultstring></Fault></Body></Envelope>"#;
        assert_eq!(
            parse_reply(body, "X").unwrap(),
            Parsed::Fault {
                code: None,
                description: "Server busy".into()
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_reply_to_the_action() {
        for bad in [
            "",
            "garbage",
            "<html>500</html>",
            "<Envelope></Envelope>",
            "<Envelope><Body/></Envelope>",
            "<Envelope><Body><u:DeletePortMappingResponse/></Body></Envelope>",
        ] {
            assert!(parse_reply(bad, "AddPortMapping").is_err(), "{bad:?}");
        }
    }
}
