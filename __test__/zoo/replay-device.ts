// A replay of one real router: answers M-SEARCH with its captured datagram, serves its captured
// description byte for byte and answers SOAP in its own shape (captured replies verbatim, the rest
// built by soap-shapes.ts), including its faults and quirks. Runs inside the zoo namespace, on
// the address the router had in the capture (zoo-lab.ts puts it there):
//   node --import tsx __test__/zoo/replay-device.ts <device id>
// It prints {"ready":...} once listening; on stdin, "requests" / "mappings" print what it
// received / holds (one JSON line each).
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { type DeviceSpec, loadDevice, locationParts, ssdpFile } from './device-spec.ts'
import { SHAPES } from './soap-shapes.ts'

const MAX_HEAD = 16 * 1024
const MAX_BODY = 64 * 1024
/** What the lab reports as every router's public address (lab.sh DEFAULT_EXT_IP). */
const LAB_EXTERNAL_IP = '11.22.33.44'

const device: DeviceSpec = loadDevice(process.argv[2] ?? '')
const shape = SHAPES[device.shape] ?? SHAPES.generic!
const { address, port: descriptionPort } = locationParts(device)
const latin1 = (file: string) => fs.readFileSync(path.join(device.dir, file)).toString('latin1')

// ---------------------------------------------------------------- what the device serves
const datagram = fs.readFileSync(ssdpFile(device)).toString('latin1')
const header = (text: string, name: string) =>
  new RegExp(`^${name}:[ \\t]*(.*?)\\r?$`, 'im').exec(text.split(/\r?\n\r?\n/)[0] ?? '')?.[1] ?? ''
const server = header(datagram, 'SERVER') || header(latin1Soap('AddPortMapping') ?? '', 'Server')

function latin1Soap(action: string): string | undefined {
  const file = path.join(device.dir, 'soap', `${action}.http`)
  return fs.existsSync(file) ? fs.readFileSync(file).toString('latin1') : undefined
}

function descriptionBody(entry: DeviceSpec['http'][number]): { body: string; captured: boolean } {
  const parts = entry.files ?? [entry.file!]
  let text = parts.map(latin1).join('')
  for (const [from, to] of Object.entries(entry.replace ?? {})) text = text.split(from).join(to)
  return { body: text, captured: parts.length === 1 && parts[0]!.endsWith('.http') }
}

/** Every description body (the first is the one LOCATION names). */
const descriptions = device.http.map((e) => ({ ...e, ...descriptionBody(e) }))
const rootXml = descriptions[0]!.captured
  ? descriptions[0]!.body.slice(descriptions[0]!.body.indexOf('\r\n\r\n') + 4)
  : descriptions[0]!.body

interface Connection {
  serviceType: string
  port: number
  path: string
  status: string
  externalIp: string
}

/** The WAN*Connection services of the description, with the status the device reports. */
function connections(): Connection[] {
  const base = /<URLBase>\s*([^<]*?)\s*<\/URLBase>/.exec(rootXml)?.[1] || device.location
  const found: Connection[] = []
  for (const m of rootXml.matchAll(/<service>([\s\S]*?)<\/service>/g)) {
    const type = /<serviceType>\s*([^<]*?)\s*<\/serviceType>/.exec(m[1]!)?.[1] ?? ''
    if (!/:service:WAN(IP|PPP)Connection:\d+$/.test(type)) continue
    const control = /<controlURL>\s*([^<]*?)\s*<\/controlURL>/.exec(m[1]!)?.[1] ?? ''
    const url = new URL(control, base.endsWith('/') || control.startsWith('/') ? base : `${base}/`)
    const override = device.connections?.[found.length] ?? {}
    found.push({
      serviceType: type,
      port: Number(url.port || 80),
      path: url.pathname + url.search,
      status: override.status ?? 'Connected',
      externalIp: override.externalIp ?? LAB_EXTERNAL_IP,
    })
  }
  return found
}
const services = connections()

