// A small, honest, scriptable fake UPnP IGD for the cases miniupnpd cannot produce
// (faults on demand, broken descriptions, silent devices, double NAT, several gateways...).
// Runs inside the lab namespace unl-fake:  ip netns exec unl-fake npx tsx __test__/fake-gateway/fake-gateway.ts
// Control API on FAKE_CONTROL (default 192.168.77.20:5999):
//   POST /scenario {devices:[...]}  replace the scenario (fresh log and mapping tables)
//   POST /reset                     no devices (answers nothing), empty log
//   GET  /requests                  every request received since the scenario was set
//   GET  /mappings                  {deviceId: FakeMapping[]}
//   GET  /health
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import http from 'node:http'
import os from 'node:os'
import { serveControl } from '../lab/control-server.ts'
import { soapArgs } from './soap-args.ts'
import type { Device, DeviceKind, FakeMapping, FakeRequest, Scenario, ScenarioResult, SoapOverride } from './types.js'

const [CONTROL_HOST, CONTROL_PORT] = (process.env.FAKE_CONTROL ?? '192.168.77.20:5999').split(':')
const DESC_PATH = '/rootDesc.xml'
const SERVER = 'Linux/6.1 UPnP/1.1 upnp-native-fake-gateway/1.0'
const NS_DEVICE = 'urn:schemas-upnp-org:device'
const NS_SERVICE = 'urn:schemas-upnp-org:service'

// ---------------------------------------------------------------- state
let scenario: Scenario = { devices: [] }
let bootId = 1
let t0 = Date.now()
let log: FakeRequest[] = []
const mappings = new Map<string, FakeMapping[]>()
/** The last pinhole id each device gave. */
const pinholeIds = new Map<string, number>()
let servers: http.Server[] = []

const sleep = (ms?: number) => new Promise<void>((r) => setTimeout(r, ms ?? 0))
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const uuidOf = (seed: string) => {
  const h = createHash('md5').update(seed).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}
const hostOf = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip)

/** The address we also serve on over IPv6 (fd77::20 for .20 by lab convention), if present. */
function ip6Of(d: Device): string | undefined {
  const want = d.ip6 ?? `fd77::${d.ip.split('.').pop()}`
  const present = Object.values(os.networkInterfaces())
    .flat()
    .some((a) => a?.address === want)
  return present ? want : undefined
}

// ---------------------------------------------------------------- device model
interface Svc {
  type: string
  id: string
  path: string
}
interface Dev {
  type: string
  uuid: string
  services: Svc[]
  children: Dev[]
}

function connService(kind: DeviceKind): Svc | undefined {
  // Same control paths as miniupnpd (/ctl/IPConn), PPP on /ctl/PPPConn.
  if (kind === 'igd-ppp') return { type: `${NS_SERVICE}:WANPPPConnection:1`, id: 'WANPPPConn1', path: 'PPPConn' }
  if (kind === 'igd-v1') return { type: `${NS_SERVICE}:WANIPConnection:1`, id: 'WANIPConn1', path: 'IPConn' }
  if (kind === 'igd-v2') return { type: `${NS_SERVICE}:WANIPConnection:2`, id: 'WANIPConn1', path: 'IPConn' }
  return undefined
}

/** miniupnpd's names for the IPv6 pinhole service. */
const FIREWALL: Svc = { type: `${NS_SERVICE}:WANIPv6FirewallControl:1`, id: 'WANIPv6Firewall1', path: 'IP6FCtl' }

function model(d: Device): Dev {
  const kind = d.description?.kind ?? 'igd-v1'
  const u = (part: string) => uuidOf(`${d.id}/${part}`)
  if (kind === 'non-igd') {
    return {
      type: `${NS_DEVICE}:MediaServer:1`,
      uuid: u('root'),
      children: [],
      services: [
        { type: `${NS_SERVICE}:ContentDirectory:1`, id: 'ContentDirectory', path: 'CDS' },
        { type: `${NS_SERVICE}:ConnectionManager:1`, id: 'ConnectionManager', path: 'CMS' },
      ],
    }
  }
  const v = kind === 'igd-v2' ? 2 : 1
  const conn = connService(kind)
  return {
    type: `${NS_DEVICE}:InternetGatewayDevice:${v}`,
    uuid: u('root'),
    services: [{ type: `${NS_SERVICE}:Layer3Forwarding:1`, id: 'L3Forwarding1', path: 'L3F' }],
    children: [
      {
        type: `${NS_DEVICE}:WANDevice:${v}`,
        uuid: u('wan'),
        services: [{ type: `${NS_SERVICE}:WANCommonInterfaceConfig:1`, id: 'WANCommonIFC1', path: 'CmnIfCfg' }],
        children: [
          {
            type: `${NS_DEVICE}:WANConnectionDevice:${v}`,
            uuid: u('conn'),
            children: [],
            services: [...(conn ? [conn] : []), ...(d.firewall ? [FIREWALL] : [])],
          },
        ],
      },
    ],
  }
}

