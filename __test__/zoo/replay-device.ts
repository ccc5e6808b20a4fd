// A replay of one real router at a time: answers M-SEARCH with its captured datagram, serves its
// captured descriptions byte for byte and answers SOAP in its own shape (captured replies
// verbatim, the rest built by soap-shapes.ts), including its faults and quirks. Runs inside the
// zoo namespace (zoo-lab.ts gives it the address the router had in the capture) for a whole
// test file, so that each device costs a command instead of a process start. A device made from a
// report may also answer NAT-PMP and PCP as the report's router did (pxp-replay.ts), or only that:
//   node --import tsx __test__/zoo/replay-device.ts
// Commands on stdin, one JSON line answered on stdout for each:
//   load <device id>   replay that device (the previous one is stopped first)
//   requests           every request received since the load, heads as sent
//   mappings           the device's mapping table
//   unload             stop replaying
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { type DeviceSpec, loadReplay, locationParts, replayAddress, speaksUpnp, ssdpFile } from './device-spec.ts'
import { type PxpRecording, PxpReplay } from './pxp-replay.ts'
import { type Shape, SHAPES } from './soap-shapes.ts'

const MAX_HEAD = 16 * 1024
const MAX_BODY = 64 * 1024
/** What the lab reports as every router's public address (lab.sh DEFAULT_EXT_IP). */
const LAB_EXTERNAL_IP = '11.22.33.44'

interface Connection {
  serviceType: string
  port: number
  path: string
  status: string
  externalIp: string
}

interface Recorded {
  method: string
  path: string
  /** The request head exactly as received, request line included, without its blank line. */
  head: string
  /** Header lines exactly as received (names keep their case). */
  headers: string[]
  body: string
  /** The port the request came in on. */
  port: number
}

/** A description as served: its spec entry and its body. */
type Served = DeviceSpec['http'][number] & { body: string; captured: boolean }

interface Mapping {
  protocol: string
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  leaseDuration: number
  enabled: string
}

const header = (text: string, name: string) =>
  new RegExp(`^${name}:[ \\t]*(.*?)\\r?$`, 'im').exec(text.split(/\r?\n\r?\n/)[0] ?? '')?.[1] ?? ''
const xmlValue = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function soapArgs(body: string): Record<string, string> {
  const args: Record<string, string> = {}
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)\s*\/>/g)) args[m[1]!] = ''
  for (const m of body.matchAll(/<(?:[\w-]+:)?(New\w+)>([\s\S]*?)<\/(?:[\w-]+:)?\1>/g)) args[m[1]!] = m[2]!
  return args
}

/** One device being replayed: its sockets, what it received and its mapping table. */
class Replay {
  readonly requests: Recorded[] = []
  readonly table: Mapping[] = []
  private readonly shape: Shape
  private readonly address: string
  private readonly descriptionPort: number
  private readonly datagram: string
  private readonly server: string
  private readonly descriptions: Served[]
  readonly services: Connection[]
  /** Search target -> the description (index into `descriptions`) whose reply answers it. */
  private readonly answers = new Map<string, number>()
  private readonly closers: (() => Promise<void>)[] = []

  constructor(private readonly device: DeviceSpec) {
    this.shape = SHAPES[device.shape] ?? SHAPES.generic!
    const location = locationParts(device)
    this.address = location.address
    this.descriptionPort = location.port
    this.datagram = fs.readFileSync(ssdpFile(device)).toString('latin1')
    this.server = header(this.datagram, 'SERVER') || header(this.soapCapture('AddPortMapping') ?? '', 'Server')
    this.descriptions = device.http.map((e) => ({ ...e, ...this.descriptionBody(e) }))
    this.services = this.connections()
    this.answers.set('ssdp:all', 0).set('upnp:rootdevice', 0)
    // A device answers a search for its own device and service types and their earlier
    // versions (UDA 1.3.2). A router with a second root description (a FRITZ!Box's TR-064
    // one) answers its types with that description's LOCATION.
    this.descriptions.forEach((_, index) => {
      for (const m of this.xml(index).matchAll(/<(deviceType|serviceType)>\s*([^<]*?)\s*<\/\1>/g)) {
        const [, type = '', version = '1'] = /^(.*):(\d+)$/.exec(m[2]!) ?? []
        for (let v = 1; v <= Number(version); v++) if (!this.answers.has(`${type}:${v}`)) this.answers.set(`${type}:${v}`, index)
      }
    })
  }

