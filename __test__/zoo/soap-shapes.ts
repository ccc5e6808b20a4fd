// How each router family writes its HTTP heads and SOAP envelopes. The replay device builds the
// replies it has no capture for in its family's shape; the facts come from captures (named per
// shape) and are kept here once instead of in every device.json.

export interface Shape {
  /** Status line and headers of a SOAP reply, ending with the blank line. */
  head(status: number, length: number, server: string): string
  /** Body of a successful reply: `inner` is `<p:ActionResponse ...>...</p:ActionResponse>`. */
  envelope(inner: string): string
  /** Prefix of the action element (`u`, `m`...). */
  prefix: string
  /** Whole body of a UPnP fault. */
  fault(code: number, description: string): string
  /** Head of a description reply when only the body was captured. */
  descriptionHead(length: number, server: string): string
}

const REASON: Record<number, string> = { 200: 'OK', 404: 'Not Found', 500: 'Internal Server Error' }
const statusLine = (version: string, status: number) => `${version} ${status} ${REASON[status] ?? 'Error'}\r\n`
const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
const ENC = 'http://schemas.xmlsoap.org/soap/encoding/'
const UPNP_ERROR = (code: number, description: string, nl = '') =>
  `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">${nl}<errorCode>${code}</errorCode>${nl}` +
  `<errorDescription>${description}</errorDescription>${nl}</UPnPError>`

/** miniupnpd: head from the MiniUPnPd/1.4 reply in miniupnp/miniupnp#147; envelope and fault as
 *  miniupnpd writes them (upnpsoap.c), one line, `s:`/`u:`. */
const miniupnpd: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.1', status) +
    `Content-Type: text/xml; charset="utf-8"\r\nConnection: close\r\nContent-Length: ${length}\r\nServer: ${server}\r\nEXT:\r\n\r\n`,
  envelope: (inner) =>
    `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}"><s:Body>${inner}</s:Body></s:Envelope>\r\n`,
  prefix: 'u',
  fault: (code, description) =>
    `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}"><s:Body><s:Fault>` +
    `<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>${UPNP_ERROR(code, description)}</detail>` +
    `</s:Fault></s:Body></s:Envelope>\r\n`,
  descriptionHead: (length, server) =>
    `HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset="utf-8"\r\nConnection: close\r\nContent-Length: ${length}\r\nServer: ${server}\r\n\r\n`,
}

/** Broadcom BRCM400 (Actiontec GT784WN, NewMedia-NET): heads, the `m:` prefix and the pretty
 *  fault are aioupnp's recorded replies (tests/replays). */
const broadcom: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.1', status) +
    `DATE: Thu, 11 Oct 2018 15:42:26 GMT\r\nConnection: Keep-Alive\r\nServer: ${server}\r\nContent-Length: ${length}\r\n` +
    `Content-Type: text/xml; charset="utf-8"\r\nEXT:\r\n\r\n`,
  envelope: miniupnpd.envelope,
  prefix: 'm',
  fault: (code, description) =>
    `<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}">\r\n <s:Body>\r\n  <s:Fault>\r\n   <faultcode>s:Client</faultcode>\r\n` +
    `   <faultstring>UPnPError</faultstring>\r\n   <detail>\r\n    <UPnPError xmlns="urn:schemas-upnp-org:control-1-0">\r\n` +
    `     <errorCode>${code}</errorCode>\r\n     <errorDescription>${description}</errorDescription>\r\n    </UPnPError>\r\n` +
    `   </detail>\r\n  </s:Fault>\r\n </s:Body>\r\n</s:Envelope>\r\n`,
  // Captured: HTTP/1.0, no Content-Length, the body ends when the connection closes.
  descriptionHead: (_length, server) =>
    `HTTP/1.0 200 OK\r\nSERVER: ${server}\r\nCONTENT-TYPE: application/octet-stream\r\nConnection: Close\r\n\r\n`,
}

/** TP-Link ipos/7.0 (Archer C8, TL-WR841N): the upper-case head and the SOAP-ENV: fault logged in
 *  ofekp/TinyUPnP#1. */
const ipos: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.1', status) +
    `CONTENT-LENGTH: ${length}\r\nCONTENT-TYPE: text/xml; charset="utf-8"\r\nDATE: Sun, 29 Oct 2017 16:57:10 GMT\r\nEXT:\r\nSERVER: ${server}\r\n\r\n`,
  envelope: (inner) =>
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_NS}" SOAP-ENV:encodingStyle="${ENC}">\n<SOAP-ENV:Body>\n${inner}\n</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n`,
  prefix: 'u',
  fault: (code, description) =>
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_NS}" SOAP-ENV:encodingStyle="${ENC}">\n<SOAP-ENV:Body>\n<SOAP-ENV:Fault>\n` +
    `<faultcode>SOAP-ENV:Client</faultcode>\n<faultstring>UPnPError</faultstring>\n<detail>\n${UPNP_ERROR(code, description, '\n')}\n` +
    `</detail>\n</SOAP-ENV:Fault>\n</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n`,
  descriptionHead: (length, server) =>
    `HTTP/1.1 200 OK\r\nCONTENT-LENGTH: ${length}\r\nCONTENT-TYPE: text/xml; charset="utf-8"\r\nSERVER: ${server}\r\n\r\n`,
}