const allDevs = (m: Dev): Dev[] => [m, ...m.children.flatMap(allDevs)]
const allSvcs = (m: Dev): Svc[] => allDevs(m).flatMap((x) => x.services)

function descriptionXml(d: Device): string {
  const ctl = d.description?.controlURL
  const svc = (s: Svc) =>
    `<service><serviceType>${s.type}</serviceType><serviceId>urn:upnp-org:serviceId:${s.id}</serviceId>` +
    `<SCPDURL>/${s.path}.xml</SCPDURL>` +
    `<controlURL>${esc(ctl && connService(d.description?.kind ?? 'igd-v1')?.path === s.path ? ctl : `/ctl/${s.path}`)}</controlURL>` +
    `<eventSubURL>/evt/${s.path}</eventSubURL></service>`
  const dev = (x: Dev, root: boolean): string =>
    `<device><deviceType>${x.type}</deviceType><friendlyName>${esc(`Fake ${d.id}`)}</friendlyName>` +
    `<manufacturer>upnp-native</manufacturer><manufacturerURL>http://example.com/</manufacturerURL>` +
    `<modelName>Fake Gateway</modelName><modelNumber>1</modelNumber><serialNumber>0000001</serialNumber>` +
    `<UDN>uuid:${x.uuid}</UDN><serviceList>${x.services.map(svc).join('')}</serviceList>` +
    (x.children.length ? `<deviceList>${x.children.map((c) => dev(c, false)).join('')}</deviceList>` : '') +
    (root ? `<presentationURL>http://${hostOf(d.ip)}/</presentationURL>` : '') +
    '</device>'
  const urlBase = d.description?.urlBase ? `<URLBase>${esc(d.description.urlBase)}</URLBase>` : ''
  return (
    `<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0">` +
    `<specVersion><major>1</major><minor>1</minor></specVersion>${urlBase}${dev(model(d), true)}</root>\r\n`
  )
}

function scpdXml(actions: string[]): string {
  return (
    `<?xml version="1.0"?>\r\n<scpd xmlns="urn:schemas-upnp-org:service-1-0"><specVersion><major>1</major>` +
    `<minor>0</minor></specVersion><actionList>${actions.map((a) => `<action><name>${a}</name></action>`).join('')}` +
    `</actionList><serviceStateTable></serviceStateTable></scpd>\r\n`
  )
}

// ---------------------------------------------------------------- SOAP
const ENVELOPE_OPEN =
  '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
  's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
const ENVELOPE_CLOSE = '</s:Body></s:Envelope>\r\n'
type Reply = { status: number; body: string }
const fault = (code: number, description: string): Reply => ({
  status: 500,
  body:
    `${ENVELOPE_OPEN}<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>` +
    `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>` +
    `<errorDescription>${esc(description)}</errorDescription></UPnPError></detail></s:Fault>${ENVELOPE_CLOSE}`,
})
const ok = (svc: string, action: string, out: Record<string, string | number> = {}): Reply => ({
  status: 200,
  body:
    `${ENVELOPE_OPEN}<u:${action}Response xmlns:u="${svc}">` +
    Object.entries(out)
      .map(([k, v]) => `<${k}>${esc(String(v))}</${k}>`)
      .join('') +
    `</u:${action}Response>${ENVELOPE_CLOSE}`,
})

const typeName = (t: string) => t.replace(/:\d+$/, '')
const typeVersion = (t: string) => Number(t.match(/:(\d+)$/)?.[1] ?? NaN)

