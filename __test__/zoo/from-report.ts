// A zoo device made from a `doctor --report` file (cli/commands/doctor/report.ts): the router the
// report's doctor used, with its search reply, its descriptions and its SOAP replies as the
// report recorded them, so that a user's bug report becomes a replayed device (and, saved
// under devices/, a regression test in one step). What the report cannot show is modelled by
// the zoo's replay as for any device: the mapping table, and the replies to actions the run
// did not make.
//
// Refusals are kept as the router's policy: an action the report shows refused every time
// (606, 725, 501, ...) is refused the same way in the replay, and so is a lookup that failed
// although the report shows the entry was there (a router that does not list what it
// accepted). A public external address is replaced by the lab's, as for every zoo device; a
// private or shared one (double NAT, CGNAT) is kept. A device on one of the lab's own
// networks is moved to RELOCATED_ADDRESS (a replay cannot take the lab router's address).
//
// The NAT-PMP/PCP requests the run sent to the device, and what came back, are kept too
// (`pxp.json`, replayed by pxp-replay.ts), with whether the device was the default route's
// gateway (where the doctor sends them without --gateway). A report without a UPnP gateway
// (`doctor --protocol pcp|pmp`) makes a replay of the router its NAT-PMP/PCP requests went to.
//
// `lab.sh replay REPORT` (replay-report.ts) makes the device and replays it.
import fs from 'node:fs'
import path from 'node:path'
import type { DeviceSpec, PxpOnlySpec, PxpSpec, SpecFile } from './device-spec.ts'
import { pxpRecording } from './pxp-replay.ts'

/** Where a device on the lab's own LAN or WAN is replayed instead. */
export const RELOCATED_ADDRESS = '192.168.1.1'
const LAB_NETWORKS = [/^192\.168\.77\./, /^10\.99\.0\./]
/** What the lab reports as every router's public address (lab.sh DEFAULT_EXT_IP). */
const LAB_EXTERNAL_IP = '11.22.33.44'

/** The parts of a report this converter reads (report-schema.json has them all). */
export interface Report {
  format: string
  version: number
  redaction: { redacted: boolean }
  invocation: { protocol: string; gateway: string; port: number | null; transport: string; timeoutMs: number }
  network: { defaultGateway: { gateway?: string } | null }
  doctor: {
    verdict: { code: string }
    checks: { id: string; status: string }[]
    gateways: { descriptionUrl: string; controlUrl: string; serviceType: string; selected: boolean; friendlyName: string }[]
  }
  exchanges: Exchange[]
}

export interface Exchange {
  event: string
  t: number
  peer?: string
  url?: string
  action?: string
  status?: number
  exchange?: number
  head?: string
  body?: string
  bodyEncoding?: 'utf8' | 'latin1' | 'hex'
  detail?: string
  local?: string
  attempt?: number
}

interface HttpPair {
  method: string
  path: string
  /** SOAPAction's action name (POST). */
  action: string
  requestBody: string
  status: number
  /** The reply as served: status line, head without transfer coding, recounted length, body. */
  reply: Buffer
  replyBody: string
}

const header = (head: string, name: string): string =>
  head
    .split(/\r?\n/)
    .slice(1)
    .map((l) => /^([^:]+):\s*(.*?)\s*$/.exec(l))
    .find((m) => m?.[1]?.toLowerCase() === name.toLowerCase())?.[2] ?? ''
const bytesOf = (e: Exchange): Buffer => Buffer.from(e.body ?? '', e.bodyEncoding === 'latin1' ? 'latin1' : 'utf8')
const element = (xml: string, name: string): string => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml)?.[1] ?? ''
const argument = (xml: string, name: string): string => new RegExp(`<(?:[\\w-]+:)?${name}>([^<]*)<`).exec(xml)?.[1] ?? ''

