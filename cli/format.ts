/** How devices, durations, tables and NAT findings read on a terminal. */
import { IGDStatus } from '../lib/errors.ts'
import type { UPNPDevice } from '../lib/godot/device.ts'
import type { Library } from './command.ts'
import type { Style } from './output.ts'
import { shown } from './terminal.ts'

/** "none": public external address; "double-nat": private address upstream; "cgnat": 100.64/10; "unknown". */
export type NatKind = 'none' | 'double-nat' | 'cgnat' | 'unknown'

/** The NAT above the router, judged from its external address (the library's ranges). */
export function natKind(lib: Library, address: string): NatKind {
  if (!address) return 'unknown'
  const kind = lib.classifyAddress(address)
  return kind === 'public' ? 'none' : kind === 'cgnat' ? 'cgnat' : kind === 'private' ? 'double-nat' : 'unknown'
}

export function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '')
  } catch {
    return url
  }
}

/** "IGD:2", "IGD:1", "IGD:1 PPP", "TR-064 PPP": from the connection service the device
 *  describes (the search reply's type only says which search it answered, and routers answer
 *  the lower versions too). */
export function igdVersion(device: UPNPDevice): string {
  const svc = /^urn:([^:]+):service:WAN(IP|PPP)Connection:(\d+)/.exec(device.igdServiceType)
  const ppp = svc?.[2] === 'PPP' ? ' PPP' : ''
  if (svc?.[1] === 'dslforum-org') return `TR-064${ppp}`
  if (svc) return `IGD:${svc[3]}${ppp}`
  const m = /:device:InternetGatewayDevice:(\d+)/.exec(device.serviceType)
  return m ? `IGD:${m[1]}` : 'device'
}

/** Maker, model and name as the device describes itself (all its own words, so shown()). */
export function modelText(device: UPNPDevice): string {
  const maker = shown(device.manufacturer.trim(), 64)
  const model = shown(device.modelName.trim(), 64)
  let text = model && maker && !model.toLowerCase().startsWith(maker.toLowerCase()) ? `${maker} ${model}` : model || maker
  const friendly = shown(device.friendlyName.trim(), 64)
  if (friendly && friendly !== model) text = text ? `${text} "${friendly}"` : `"${friendly}"`
  return text || shown(device.server, 80) || 'unknown model'
}

export const STATUS_TEXT: Record<string, string> = {
  OK: 'connected',
  HTTP_ERROR: 'description unreachable',
  HTTP_EMPTY: 'empty description',
  NO_URLS: 'no control URL',
  NO_IGD: 'not a device description',
  DISCONNECTED: 'not connected',
  UNKNOWN_DEVICE: 'not an Internet gateway',
  INVALID_CONTROL: 'control service fails',
  MALLOC_ERROR: 'out of memory',
  UNKNOWN_ERROR: 'did not finish answering in time',
}

export function statusName(device: UPNPDevice): string {
  return igdStatusName(device.igdStatus)
}

export function igdStatusName(status: IGDStatus): string {
  return IGDStatus[status] ?? String(status)
}

export function natSentence(kind: NatKind, address: string): string {
  switch (kind) {
    case 'none':
      return `no (${address} is a public address)`
    case 'cgnat':
      return `yes, carrier-grade NAT: ${address} is in 100.64.0.0/10, the range ISPs share between customers`
    case 'double-nat':
      return `yes: ${address} is a private address, so another NAT sits between this router and the Internet`
    default:
      return 'unknown (the gateway reported no external address)'
  }
}

export function natFix(kind: NatKind): string {
  return kind === 'cgnat'
    ? 'Your ISP shares one public address between customers, so no device at home can open a port. Ask the ISP for a public IPv4 address (often an option or a small fee), or reach this machine over IPv6.'
    : "Ports mapped here only reach the next router up. Put the upstream modem/router in bridge mode, or forward the same port on it to this router as well (or enable UPnP there). If the upstream NAT is your ISP's, ask for a public IPv4 address."
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/** NAT-PMP/PCP epoch: seconds since the router's service (re)started. */
export function serverUp(epoch: number): string {
  return epoch < 1 ? 'server just started' : `server up ${duration(epoch)}`
}

export function duration(secondsLeft: number): string {
  if (secondsLeft <= 0) return 'permanent'
  const units: Array<[number, string]> = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ]
  const parts: string[] = []
  let left = secondsLeft
  for (const [size, unit] of units) {
    if (left >= size && parts.length < 2) {
      parts.push(`${Math.floor(left / size)} ${unit}`)
      left %= size
    } else if (parts.length) break
  }
  return parts.join(' ')
}

export function table(rows: string[][], style: Style, header = true): string[] {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return rows.map((row, r) => {
    const text = row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
    return header && r === 0 ? style.bold(text) : text
  })
}

export function arrow(style: Style): string {
  return style.dim('→')
}

/** "14:03:27": the local time, for the lines `map --keep` prints as things happen. */
export function clock(): string {
  return new Date().toTimeString().slice(0, 8)
}