/** Search targets this device answers: its own device and service types, and their earlier
 *  versions (UDA 1.3.2: a device answers a search for a lower version of its type). */
const answers = new Set(['ssdp:all', 'upnp:rootdevice'])
for (const m of rootXml.matchAll(/<(deviceType|serviceType)>\s*([^<]*?)\s*<\/\1>/g)) {
  const [, type = '', version = '1'] = /^(.*):(\d+)$/.exec(m[2]!) ?? []
  for (let v = 1; v <= Number(version); v++) answers.add(`${type}:${v}`)
}

// ---------------------------------------------------------------- SSDP
function searchReply(st: string): string {
  const capturedSt = header(datagram, 'ST')
  if (st === 'ssdp:all' || st === capturedSt) return datagram
  // The only change: ST and the USN's suffix name the target searched for, as the device's stack
  // does when it answers another of its types.
  return datagram
    .replace(/^(ST:[ \t]*).*$/im, (_, p: string) => `${p}${st}`)
    .replace(/^(USN:[ \t]*uuid:[^:\r\n]*)(::.*)?$/im, (_, p: string) => `${p}::${st}`)
}

const ssdp = dgram.createSocket({ type: 'udp4', reuseAddr: true })
ssdp.on('message', (message, from) => {
  const text = message.toString('latin1')
  if (!/^M-SEARCH \* HTTP\/1\.1\r?\n/i.test(text)) return
  const st = header(text, 'ST').trim()
  if (!answers.has(st)) return
  const reply = Buffer.from(searchReply(st), 'latin1')
  setTimeout(() => {
    if (device.ssdpSourcePort === 'ephemeral') {
      // pupnp answers each search from a fresh socket: the reply's source port is not 1900.
      const once = dgram.createSocket('udp4')
      once.bind(0, address, () => once.send(reply, from.port, from.address, () => once.close()))
    } else {
      ssdp.send(reply, from.port, from.address)
    }
  }, 10)
})

// ---------------------------------------------------------------- HTTP and SOAP
interface Recorded {
  method: string
  path: string
  /** Header lines exactly as received (names keep their case). */
  headers: string[]
  body: string
}
const requests: Recorded[] = []
interface Mapping {
  protocol: string
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  leaseDuration: number
  enabled: string
}
const table: Mapping[] = []

function respond(socket: net.Socket, head: string, body: string, chunked = false): void {
  if (chunked) {
    const chunks: string[] = []
    for (let i = 0; i < body.length; i += 200) {
      const part = body.slice(i, i + 200)
      chunks.push(`${Buffer.byteLength(part, 'latin1').toString(16)}\r\n${part}\r\n`)
    }
    socket.end(Buffer.from(head + chunks.join('') + '0\r\n\r\n', 'latin1'))
  } else {
    socket.end(Buffer.from(head + body, 'latin1'))
  }
}

/** A head for `body`, chunked when the device chunks (the Content-Length header is dropped). */
function headFor(head: string): string {
  return device.chunked ? head.replace(/^Content-Length: \d+\r\n/im, 'Transfer-Encoding: chunked\r\n') : head
}

function serveDescription(socket: net.Socket, entry: (typeof descriptions)[number]): void {
  if (entry.captured) return respond(socket, '', entry.body)
  const body = (device.bom ? '\xef\xbb\xbf' : '') + entry.body
  respond(socket, headFor(shape.descriptionHead(Buffer.byteLength(body, 'latin1'), server)), body, device.chunked)
}

const xmlValue = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
function soapArgs(body: string): Record<string, string> {
  const args: Record<string, string> = {}
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)\s*\/>/g)) args[m[1]!] = ''
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)>([\s\S]*?)<\/(?:[\w-]+:)?\1>/g)) args[m[1]!] = m[2]!
  return args
}