function runAction(d: Device, svc: Svc, action: string, a: Record<string, string>): Reply {
  const table = mappings.get(d.id) ?? []
  mappings.set(d.id, table)
  const v2 = svc.type.endsWith('WANIPConnection:2')
  const port = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN)
  const find = () => table.findIndex((m) => m.protocol === a.NewProtocol && m.externalPort === port(a.NewExternalPort))
  const entry = (m: FakeMapping) => ({
    NewInternalPort: m.internalPort,
    NewInternalClient: m.internalClient,
    NewEnabled: m.enabled ? 1 : 0,
    NewPortMappingDescription: m.description,
    NewLeaseDuration: m.leaseDuration,
  })
  const connected = d.connectionStatus ?? 'Connected'
  switch (action) {
    case 'GetStatusInfo':
      return ok(svc.type, action, {
        NewConnectionStatus: connected,
        NewLastConnectionError: 'ERROR_NONE',
        NewUptime: Math.floor((Date.now() - t0) / 1000),
      })
    case 'GetExternalIPAddress':
      return ok(svc.type, action, { NewExternalIPAddress: d.externalIp ?? '11.22.33.45' })
    case 'GetConnectionTypeInfo':
      return ok(svc.type, action, { NewConnectionType: 'IP_Routed', NewPossibleConnectionTypes: 'IP_Routed' })
    case 'GetCommonLinkProperties':
      return ok(svc.type, action, {
        NewWANAccessType: 'Ethernet',
        NewLayer1UpstreamMaxBitRate: 100000000,
        NewLayer1DownstreamMaxBitRate: 100000000,
        NewPhysicalLinkStatus: 'Up',
      })
    case 'GetTotalBytesSent':
    case 'GetTotalBytesReceived':
    case 'GetTotalPacketsSent':
    case 'GetTotalPacketsReceived':
      return ok(svc.type, action, { [`New${action.slice(3)}`]: 0 })
    case 'AddPortMapping': {
      const need = [
        'NewRemoteHost',
        'NewExternalPort',
        'NewProtocol',
        'NewInternalPort',
        'NewInternalClient',
        'NewEnabled',
        'NewPortMappingDescription',
        'NewLeaseDuration',
      ]
      if (need.some((k) => a[k] === undefined)) return fault(402, 'Invalid Args')
      const ext = port(a.NewExternalPort),
        int = port(a.NewInternalPort),
        lease = port(a.NewLeaseDuration)
      if (a.NewProtocol !== 'UDP' && a.NewProtocol !== 'TCP') return fault(402, 'Invalid Args')
      if (!(ext <= 65535) || !(int <= 65535) || Number.isNaN(lease)) return fault(402, 'Invalid Args')
      if (ext === 0) return fault(716, 'WildCardNotPermittedInExtPort')
      if (int === 0) return v2 ? fault(732, 'WildCardNotPermittedInIntPort') : fault(402, 'Invalid Args')
      const i = find()
      if (i >= 0 && table[i]!.internalClient !== a.NewInternalClient) return fault(718, 'ConflictInMappingEntry')
      const m: FakeMapping = {
        protocol: a.NewProtocol,
        externalPort: ext,
        internalClient: a.NewInternalClient ?? '',
        internalPort: int,
        description: a.NewPortMappingDescription ?? '',
        leaseDuration: v2 && lease === 0 ? 604800 : lease,
        enabled: a.NewEnabled === '1',
        remoteHost: a.NewRemoteHost ?? '',
      }
      if (i >= 0) table[i] = m
      else table.push(m)
      return ok(svc.type, action)
    }
    case 'DeletePortMapping': {
      if (a.NewExternalPort === undefined || a.NewProtocol === undefined) return fault(402, 'Invalid Args')
      const i = find()
      if (i < 0) return fault(714, 'NoSuchEntryInArray')
      table.splice(i, 1)
      return ok(svc.type, action)
    }
    case 'GetSpecificPortMappingEntry': {
      if (a.NewExternalPort === undefined || a.NewProtocol === undefined) return fault(402, 'Invalid Args')
      const i = find()
      return i < 0 ? fault(714, 'NoSuchEntryInArray') : ok(svc.type, action, entry(table[i]!))
    }
    case 'GetGenericPortMappingEntry': {
      const i = port(a.NewPortMappingIndex)
      if (Number.isNaN(i)) return fault(402, 'Invalid Args')
      if (i >= table.length) return fault(713, 'SpecifiedArrayIndexInvalid')
      const m = table[i]!
      return ok(svc.type, action, {
        NewRemoteHost: m.remoteHost,
        NewExternalPort: m.externalPort,
        NewProtocol: m.protocol,
        ...entry(m),
      })
    }
    case 'GetFirewallStatus':
      return ok(svc.type, action, {
        FirewallEnabled: d.firewall?.enabled === false ? 0 : 1,
        InboundPinholeAllowed: d.firewall?.inboundPinholeAllowed === false ? 0 : 1,
      })
    case 'AddPinhole': {
      const id = (pinholeIds.get(d.id) ?? 0) + 1
      pinholeIds.set(d.id, id)
      return ok(svc.type, action, { UniqueID: id })
    }
    case 'UpdatePinhole':
    case 'DeletePinhole':
      return ok(svc.type, action)
    case 'GetPinholePackets':
      return ok(svc.type, action, { PinholePackets: 0 })
    case 'CheckPinholeWorking':
      return ok(svc.type, action, { IsWorking: 1 })
    case 'GetOutboundPinholeTimeout':
      return ok(svc.type, action, { OutboundPinholeTimeout: 120 })
    default:
      return fault(401, 'Invalid Action')
  }
}