/** A reply as a zoo `.http` file: the recorded head (hyper had already undone any chunking). */
function replyFile(head: string, body: Buffer): Buffer {
  const lines = head
    .split(/\r?\n/)
    .filter(Boolean)
    .filter((l) => !/^(transfer-encoding|content-length):/i.test(l))
  lines.push(`content-length: ${body.length}`)
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body])
}

/** Every HTTP exchange with the device at `host`, requests paired with their replies. */
function httpPairs(exchanges: Exchange[], host: string): HttpPair[] {
  const requests = new Map<number, Exchange>()
  const pairs: HttpPair[] = []
  for (const e of exchanges) {
    if (e.exchange === undefined || !e.peer || new URL(`http://${e.peer}`).hostname !== host) continue
    if (e.event === 'http.request') requests.set(e.exchange, e)
    if (e.event !== 'http.response') continue
    const request = requests.get(e.exchange)
    if (!request) continue
    const soapAction = header(request.head ?? '', 'SOAPAction').replace(/^"|"$/g, '')
    pairs.push({
      method: request.action ?? 'GET',
      path: request.url ?? '/',
      action: soapAction.slice(soapAction.lastIndexOf('#') + 1),
      requestBody: request.body ?? '',
      status: e.status ?? 0,
      reply: replyFile(e.head ?? '', bytesOf(e)),
      replyBody: e.body ?? '',
    })
  }
  return pairs
}

/** Actions whose refusals are the router's policy (see the file's comment), with the reply. */
function refusals(pairs: HttpPair[]): Map<string, Buffer> {
  const refused = new Map<string, Buffer>()
  const succeeded = new Set<string>()
  const table = new Set<string>()
  const key = (p: HttpPair) => `${argument(p.requestBody, 'NewProtocol')} ${argument(p.requestBody, 'NewExternalPort')}`
  for (const p of pairs.filter((q) => q.method === 'POST')) {
    const ok = p.status === 200 && !/<(?:[\w-]+:)?Fault>/.test(p.replyBody)
    if (ok) {
      succeeded.add(p.action)
      if (p.action === 'AddPortMapping') table.add(key(p))
      if (p.action === 'DeletePortMapping') table.delete(key(p))
      continue
    }
    const code = Number(/<errorCode>\s*(\d+)/.exec(p.replyBody)?.[1])
    // 713/714 follow the table, which the replay models: only a lookup of an entry that was
    // there is a refusal to keep (the router does not list what it accepted).
    const stateful = code === 713 || code === 714
    const contradicts = (p.action === 'GetSpecificPortMappingEntry' && table.has(key(p))) || (code === 713 && table.size > 0)
    if (!stateful || contradicts) refused.set(p.action, p.reply)
  }
  for (const action of succeeded)
    if (!['GetSpecificPortMappingEntry', 'GetGenericPortMappingEntry'].includes(action)) refused.delete(action)
  return refused
}

/** The WAN*Connection services of a description, in document order: type and control URL. */
function connectionServices(xml: string, base: string): { serviceType: string; controlUrl: string }[] {
  const out: { serviceType: string; controlUrl: string }[] = []
  for (const [, service = ''] of xml.matchAll(/<service>([\s\S]*?)<\/service>/g)) {
    const serviceType = element(service, 'serviceType')
    if (!/:service:WAN(IP|PPP)Connection:\d+$/.test(serviceType)) continue
    out.push({ serviceType, controlUrl: new URL(element(service, 'controlURL'), base).href })
  }
  return out
}

function shapeOf(server: string): string {
  if (/miniupnpd/i.test(server)) return 'miniupnpd'
  if (/portable sdk|pupnp|libupnp/i.test(server)) return 'pupnp'
  return 'generic'
}

function checkFormat(report: Report): void {
  if (report.format !== 'upnp-native-doctor-report' || report.version !== 1) throw new Error('not a version 1 doctor report')
}

/** The gateway of the report's doctor: the device a replay plays. */
export function reportGateway(report: Report): Report['doctor']['gateways'][number] {
  checkFormat(report)
  const gateway = report.doctor.gateways.find((g) => g.selected) ?? report.doctor.gateways[0]
  if (!gateway) throw new Error('the report found no UPnP gateway: there is no device to replay')
  return gateway
}

