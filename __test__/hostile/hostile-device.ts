// A hostile LAN device for the security tests: it says on the wire exactly what a test
// scripts, byte for byte, where the fake gateway (../fake-gateway/) plays an honest but
// quirky router. Runs in the lab namespace `<prefix>-fake`, beside the fake gateway:
//   ip netns exec <prefix>-fake node --import tsx __test__/hostile/hostile-device.ts
// Control API on HOSTILE_CONTROL (default 192.168.77.21:5998):
//   POST /scenario {http, ssdp}   replace the script (servers restarted, log emptied)
//   POST /notify {from, text, count, intervalMs?, to?}   send NOTIFYs now (resolves when sent)
//   GET  /log                     what was asked of it since the scenario was set
//   GET  /health
// Texts may hold `{{i}}` (the copy's number) and `{{ip}}` (the address it leaves from).
import dgram from 'node:dgram'
import http from 'node:http'
import os from 'node:os'
import { serveControl } from '../lab/control-server.ts'
import type { HostileLog, HostileScenario, NotifyBurst, RawResponse } from './types.ts'

const [CONTROL_HOST, CONTROL_PORT] = (process.env.HOSTILE_CONTROL ?? '192.168.77.21:5998').split(':')
const SSDP_V4 = '239.255.255.250'
const SSDP_PORT = 1900

let scenario: HostileScenario = {}
let t0 = Date.now()
let log: HostileLog = { http: [], ssdp: [] }
let servers: http.Server[] = []
/** Each searcher (address:port) gets the scripted answers once, however many M-SEARCHes it sends. */
let answered = new Set<string>()
let generation = 0

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const fill = (text: string, i: number, ip: string) => text.replaceAll('{{i}}', String(i)).replaceAll('{{ip}}', ip)
const isV6 = (ip: string) => ip.includes(':')

// ---------------------------------------------------------------- HTTP
function routeFor(routes: Record<string, RawResponse>, method: string, path: string, action: string | undefined): RawResponse | undefined {
  return (action ? routes[`${method} ${path}#${action}`] : undefined) ?? routes[`${method} ${path}`] ?? routes['*']
}

function serve(ip: string, port: number, routes: Record<string, RawResponse>): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
    })
    req.on('end', async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      const soapAction = req.headers.soapaction
      const action = typeof soapAction === 'string' ? soapAction.replace(/"/g, '').split('#')[1] : undefined
      log.http.push({
        t: Date.now() - t0,
        ip,
        port,
        method: req.method ?? '',
        path,
        action,
        from: req.socket.remoteAddress ?? '',
        bytes: size,
      })
      const r = routeFor(routes, req.method ?? '', path, action)
      if (!r) return void res.writeHead(404).end()
      if (r.delayMs) await sleep(r.delayMs)
      const body = Buffer.from(r.body !== undefined ? r.body.repeat(r.repeat ?? 1) : '', 'utf8')
      res.writeHead(r.status ?? 200, { 'Content-Type': 'text/xml; charset="utf-8"', 'Content-Length': body.length, ...r.headers })
      res.end(body)
    })
  })
  return new Promise((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(port, ip, () => resolve(srv))
  })
}

// ---------------------------------------------------------------- SSDP
const senders = new Map<string, Promise<dgram.Socket>>()
/** A socket that sends from `ip` ('::' = the kernel's choice of IPv6 source, link-local on the LAN). */
function senderFor(ip: string): Promise<dgram.Socket> {
  let s = senders.get(ip)
  if (!s) {
    s = new Promise((resolve) => {
      const sock = dgram.createSocket({ type: isV6(ip) ? 'udp6' : 'udp4', reuseAddr: true })
      sock.on('error', (e) => console.error('hostile-device ssdp:', e.message))
      sock.bind(0, ip, () => {
        if (!isV6(ip)) sock.setMulticastInterface(ip)
        resolve(sock)
      })
    })
    senders.set(ip, s)
  }
  return s
}

async function sendAll(sock: dgram.Socket, texts: string[], port: number, address: string, intervalMs = 0): Promise<void> {
  for (const text of texts) {
    await new Promise<void>((r) => sock.send(Buffer.from(text, 'utf8'), port, address, () => r()))
    if (intervalMs) await sleep(intervalMs)
  }
}

function onSearch(msg: Buffer, rinfo: dgram.RemoteInfo): void {
  const text = msg.toString('latin1')
  if (!/^M-SEARCH \* HTTP\/1\.1\r?\n/i.test(text)) return
  const st = /\r?\nST:\s*([^\r\n]*)/i.exec(text)?.[1] ?? ''
  log.ssdp.push({ t: Date.now() - t0, from: `${rinfo.address}:${rinfo.port}`, st })
  const searcher = `${rinfo.address}:${rinfo.port}`
  if (answered.has(searcher)) return
  answered.add(searcher)
  const v6 = isV6(rinfo.address)
  const mine = generation
  for (const a of scenario.ssdp ?? []) {
    if (isV6(a.from) !== v6) continue
    void (async () => {
      if (a.delayMs) await sleep(a.delayMs)
      if (mine !== generation) return
      const texts = Array.from({ length: a.copies ?? 1 }, (_, i) => fill(a.text, i, a.from))
      await sendAll(await senderFor(a.from), texts, rinfo.port, rinfo.address)
    })()
  }
}

function listenSsdp(): void {
  const lan = Object.entries(os.networkInterfaces()).find(([, as]) => as?.some((a) => a.address === CONTROL_HOST))?.[0]
  const v4 = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  v4.on('message', onSearch)
  v4.on('error', (e) => console.error('hostile-device ssdp4:', e.message))
  v4.bind(SSDP_PORT, '0.0.0.0', () => v4.addMembership(SSDP_V4, CONTROL_HOST))
  if (!lan) return
  const v6 = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true })
  v6.on('message', onSearch)
  v6.on('error', (e) => console.error('hostile-device ssdp6:', e.message))
  v6.bind(SSDP_PORT, '::', () => {
    try {
      v6.addMembership('ff02::c', `::%${lan}`)
    } catch (e) {
      console.error('hostile-device: join ff02::c:', (e as Error).message)
    }
  })
}

async function notify(burst: NotifyBurst): Promise<number> {
  const texts = Array.from({ length: burst.count }, (_, i) => fill(burst.text, i, burst.from))
  await sendAll(await senderFor(burst.from), texts, SSDP_PORT, burst.to ?? SSDP_V4, burst.intervalMs ?? 0)
  return texts.length
}

// ---------------------------------------------------------------- scenario + control API
async function apply(next: HostileScenario): Promise<void> {
  generation++
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
  answered = new Set()
  log = { http: [], ssdp: [] }
  t0 = Date.now()
  scenario = {}
  for (const h of next.http ?? []) servers.push(await serve(h.ip, h.port, h.routes))
  scenario = next
}

serveControl(
  'hostile-device',
  `${CONTROL_HOST}:${CONTROL_PORT}`,
  {
    'GET /health': () => [200, { ok: true }],
    'GET /log': () => [200, log],
    'POST /scenario': async (body) => {
      await apply(JSON.parse(body) as HostileScenario)
      return [200, { ok: true }]
    },
    'POST /notify': async (body) => [200, { ok: true, sent: await notify(JSON.parse(body) as NotifyBurst) }],
  },
  listenSsdp,
)