  private file(name: string): string {
    return fs.readFileSync(path.join(this.device.dir, name)).toString('latin1')
  }

  private soapCapture(action: string): string | undefined {
    const file = path.join(this.device.dir, 'soap', `${action}.http`)
    return fs.existsSync(file) ? fs.readFileSync(file).toString('latin1') : undefined
  }

  /** The text of `element` in the captured reply to `action`, if there is one. */
  private capturedValue(action: string, element: string): string | undefined {
    return new RegExp(`<${element}>([^<]*)</${element}>`).exec(this.soapCapture(action) ?? '')?.[1]
  }

  private descriptionBody(entry: DeviceSpec['http'][number]): { body: string; captured: boolean } {
    const parts = entry.files ?? [entry.file!]
    let text = parts.map((p) => this.file(p)).join('')
    for (const [from, to] of Object.entries(entry.replace ?? {})) text = text.split(from).join(to)
    return { body: text, captured: parts.length === 1 && parts[0]!.endsWith('.http') }
  }

  /** The XML of description `index` (a captured response without its head). */
  private xml(index: number): string {
    const d = this.descriptions[index]!
    return d.captured ? d.body.slice(d.body.indexOf('\r\n\r\n') + 4) : d.body
  }

  /** The WAN*Connection services of the root description, with the status the device reports. */
  private connections(): Connection[] {
    const rootXml = this.xml(0)
    const base = /<URLBase>\s*([^<]*?)\s*<\/URLBase>/.exec(rootXml)?.[1] || this.device.location
    const found: Connection[] = []
    for (const m of rootXml.matchAll(/<service>([\s\S]*?)<\/service>/g)) {
      const type = /<serviceType>\s*([^<]*?)\s*<\/serviceType>/.exec(m[1]!)?.[1] ?? ''
      if (!/:service:WAN(IP|PPP)Connection:\d+$/.test(type)) continue
      const control = /<controlURL>\s*([^<]*?)\s*<\/controlURL>/.exec(m[1]!)?.[1] ?? ''
      const url = new URL(control, base.endsWith('/') || control.startsWith('/') ? base : `${base}/`)
      const override = this.device.connections?.[found.length] ?? {}
      found.push({
        serviceType: type,
        port: Number(url.port || 80),
        path: url.pathname + url.search,
        // A captured GetStatusInfo says what the router answers ("Up" on the BBox).
        status: override.status ?? this.capturedValue('GetStatusInfo', 'NewConnectionStatus') ?? 'Connected',
        externalIp: override.externalIp ?? LAB_EXTERNAL_IP,
      })
    }
    return found
  }