function soapReply(socket: net.Socket, status: number, body: string): void {
  respond(socket, headFor(shape.head(status, Buffer.byteLength(body, 'latin1'), server)), body, device.chunked)
}
const fault = (socket: net.Socket, code: number, description: string) =>
  soapReply(socket, 500, shape.fault(code, description))

/** A captured reply, with its values set to the current ones and Content-Length recounted. */
function captured(socket: net.Socket, text: string, values: Record<string, string | number>): void {
  const split = text.indexOf('\r\n\r\n') + 4
  let body = text.slice(split)
  for (const [k, v] of Object.entries(values)) body = body.replace(new RegExp(`(<${k}>)[^<]*(</${k}>)`), `$1${v}$2`)
  const head = text.slice(0, split).replace(/^(Content-Length:[ \t]*)\d+/im, `$1${Buffer.byteLength(body, 'latin1')}`)
  respond(socket, head, body)
}

function ok(socket: net.Socket, conn: Connection, action: string, out: Record<string, string | number> = {}): void {
  const capture = latin1Soap(action)
  if (capture) return captured(socket, capture, out)
  const p = shape.prefix
  const inner =
    `<${p}:${action}Response xmlns:${p}="${conn.serviceType}">` +
    Object.entries(out)
      .map(([k, v]) => `<${k}>${xmlValue(String(v))}</${k}>`)
      .join('') +
    `</${p}:${action}Response>`
  soapReply(socket, 200, shape.envelope(inner))
}

function soap(socket: net.Socket, conn: Connection, request: Recorded): void {
  const named = (n: string) => request.headers.find((h) => h.slice(0, h.indexOf(':')) === n)
  const soapHeader = device.requireSoapActionCase
    ? device.requireSoapActionCase.map(named).find(Boolean)
    : request.headers.find((h) => /^soapaction:/i.test(h))
  if (!soapHeader) {
    const reject = path.join(device.dir, 'soap', 'wrong-header-case.http')
    if (device.requireSoapActionCase && fs.existsSync(reject)) return respond(socket, '', latin1('soap/wrong-header-case.http'))
    return fault(socket, 401, 'Invalid Action')
  }
  const value = soapHeader.slice(soapHeader.indexOf(':') + 1).trim().replace(/^"|"$/g, '')
  const hash = value.lastIndexOf('#')
  const [serviceType, action] = [value.slice(0, hash), value.slice(hash + 1)]
  // Strict, like most stacks: the action must name the service this control URL serves.
  if (serviceType !== conn.serviceType) return fault(socket, 401, 'Invalid Action')
  const a = soapArgs(request.body)
  const port = (s?: string) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s) : NaN)
  const find = () => table.findIndex((m) => m.protocol === a.NewProtocol && m.externalPort === port(a.NewExternalPort))
  const missing = () =>
    device.missingEntry ? fault(socket, device.missingEntry.code, device.missingEntry.description) : fault(socket, 714, 'NoSuchEntryInArray')
  const entry = (m: Mapping) => ({
    NewInternalPort: m.internalPort,
    NewInternalClient: m.internalClient,
    NewEnabled: m.enabled,
    NewPortMappingDescription: m.description,
    NewLeaseDuration: m.leaseDuration,
  })
  switch (action) {
    case 'GetStatusInfo':
      return ok(socket, conn, action, { NewConnectionStatus: conn.status, NewLastConnectionError: 'ERROR_NONE', NewUptime: 3600 })
    case 'GetExternalIPAddress':
      return ok(socket, conn, action, { NewExternalIPAddress: conn.externalIp })
    case 'GetConnectionTypeInfo':
      return ok(socket, conn, action, { NewConnectionType: 'IP_Routed', NewPossibleConnectionTypes: 'IP_Routed' })
    case 'GetNATRSIPStatus':
      return ok(socket, conn, action, { NewRSIPAvailable: 0, NewNATEnabled: 1 })
    case 'AddPortMapping': {
      const ext = port(a.NewExternalPort)
      const int = port(a.NewInternalPort)
      if (!(ext > 0 && ext < 65536) || !(int > 0 && int < 65536) || !/^(UDP|TCP)$/.test(a.NewProtocol ?? '')) {
        return fault(socket, 402, 'Invalid Args')
      }
      if (device.refuseEmptyDescription && !a.NewPortMappingDescription) return fault(socket, 402, 'Invalid Args')
      const i = find()
      if (i >= 0 && table[i]!.internalClient !== a.NewInternalClient) return fault(socket, 718, 'ConflictInMappingEntry')
      const m: Mapping = {
        protocol: a.NewProtocol!,
        externalPort: ext,
        internalClient: a.NewInternalClient ?? '',
        internalPort: int,
        description: a.NewPortMappingDescription ?? '',
        leaseDuration: port(a.NewLeaseDuration) || 0,
        enabled: a.NewEnabled ?? '1',
      }
      if (i >= 0) table[i] = m
      else table.push(m)
      return ok(socket, conn, action)
    }
    case 'DeletePortMapping': {
      const i = find()
      if (i < 0) return missing()
      table.splice(i, 1)
      return ok(socket, conn, action)
    }
    case 'GetSpecificPortMappingEntry': {
      const i = find()
      return i < 0 ? missing() : ok(socket, conn, action, entry(table[i]!))
    }
    case 'GetGenericPortMappingEntry': {
      const m = table[port(a.NewPortMappingIndex)]
      if (!m) {
        const capture = latin1Soap('GetGenericPortMappingEntry-1')
        return capture ? captured(socket, capture, {}) : fault(socket, 713, 'SpecifiedArrayIndexInvalid')
      }
      return ok(socket, conn, action, {
        NewRemoteHost: '',
        NewExternalPort: m.externalPort,
        NewProtocol: m.protocol,
        ...entry(m),
      })
    }
    default:
      return fault(socket, 401, 'Invalid Action')
  }
}