// ---------------------------------------------------------------- HTTP (description, SCPD, control)
function send(res: http.ServerResponse, status: number, body: string, type = 'text/xml; charset="utf-8"') {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), Server: SERVER, Ext: '' })
  res.end(body)
}

async function serveDescription(d: Device, res: http.ServerResponse) {
  const o = d.description ?? {}
  await sleep(o.delayMs)
  if (o.status !== undefined && o.status !== 200) return send(res, o.status, o.body ?? '')
  if (o.empty) return send(res, 200, '')
  if (o.body !== undefined) return send(res, 200, o.body)
  if (o.hugeBytes === undefined) return send(res, 200, descriptionXml(d))
  // Huge/endless body, chunked, written as fast as the client reads it.
  res.writeHead(200, { 'Content-Type': 'text/xml; charset="utf-8"', Server: SERVER })
  const chunk = Buffer.from(`<!-- ${'x'.repeat(16370)} -->\n`)
  const head = '<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
  let left = o.hugeBytes < 0 ? Infinity : Math.max(0, o.hugeBytes - head.length)
  res.write(head)
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const part = left >= chunk.length ? chunk : chunk.subarray(0, left)
      left -= part.length
      if (!res.write(part)) return void res.once('drain', pump)
    }
    if (!res.destroyed) res.end()
  }
  pump()
}

async function handle(d: Device, req: http.IncomingMessage, body: string, res: http.ServerResponse) {
  const path = (req.url ?? '/').split('?')[0] ?? '/'
  const svcs = allSvcs(model(d))
  const rawAction = req.headers.soapaction
  const soapAction = typeof rawAction === 'string' ? rawAction.trim().replace(/^"|"$/g, '') : undefined
  const action = soapAction?.split('#')[1] ?? body.match(/<(?:[\w-]+:)?(\w+)\s+xmlns:[\w-]+="urn:schemas-upnp-org:service:/)?.[1]
  const ctl = d.description?.controlURL
  const svc = svcs.find(
    (s) =>
      path === `/ctl/${s.path}` ||
      (ctl && connService(d.description?.kind ?? 'igd-v1')?.path === s.path && new URL(ctl, `http://${hostOf(d.ip)}/`).pathname === path),
  )
  log.push({
    t: Date.now() - t0,
    kind: 'http',
    device: d.id,
    method: req.method ?? '',
    path,
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
    body,
    action: req.method === 'POST' ? action : undefined,
    from: req.socket.remoteAddress ?? '',
  })

  if (req.method === 'GET' && path === DESC_PATH) return serveDescription(d, res)
  const scpd = svcs.find((s) => path === `/${s.path}.xml`)
  if (req.method === 'GET' && scpd) {
    const conn = [
      'GetStatusInfo',
      'GetExternalIPAddress',
      'GetConnectionTypeInfo',
      'AddPortMapping',
      'DeletePortMapping',
      'GetSpecificPortMappingEntry',
      'GetGenericPortMappingEntry',
    ]
    return send(res, 200, scpdXml(scpd.path.endsWith('Conn') ? conn : ['GetCommonLinkProperties', 'GetTotalBytesSent']))
  }
  if (req.method !== 'POST' || !svc) return send(res, 404, '', 'text/plain')

  const override: SoapOverride | undefined = action ? d.soap?.[action] : undefined
  if (override?.neverAnswer) return // the connection stays open until the scenario changes
  await sleep(override?.delayMs)
  if (override?.fault) return reply(res, fault(override.fault.code, override.fault.description))
  if (override?.status !== undefined || override?.body !== undefined) {
    return send(res, override.status ?? 200, override.body ?? '')
  }
  if (!action) return reply(res, fault(401, 'Invalid Action'))
  const sent = soapAction?.split('#')[0] ?? ''
  // Strict routers reject a SOAPAction naming another service; a lower version is fine.
  if (!d.lenientServiceType && soapAction && (typeName(sent) !== typeName(svc.type) || !(typeVersion(sent) <= typeVersion(svc.type)))) {
    return reply(res, fault(401, 'Invalid Action'))
  }
  reply(res, runAction(d, svc, action, soapArgs(body)))
}
const reply = (res: http.ServerResponse, r: Reply) => send(res, r.status, r.body)

function listen(d: Device, host: string): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= 1 << 20) chunks.push(c)
    })
    req.on('end', () => {
      handle(d, req, Buffer.concat(chunks).toString('utf8'), res).catch((e) => {
        console.error('fake-gateway:', e)
        if (!res.headersSent) send(res, 500, '', 'text/plain')
      })
    })
  })
  return new Promise((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(d.port, host, () => resolve(srv))
  })
}