  async start(): Promise<{ address: string; ports: number[] }> {
    const ports = [...new Set([this.descriptionPort, ...this.services.map((s) => s.port)])]
    for (const p of ports) {
      const server = net.createServer((s) => this.handle(s, p))
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(p, this.address, resolve))
      const sockets = new Set<net.Socket>()
      server.on('connection', (s) => sockets.add(s.once('close', () => sockets.delete(s))))
      this.closers.push(
        () =>
          new Promise((resolve) => {
            for (const s of sockets) s.destroy()
            server.close(() => resolve())
          }),
      )
    }
    const ssdp = dgram.createSocket({ type: 'udp4', reuseAddr: true })
    ssdp.on('message', (message, from) => this.onSearch(ssdp, message, from))
    await new Promise<void>((resolve) => ssdp.bind(1900, resolve))
    ssdp.addMembership('239.255.255.250', this.address)
    this.closers.push(() => new Promise((resolve) => ssdp.close(() => resolve())))
    return { address: this.address, ports }
  }

  async stop(): Promise<void> {
    await Promise.all(this.closers.map((close) => close()))
  }

  // -------------------------------------------------------------- SSDP
  private searchReply(st: string, description: number): string {
    let reply = this.datagram
    if (description > 0) {
      const location = new URL(this.device.location)
      location.pathname = this.descriptions[description]!.path
      reply = reply.replace(/^(LOCATION:[ \t]*).*$/im, (_, p: string) => `${p}${location.href}`)
    }
    const capturedSt = header(this.datagram, 'ST')
    if (st === 'ssdp:all' || st === capturedSt) return reply
    // The only change: ST and the USN's suffix name the target searched for, as the device's
    // stack does when it answers another of its types.
    return reply
      .replace(/^(ST:[ \t]*).*$/im, (_, p: string) => `${p}${st}`)
      .replace(/^(USN:[ \t]*uuid:[^:\r\n]*)(::.*)?$/im, (_, p: string) => `${p}::${st}`)
  }

  private onSearch(ssdp: dgram.Socket, message: Buffer, from: dgram.RemoteInfo): void {
    const text = message.toString('latin1')
    if (!/^M-SEARCH \* HTTP\/1\.1\r?\n/i.test(text)) return
    const st = header(text, 'ST').trim()
    const description = this.answers.get(st)
    if (description === undefined) return
    const reply = Buffer.from(this.searchReply(st, description), 'latin1')
    setTimeout(() => {
      if (this.device.ssdpSourcePort === 'ephemeral') {
        // pupnp answers each search from a fresh socket: the reply's source port is not 1900.
        const once = dgram.createSocket('udp4')
        once.bind(0, this.address, () => once.send(reply, from.port, from.address, () => once.close()))
      } else {
        ssdp.send(reply, from.port, from.address)
      }
    }, 10)
  }

  // -------------------------------------------------------------- HTTP and SOAP
  private respond(socket: net.Socket, head: string, body: string, chunked = false): void {
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

  /** A head for a body, chunked when the device chunks (the Content-Length header is dropped). */
  private headFor(head: string): string {
    return this.device.chunked ? head.replace(/^Content-Length: \d+\r\n/im, 'Transfer-Encoding: chunked\r\n') : head
  }

  private serveDescription(socket: net.Socket, entry: Served): void {
    if (entry.captured) return this.respond(socket, '', entry.body)
    const body = (this.device.bom ? '\xef\xbb\xbf' : '') + entry.body
    this.respond(
      socket,
      this.headFor(this.shape.descriptionHead(Buffer.byteLength(body, 'latin1'), this.server)),
      body,
      this.device.chunked,
    )
  }

  private soapReply(socket: net.Socket, status: number, body: string): void {
    this.respond(socket, this.headFor(this.shape.head(status, Buffer.byteLength(body, 'latin1'), this.server)), body, this.device.chunked)
  }

  private fault(socket: net.Socket, code: number, description: string): void {
    this.soapReply(socket, 500, this.shape.fault(code, description))
  }

  /** A captured reply, with its values set to the current ones and Content-Length recounted. */
  private captured(socket: net.Socket, text: string, values: Record<string, string | number>): void {
    const split = text.indexOf('\r\n\r\n') + 4
    let body = text.slice(split)
    for (const [k, v] of Object.entries(values)) body = body.replace(new RegExp(`(<${k}>)[^<]*(</${k}>)`), `$1${v}$2`)
    const head = text.slice(0, split).replace(/^(Content-Length:[ \t]*)\d+/im, `$1${Buffer.byteLength(body, 'latin1')}`)
    this.respond(socket, head, body)
  }

  private ok(socket: net.Socket, conn: Connection, action: string, out: Record<string, string | number> = {}): void {
    const capture = this.soapCapture(action)
    if (capture) return this.captured(socket, capture, out)
    const p = this.shape.prefix
    const inner =
      `<${p}:${action}Response xmlns:${p}="${conn.serviceType}">` +
      Object.entries(out)
        .map(([k, v]) => `<${k}>${xmlValue(String(v))}</${k}>`)
        .join('') +
      `</${p}:${action}Response>`
    this.soapReply(socket, 200, this.shape.envelope(inner))
  }

  private soap(socket: net.Socket, conn: Connection, request: Recorded): void {
    const device = this.device
    const named = (n: string) => request.headers.find((h) => h.slice(0, h.indexOf(':')) === n)
    const soapHeader = device.requireSoapActionCase
      ? device.requireSoapActionCase.map(named).find(Boolean)
      : request.headers.find((h) => /^soapaction:/i.test(h))
    if (!soapHeader) {
      const reject = path.join(device.dir, 'soap', 'wrong-header-case.http')
      if (device.requireSoapActionCase && fs.existsSync(reject)) return this.respond(socket, '', this.file('soap/wrong-header-case.http'))
      return this.fault(socket, 401, 'Invalid Action')
    }
    const value = soapHeader
      .slice(soapHeader.indexOf(':') + 1)
      .trim()
      .replace(/^"|"$/g, '')
    const hash = value.lastIndexOf('#')
    const [serviceType, action] = [value.slice(0, hash), value.slice(hash + 1)]
    // Strict, like most stacks: the action must name the service this control URL serves.
    if (serviceType !== conn.serviceType) return this.fault(socket, 401, 'Invalid Action')
    // A refusal a report showed as the router's policy (from-report.ts): always the same.
    const refusal = device.faults?.[action]
    if (refusal) return this.respond(socket, '', this.file(refusal))
    const a = soapArgs(request.body)
    const table = this.table
    const port = (s?: string) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s) : NaN)
    const find = () => table.findIndex((m) => m.protocol === a.NewProtocol && m.externalPort === port(a.NewExternalPort))
    const missing = () =>
      device.missingEntry
        ? this.fault(socket, device.missingEntry.code, device.missingEntry.description)
        : this.fault(socket, 714, 'NoSuchEntryInArray')
    const entry = (m: Mapping) => ({
      NewInternalPort: m.internalPort,
      NewInternalClient: m.internalClient,
      NewEnabled: m.enabled,
      NewPortMappingDescription: m.description,
      NewLeaseDuration: m.leaseDuration,
    })
    switch (action) {
      case 'GetStatusInfo':
        return this.ok(socket, conn, action, { NewConnectionStatus: conn.status, NewLastConnectionError: 'ERROR_NONE', NewUptime: 3600 })
      case 'GetExternalIPAddress':
        return this.ok(socket, conn, action, { NewExternalIPAddress: conn.externalIp })
      case 'GetConnectionTypeInfo':
        return this.ok(socket, conn, action, { NewConnectionType: 'IP_Routed', NewPossibleConnectionTypes: 'IP_Routed' })
      case 'GetNATRSIPStatus':
        return this.ok(socket, conn, action, { NewRSIPAvailable: 0, NewNATEnabled: 1 })
      case 'AddPortMapping': {
        const ext = port(a.NewExternalPort)
        const int = port(a.NewInternalPort)
        if (!(ext > 0 && ext < 65536) || !(int > 0 && int < 65536) || !/^(UDP|TCP)$/.test(a.NewProtocol ?? '')) {
          return this.fault(socket, 402, 'Invalid Args')
        }
        if (device.refuseEmptyDescription && !a.NewPortMappingDescription) return this.fault(socket, 402, 'Invalid Args')
        const i = find()
        if (i >= 0 && table[i]!.internalClient !== a.NewInternalClient) return this.fault(socket, 718, 'ConflictInMappingEntry')
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
        return this.ok(socket, conn, action)
      }
      case 'DeletePortMapping': {
        const i = find()
        if (i < 0) return missing()
        table.splice(i, 1)
        return this.ok(socket, conn, action)
      }
      case 'GetSpecificPortMappingEntry': {
        const i = find()
        return i < 0 ? missing() : this.ok(socket, conn, action, entry(table[i]!))
      }
      case 'GetGenericPortMappingEntry': {
        const m = table[port(a.NewPortMappingIndex)]
        if (!m) {
          // Past the end: the captured reply, or the device's own fault (the WRT1900AC's 501,
          // as Open.NAT found), or the standard 713.
          const capture = this.soapCapture('GetGenericPortMappingEntry-1')
          if (capture) return this.captured(socket, capture, {})
          return device.missingEntry ? missing() : this.fault(socket, 713, 'SpecifiedArrayIndexInvalid')
        }
        return this.ok(socket, conn, action, { NewRemoteHost: '', NewExternalPort: m.externalPort, NewProtocol: m.protocol, ...entry(m) })
      }
      default:
        return this.fault(socket, 401, 'Invalid Action')
    }
  }

  private handle(socket: net.Socket, localPort: number): void {
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
      const head = buffer.subarray(0, end).toString('latin1')
      const lines = head.split('\r\n')
      const [method = '', target = ''] = lines[0]!.split(' ')
      const headers = lines.slice(1)
      const length = Number(/^content-length:\s*(\d+)/im.exec(headers.join('\r\n'))?.[1] ?? 0)
      if (length > MAX_BODY) return socket.destroy()
      if (buffer.length < end + 4 + length) return
      socket.removeAllListeners('data')
      const body = buffer.subarray(end + 4, end + 4 + length).toString('latin1')
      const request: Recorded = { method, path: target, head, headers, body, port: localPort }
      this.requests.push(request)
      const description = this.descriptions.find((d) => d.path === target && localPort === this.descriptionPort)
      if (method === 'GET' && description) return this.serveDescription(socket, description)
      const conn = this.services.find((c) => c.path === target && c.port === localPort)
      if (method === 'POST' && conn) return this.soap(socket, conn, request)
      const action = (request.headers.find((h) => /^soapaction:/i.test(h)) ?? '').replace(/^[^#]*#|"\s*$/g, '')
      const recorded = this.device.recorded?.[`${target}#${action}`]
      if (method === 'POST' && recorded) return this.respond(socket, '', this.file(recorded))
      this.respond(socket, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', '')
    })
  }
}