/** Linksys WRT120N: the AddPortMapping reply in syncthing/syncthing#1696 (LF inside the body). */
const linksys: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.1', status) +
    `Content-Type: text/xml; charset="utf-8"\r\nContent-Length: ${length}\r\nDate: Sat, 25 Apr 2015 15:22:07 GMT\r\nServer: ${server}\r\nEXT:\r\n\r\n`,
  envelope: (inner) =>
    `<?xml version="1.0"?>\n<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}"><s:Body>${inner}</s:Body></s:Envelope>\n`,
  prefix: 'u',
  fault: (code, description) =>
    `<?xml version="1.0"?>\n<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}"><s:Body><s:Fault><faultcode>s:Client</faultcode>` +
    `<faultstring>UPnPError</faultstring><detail>${UPNP_ERROR(code, description)}</detail></s:Fault></s:Body></s:Envelope>\n`,
  descriptionHead: (length, server) =>
    `HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${length}\r\nServer: ${server}\r\n\r\n`,
}

/** pupnp ("Portable SDK for UPnP devices"): head order and upper-case names of the CGA4131COM
 *  description reply in aioupnp's tests; envelope with line breaks as pupnp writes it. */
const pupnp: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.1', status) +
    `CONTENT-LENGTH: ${length}\r\nCONTENT-TYPE: text/xml; charset="utf-8"\r\nDATE: Thu, 18 Oct 2018 01:20:23 GMT\r\nEXT:\r\n` +
    `SERVER: ${server}\r\nX-User-Agent: redsonic\r\n\r\n`,
  envelope: (inner) => `<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}">\n<s:Body>\n${inner}\n</s:Body>\n</s:Envelope>\n`,
  prefix: 'u',
  fault: (code, description) =>
    `<s:Envelope xmlns:s="${SOAP_NS}" s:encodingStyle="${ENC}">\n<s:Body>\n<s:Fault>\n<faultcode>s:Client</faultcode>\n` +
    `<faultstring>UPnPError</faultstring>\n<detail>\n${UPNP_ERROR(code, description, '\n')}\n</detail>\n</s:Fault>\n</s:Body>\n</s:Envelope>\n`,
  descriptionHead: (length, server) =>
    `HTTP/1.1 200 OK\r\nCONTENT-LENGTH: ${length}\r\nCONTENT-TYPE: text/xml\r\nSERVER: ${server}\r\nX-User-Agent: redsonic\r\nCONNECTION: close\r\n\r\n`,
}

/** Huawei ATP: HTTP/1.0 with Keep-Alive, from the reply in awidegreen/tr064#4. */
const huaweiAtp: Shape = {
  head: (status, length, server) =>
    statusLine('HTTP/1.0', status) +
    `Content-Type: text/xml; charset="utf-8"\r\nServer: ${server}\r\nEXT: \r\nConnection: Keep-Alive\r\nContent-Length: ${length}\r\n\r\n`,
  envelope: (inner) => `<s:Envelope\nxmlns:s="${SOAP_NS}"\ns:encodingStyle="${ENC}">\n<s:Body>\n${inner}\n</s:Body>\n</s:Envelope>\n`,
  prefix: 'u',
  fault: (code, description) =>
    `<s:Envelope\nxmlns:s="${SOAP_NS}"\ns:encodingStyle="${ENC}">\n<s:Body>\n<s:Fault>\n<faultcode>s:Client</faultcode>\n` +
    `<faultstring>UPnPError</faultstring>\n<detail>\n${UPNP_ERROR(code, description, '\n')}\n</detail>\n</s:Fault>\n</s:Body>\n</s:Envelope>\n`,
  descriptionHead: (length, server) =>
    `HTTP/1.0 200 OK\r\nContent-Type: text/xml; charset="utf-8"\r\nServer: ${server}\r\nConnection: Keep-Alive\r\nContent-Length: ${length}\r\n\r\n`,
}

/** Modelled: no capture of this family's SOAP; the common one-line `s:`/`u:` shape. */
const generic: Shape = { ...miniupnpd }

export const SHAPES: Record<string, Shape> = { miniupnpd, broadcom, ipos, linksys, pupnp, 'huawei-atp': huaweiAtp, generic }