// ---------------------------------------------------------------- SSDP
/** The STs a device "is": rootdevice, its uuids, device and service types. */
function identities(d: Device): Array<{ st: string; uuid: string }> {
  const m = model(d)
  return [
    { st: 'upnp:rootdevice', uuid: m.uuid },
    ...allDevs(m).flatMap((x) => [
      { st: `uuid:${x.uuid}`, uuid: x.uuid },
      { st: x.type, uuid: x.uuid },
      ...x.services.map((s) => ({ st: s.type, uuid: x.uuid })),
    ]),
  ]
}

/** The replies (ST, USN) device d sends for a search of `st`. */
function answers(d: Device, st: string): Array<{ st: string; usn: string }> {
  const o = d.ssdp ?? {}
  if (o.respond === false) return []
  const ids = identities(d)
  const usnOf = (id: { st: string; uuid: string }) => o.usn ?? (id.st.startsWith('uuid:') ? id.st : `uuid:${id.uuid}::${id.st}`)
  // respondTo replaces the device's own list; `st` answers every search it accepts with that ST.
  if (o.respondTo && !o.respondTo.includes(st)) return []
  if (o.st || o.respondTo) {
    const rst = o.st ?? st
    return [{ st: rst, usn: o.usn ?? (rst.startsWith('uuid:') ? rst : `uuid:${ids[0]!.uuid}::${rst}`) }]
  }
  if (st === 'ssdp:all') return ids.map((id) => ({ st: id.st, usn: usnOf(id) }))
  // A device of version N also answers a search for any lower version, echoing the searched ST.
  const hit = ids.find((id) => id.st === st || (typeName(id.st) === typeName(st) && typeVersion(st) <= typeVersion(id.st)))
  if (!hit) return []
  return [{ st: o.st ?? st, usn: o.usn ?? (st.startsWith('uuid:') ? st : `uuid:${hit.uuid}::${st}`) }]
}

const senders = new Map<string, dgram.Socket>()
/** Replies leave from the device's own address (so .21 answers as .21), port 1900. Bound
 *  before any search (see applyScenario), the socket also takes the unicast M-SEARCHes sent
 *  to that address: over IPv6, the one a client sends to check that the LOCATION host really
 *  is the device (the multicast reply came from its link-local address). */
function senderFor(ip: string): Promise<dgram.Socket> {
  const have = senders.get(ip)
  if (have) return Promise.resolve(have)
  const s = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', reuseAddr: true })
  senders.set(ip, s)
  s.on('message', onSsdp(s, ip.includes(':'), ip)) // unicast M-SEARCH to this address
  s.on('error', (e) => console.error('fake-gateway ssdp:', e.message))
  return new Promise((resolve) => s.bind(1900, ip, () => resolve(s)))
}

