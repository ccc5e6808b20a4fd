//! A loopback SOAP router for unit tests: answers each POST with what `answer` returns for
//! its path, action and body, inside a SOAP envelope (status 500 for a fault).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the router answers: a success payload or a UPnP fault code.
pub enum Answer {
    /// The elements inside `<u:ActionResponse>`.
    Values(String),
    Fault(i64),
}

/// Starts the router; returns `http://127.0.0.1:<port>`. It lives until the test ends.
pub async fn serve<F>(answer: F) -> String
where
    F: Fn(&str, &str, &str) -> Answer + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&got).contains("</s:Envelope>") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got).into_owned();
                let path = text.split(' ').nth(1).unwrap_or("").to_string();
                let action = soap_action(&text);
                let reply = reply(&action, answer(&path, &action, &text));
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    origin
}

/// The whole HTTP reply to `action`: its response values or a UPnP fault, in an envelope.
/// The router closes the connection after it, as miniupnpd does.
pub fn reply(action: &str, answer: Answer) -> String {
    let (status, inner) = match answer {
        Answer::Values(v) => (200, format!("<u:{action}Response xmlns:u=\"urn:x\">{v}</u:{action}Response>")),
        Answer::Fault(code) => (500, format!("<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode><errorDescription>x</errorDescription></UPnPError></detail></s:Fault>")),
    };
    let body = format!("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>{inner}</s:Body></s:Envelope>");
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The action named in a request's `SOAPAction: "<service>#<action>"` header ("" if none).
pub fn soap_action(request: &str) -> String {
    request
        .split("SOAPAction: \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|a| a.rsplit('#').next())
        .unwrap_or("")
        .to_string()
}