function handle(socket: net.Socket, localPort: number): void {
  let buffer = Buffer.alloc(0)
  socket.on('error', () => socket.destroy())
  socket.setTimeout(5000, () => socket.destroy())
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk])
    const end = buffer.indexOf('\r\n\r\n')
    if (end < 0) {
      if (buffer.length > MAX_HEAD) socket.destroy()
      return
    }
    const lines = buffer.subarray(0, end).toString('latin1').split('\r\n')
    const [method = '', target = ''] = lines[0]!.split(' ')
    const headers = lines.slice(1)
    const length = Number(/^content-length:\s*(\d+)/im.exec(headers.join('\r\n'))?.[1] ?? 0)
    if (length > MAX_BODY) return socket.destroy()
    if (buffer.length < end + 4 + length) return
    socket.removeAllListeners('data')
    const request: Recorded = { method, path: target, headers, body: buffer.subarray(end + 4, end + 4 + length).toString('latin1') }
    requests.push(request)
    const description = descriptions.find((d) => d.path === target && localPort === descriptionPort)
    if (method === 'GET' && description) return serveDescription(socket, description)
    const conn = services.find((c) => c.path === target && c.port === localPort)
    if (method === 'POST' && conn) return soap(socket, conn, request)
    respond(socket, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', '')
  })
}

const ports = [...new Set([descriptionPort, ...services.map((s) => s.port)])]
let pending = ports.length + 1
const ready = () => {
  if (--pending === 0) console.log(JSON.stringify({ ready: true, address, ports, services }))
}
for (const p of ports) net.createServer((s) => handle(s, p)).listen(p, address, ready)
ssdp.bind(1900, () => {
  ssdp.addMembership('239.255.255.250', address)
  ready()
})

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'requests') console.log(JSON.stringify({ requests }))
  else if (line === 'mappings') console.log(JSON.stringify({ mappings: table }))
})
process.stdin.on('end', () => process.exit(0))