/** What is replayed now: the UPnP device, its NAT-PMP/PCP responder, or both. */
let current: { upnp: Replay | null; pxp: PxpReplay | null } | null = null

async function unload(): Promise<void> {
  const replaying = current
  current = null
  await Promise.all([replaying?.upnp?.stop(), replaying?.pxp?.stop()])
}

async function command(line: string): Promise<object> {
  const [verb, id] = line.split(' ')
  switch (verb) {
    case 'load': {
      await unload()
      const spec = loadReplay(id ?? '')
      const upnp = speaksUpnp(spec) ? new Replay(spec) : null
      const recording = spec.pxp && (JSON.parse(fs.readFileSync(path.join(spec.dir, spec.pxp.file), 'utf8')) as PxpRecording)
      const pxp = recording ? new PxpReplay(recording, spec.pxp!.address) : null
      current = { upnp, pxp }
      const started = upnp ? await upnp.start() : { address: replayAddress(spec), ports: [] }
      await pxp?.start()
      return { ready: true, ...started, services: upnp?.services ?? [], pxp: pxp ? { listening: recording!.listening } : null }
    }
    case 'unload':
      await unload()
      return { unloaded: true }
    case 'requests':
      return { requests: current?.upnp?.requests ?? [], pxpRequests: current?.pxp?.received ?? 0 }
    case 'mappings':
      return { mappings: current?.upnp?.table ?? [] }
    default:
      return { error: `unknown command ${JSON.stringify(line)}` }
  }
}

// Commands run one after another, each answered with one line.
let queue: Promise<void> = Promise.resolve()
const answer = async (line: string) => {
  const reply = await command(line).catch((e: unknown) => ({ error: String(e) }))
  console.log(JSON.stringify(reply))
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(() => answer(line))
})
process.stdin.on('end', () => process.exit(0))
console.log(JSON.stringify({ host: true }))