function onSsdp(sock: dgram.Socket, v6: boolean, onlyIp?: string) {
  return (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const text = msg.toString('latin1')
    const [first, ...lines] = text.split(/\r?\n/)
    if (!/^M-SEARCH \* HTTP\/1\.1$/i.test((first ?? '').trim())) return
    const headers: Record<string, string> = {}
    for (const l of lines) {
      const i = l.indexOf(':')
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
    }
    const st = headers.st ?? ''
    const entry: FakeRequest = {
      t: Date.now() - t0,
      kind: 'ssdp',
      device: null,
      method: 'M-SEARCH',
      path: '*',
      headers,
      body: '',
      from: `${hostOf(rinfo.address)}:${rinfo.port}`,
      answeredBy: [],
    }
    log.push(entry)
    for (const d of scenario.devices) {
      if (onlyIp && d.ip !== onlyIp && ip6Of(d) !== onlyIp) continue
      const ip6 = ip6Of(d)
      if (v6 && !ip6) continue
      const list = answers(d, st)
      if (!list.length) continue
      entry.answeredBy!.push(d.id)
      const location = d.ssdp?.location ?? `http://${hostOf(v6 ? ip6! : d.ip)}:${d.port}${DESC_PATH}`
      const boot = bootId
      setTimeout(async () => {
        if (boot !== bootId) return // scenario changed meanwhile
        // IPv6 replies to multicast go out of the wildcard socket: the kernel picks a
        // link-local source, as miniupnpd's does. A unicast search is answered from the
        // address it was sent to (`sock` is bound to it).
        const out = v6 ? sock : await senderFor(d.ip)
        for (const r of list) {
          const reply =
            `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: ${new Date().toUTCString()}\r\n` +
            `EXT:\r\nLOCATION: ${location}\r\nSERVER: ${SERVER}\r\nST: ${r.st}\r\nUSN: ${r.usn}\r\n` +
            `BOOTID.UPNP.ORG: ${boot}\r\nCONFIGID.UPNP.ORG: 1\r\n\r\n`
          out.send(reply, rinfo.port, rinfo.address)
        }
      }, d.ssdp?.delayMs ?? 0)
    }
  }
}

function startSsdp() {
  const lan = Object.entries(os.networkInterfaces()).find(([, as]) => as?.some((a) => a.address === CONTROL_HOST))?.[0]
  const v4 = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  v4.on('message', onSsdp(v4, false))
  v4.on('error', (e) => console.error('fake-gateway ssdp4:', e.message))
  v4.bind(1900, '0.0.0.0', () => v4.addMembership('239.255.255.250', CONTROL_HOST))
  if (
    !lan ||
    !Object.values(os.networkInterfaces())
      .flat()
      .some((a) => a?.family === 'IPv6' && a.address.startsWith('fd77:'))
  )
    return
  const v6 = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true })
  v6.on('message', onSsdp(v6, true))
  v6.on('error', (e) => console.error('fake-gateway ssdp6:', e.message))
  v6.bind(1900, '::', () => {
    for (const g of ['ff02::c', 'ff05::c']) {
      try {
        v6.addMembership(g, `::%${lan}`)
      } catch (e) {
        console.error(`fake-gateway: join ${g}:`, (e as Error).message)
      }
    }
  })
}

// ---------------------------------------------------------------- scenario + control API
async function stopDevices() {
  bootId++
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          s.close(() => r())
          s.closeAllConnections()
        }),
    ),
  )
  servers = []
}

async function applyScenario(next: Scenario): Promise<ScenarioResult> {
  await stopDevices()
  scenario = { devices: [] }
  log = []
  mappings.clear()
  pinholeIds.clear()
  t0 = Date.now()
  const out: ScenarioResult['devices'] = []
  const seen = new Set<string>()
  for (const d of next.devices ?? []) {
    if (!d.id || !d.ip || !d.port || seen.has(`${d.ip}:${d.port}`)) {
      await stopDevices()
      return { ok: false, error: `bad or duplicate device ${JSON.stringify(d.id)} (${d.ip}:${d.port})`, devices: [] }
    }
    seen.add(`${d.ip}:${d.port}`)
    const ip6 = ip6Of(d)
    try {
      servers.push(await listen(d, d.ip))
      if (ip6) {
        servers.push(await listen(d, ip6))
        await senderFor(ip6)
      }
    } catch (e) {
      await stopDevices()
      return { ok: false, error: `device ${d.id}: ${(e as Error).message}`, devices: [] }
    }
    mappings.set(d.id, [])
    out.push({
      id: d.id,
      location: `http://${d.ip}:${d.port}${DESC_PATH}`,
      ...(ip6 ? { location6: `http://[${ip6}]:${d.port}${DESC_PATH}` } : {}),
    })
  }
  scenario = next
  return { ok: true, devices: out }
}

serveControl(
  'fake-gateway',
  `${CONTROL_HOST}:${CONTROL_PORT}`,
  {
    'GET /health': () => [200, { ok: true, devices: scenario.devices.length }],
    'GET /requests': () => [200, log],
    'GET /mappings': () => [200, Object.fromEntries(mappings)],
    'POST /reset': async () => [200, await applyScenario({ devices: [] })],
    'POST /scenario': async (body) => {
      const r = await applyScenario(JSON.parse(body) as Scenario)
      return [r.ok ? 200 : 400, r]
    },
  },
  startSsdp,
)