/** The router the report's NAT-PMP/PCP requests went to (a URL hostname), if any went out. */
function pxpRouter(report: Report): string | undefined {
  const sent = report.exchanges.find((e) => e.event === 'pxp.sent' && e.peer)
  return sent && new URL(`http://${sent.peer}`).hostname
}

/** The address a replay of the report plays: its UPnP gateway's, else (`doctor --protocol
 *  pcp|pmp`) the router its NAT-PMP/PCP requests went to. */
export function reportHost(report: Report): string {
  checkFormat(report)
  if (report.doctor.gateways.length) return new URL(reportGateway(report).descriptionUrl).hostname
  const router = pxpRouter(report)
  if (!router) throw new Error('the report found no UPnP gateway and asked no router over NAT-PMP/PCP: there is nothing to replay')
  return router
}

/** Text with the report's device address moved out of the lab's own networks (if it is in one). */
export function relocation(report: Report): (text: string) => string {
  const host = reportHost(report)
  if (!LAB_NETWORKS.some((n) => n.test(host))) return (text) => text
  const address = new RegExp(`(?<![\\d.])${host.replace(/\./g, '\\.')}(?!\\d)`, 'g')
  return (text) => text.replace(address, RELOCATED_ADDRESS)
}

/** The doctor's options as the report ran them (its gateway moved with the device when relocated). */
export function doctorOptions(report: Report): string[] {
  const i = report.invocation
  return [
    '--protocol',
    i.protocol === 'natpmp' ? 'pmp' : i.protocol,
    '--timeout',
    `${i.timeoutMs}ms`,
    ...(i.port ? ['--port', String(i.port)] : []),
    ...(i.transport === 'TCP' ? ['--tcp'] : []),
    ...(i.gateway ? ['--gateway', relocation(report)(i.gateway)] : []),
  ]
}

/** Writes a device's files into its folder, relocated, each with its source. */
type Write = (name: string, content: Buffer, what: string) => void

function writer(dir: string, relocate: (text: string) => string, moved: boolean, source: string, files: Record<string, string>): Write {
  fs.mkdirSync(dir, { recursive: true })
  return (name, content, what) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    let bytes = moved ? Buffer.from(relocate(content.toString('latin1')), 'latin1') : content
    // A relocated body has another length: a reply's head says the new one.
    if (moved && name.endsWith('.http')) {
      const text = bytes.toString('latin1')
      const split = text.indexOf('\r\n\r\n') + 4
      bytes = replyFile(text.slice(0, split), Buffer.from(text.slice(split), 'latin1'))
    }
    fs.writeFileSync(path.join(dir, name), bytes)
    files[name] = what.startsWith('modelled') ? what : `${source}, ${what}`
  }
}

/** The descriptions, the one LOCATION names first (the replay's root), then any other. */
function writeDescriptions(pairs: HttpPair[], location: URL, write: Write): { http: DeviceSpec['http']; root: HttpPair } {
  const own = location.pathname + location.search
  const descriptions = pairs.filter((p) => p.method === 'GET').sort((a, b) => Number(b.path === own) - Number(a.path === own))
  const http: DeviceSpec['http'] = []
  for (const d of descriptions) {
    if (http.some((h) => h.path === d.path)) continue
    const file = `desc-${http.length}.http`
    write(file, d.reply, `the reply to GET ${d.path}`)
    http.push({ path: d.path, file })
  }
  const root = descriptions[0]
  if (!root) throw new Error(`the report holds no description of ${location.href}`)
  return { http, root }
}

/** The search reply it answered with (to the search for its own type, if it answered that),
 *  or one modelled on its description; returns its SERVER. */
function writeSearchReply(report: Report, url: string, root: HttpPair, write: Write): string {
  const type = element(root.replyBody, 'deviceType')
  const replies = report.exchanges.filter((e) => e.event === 'ssdp.received' && header(`\r\n${e.body ?? ''}`, 'LOCATION') === url)
  const reply = replies.find((e) => header(`\r\n${e.body ?? ''}`, 'ST') === type) ?? replies[0]
  const server = header(`\r\n${reply?.body ?? ''}`, 'SERVER') || header(root.reply.toString('latin1').split('\r\n\r\n')[0]!, 'Server')
  if (reply) write('ssdp.txt', bytesOf(reply), 'the search reply')
  else {
    const udn = element(root.replyBody, 'UDN')
    const datagram = `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: ${type}\r\nUSN: ${udn}::${type}\r\nEXT:\r\nSERVER: ${server}\r\nLOCATION: ${url}\r\n\r\n`
    write('ssdp.modelled.txt', Buffer.from(datagram, 'latin1'), 'modelled: the report opened the device from its URL, without a search')
  }
  return server
}

/** SOAP: the last success of each action as its capture, refusals kept as the router's
 *  policy, and the replies of services the replay does not model. */
function writeSoap(pairs: HttpPair[], root: HttpPair, url: string, write: Write): Pick<DeviceSpec, 'faults' | 'recorded'> {
  const faults: Record<string, string> = {}
  for (const [action, replyBytes] of refusals(pairs)) {
    write(`soap/${action}.fault.http`, replyBytes, `the refusal of ${action}`)
    faults[action] = `soap/${action}.fault.http`
  }
  const connectionPaths = new Set(connectionServices(root.replyBody, url).map((c) => new URL(c.controlUrl).pathname))
  const recorded: Record<string, string> = {}
  for (const p of pairs.filter((q) => q.method === 'POST' && q.status === 200 && !faults[q.action])) {
    if (!new RegExp(`${p.action}Response\\b`).test(p.replyBody)) continue
    if (connectionPaths.has(new URL(p.path, url).pathname)) {
      write(`soap/${p.action}.http`, p.reply, `the last reply to ${p.action}`)
      continue
    }
    // Another service (the IPv6 firewall's): its replies as recorded, by path and action.
    const file = `soap/other/${p.path.replace(/[^\w.-]+/g, '_')}-${p.action}.http`
    write(file, p.reply, `the reply to ${p.action} at ${p.path}`)
    recorded[`${p.path}#${p.action}`] = file
  }
  return { ...(Object.keys(faults).length ? { faults } : {}), ...(Object.keys(recorded).length ? { recorded } : {}) }
}

/** Each connection service's status and external address as the report saw them. */
function connectionStates(
  pairs: HttpPair[],
  root: HttpPair,
  url: string,
  classify: (address: string) => string,
): DeviceSpec['connections'] {
  const connections = connectionServices(root.replyBody, url).map(({ controlUrl }) => {
    const last = (action: string) =>
      pairs.filter((p) => p.action === action && new URL(p.path, controlUrl).href === controlUrl && p.status === 200).at(-1)
    const status = argument(last('GetStatusInfo')?.replyBody ?? '', 'NewConnectionStatus')
    const address = last('GetExternalIPAddress')
    const external = address && argument(address.replyBody, 'NewExternalIPAddress')
    return {
      ...(status ? { status } : {}),
      // A public address is the lab's in the replay (zoo rule); other kinds are what matter.
      ...(external !== undefined && classify(external) !== 'public' ? { externalIp: external } : {}),
    }
  })
  return connections.some((c) => Object.keys(c).length) ? connections : undefined
}

/** The NAT-PMP/PCP exchanges with `host` as `pxp.json`, if the run sent any there (IPv4 only:
 *  the zoo's replays are). A public external address in them becomes the lab's, as in UPnP. */
function writePxp(
  report: Report,
  host: string,
  relocate: (text: string) => string,
  classify: (a: string) => string,
  write: Write,
): PxpSpec | undefined {
  if (host.startsWith('[')) return undefined
  const recording = pxpRecording(report.exchanges, host, (a) => (classify(a) === 'public' ? LAB_EXTERNAL_IP : a))
  if (!recording) return undefined
  write('pxp.json', Buffer.from(`${JSON.stringify(recording, null, 2)}\n`), 'the NAT-PMP and PCP requests and what came back')
  return { file: 'pxp.json', address: relocate(host), defaultRoute: report.network.defaultGateway?.gateway === host }
}

/** The report's device as a zoo device in `dir` (created); returns its device.json. With
 *  `keep`, the report file itself is kept beside it (`report.json`), as the device's source. A
 *  report without a UPnP gateway gives a NAT-PMP/PCP-only replay. */
export function deviceFromReport(report: Report, dir: string, classify: (address: string) => string, keep?: string): SpecFile {
  const host = reportHost(report)
  const relocate = relocation(report)
  const files: Record<string, string> = {}
  const source = `report: upnp-native doctor --report${report.redaction.redacted ? ' (redacted)' : ''}`
  const write = writer(dir, relocate, relocate(host) !== host, source, files)
  const upnp = report.doctor.gateways.length ? upnpDevice(report, classify, relocate, files, write) : null
  const pxp = writePxp(report, host, relocate, classify, write)
  if (keep) {
    fs.copyFileSync(keep, path.join(dir, 'report.json'))
    files['report.json'] = `${source}: the report this device was made from (__test__/zoo/from-report.ts)`
  }
  if (!upnp && !pxp) throw new Error(`the report's NAT-PMP/PCP router ${host} is an IPv6 one: the zoo replays IPv4 only`)
  const spec: SpecFile = upnp ? { ...upnp, ...(pxp ? { pxp } : {}) } : pxpOnly(report, relocate(host), files, pxp!)
  fs.writeFileSync(path.join(dir, 'device.json'), `${JSON.stringify(spec, null, 2)}\n`)
  return spec
}

function pxpOnly(report: Report, address: string, files: Record<string, string>, pxp: PxpSpec): SpecFile<PxpOnlySpec> {
  return {
    name: `a NAT-PMP/PCP router (no UPnP gateway in the report) at ${address}`,
    replay: 'report',
    files,
    captured: `A doctor --protocol ${report.invocation.protocol} run (verdict ${report.doctor.verdict.code}): the NAT-PMP and PCP answers as the report recorded them.`,
    pxp,
  }
}

/** The UPnP side of the report's gateway: its files written, its device.json fields. */
function upnpDevice(
  report: Report,
  classify: (address: string) => string,
  relocate: (text: string) => string,
  files: Record<string, string>,
  write: Write,
): SpecFile<DeviceSpec> {
  const gateway = reportGateway(report)
  const location = new URL(gateway.descriptionUrl)
  const pairs = httpPairs(report.exchanges, location.hostname)
  const { http, root } = writeDescriptions(pairs, location, write)
  const server = writeSearchReply(report, gateway.descriptionUrl, root, write)
  const soap = writeSoap(pairs, root, gateway.descriptionUrl, write)
  const connections = connectionStates(pairs, root, gateway.descriptionUrl, classify)
  const control = new URL(relocate(gateway.controlUrl))
  return {
    name: element(root.replyBody, 'friendlyName') || 'device from a report',
    vendor: element(root.replyBody, 'manufacturer'),
    model: element(root.replyBody, 'modelName'),
    firmware: server,
    replay: 'report',
    shape: shapeOf(server),
    location: relocate(gateway.descriptionUrl),
    files,
    http,
    captured: `A doctor run (verdict ${report.doctor.verdict.code}): the search reply, the descriptions and the SOAP replies as the report recorded them.`,
    modelled: 'The mapping table and replies to actions the run did not make, in the shape of the device family.',
    expect: {
      serviceType: gateway.serviceType,
      controlPath: control.pathname + control.search,
      ...(control.port ? { controlPort: Number(control.port) } : {}),
      source: "the report's doctor (its gateway's connection service)",
    },
    ...(connections ? { connections } : {}),
    ...soap,
  }
}
