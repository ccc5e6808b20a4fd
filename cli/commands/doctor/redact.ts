/**
 * `doctor --report` redaction: what identifies a user or their devices is replaced by a stable
 * placeholder (the same value gets the same placeholder everywhere in the file), so that the
 * report keeps the router's structure and quirks, replays as the same device, and gives the
 * same verdicts:
 * - public IP addresses: 11.0.0.1, 11.0.0.2, ... and 3fff::1, ... (still public addresses to the
 *   library's classifier, so double-NAT verdicts stay what they were; private, CGNAT and
 *   link-local addresses are kept: they say how the network is built and name nobody);
 * - MAC addresses (02:00:00:00:00:01, ...), UUIDs and UDNs (00000000-0000-4000-8000-000000000001,
 *   ...), serial numbers, everything in `<serialNumber>`, `<UDN>`, `<presentationURL>` and
 *   elements naming an SSID (Wi-Fi names);
 * - device names that look personal: a possessive ("Anna's iPad"), an e-mail address, or this
 *   machine's host or user name.
 * Addresses inside NAT-PMP/PCP datagrams (hex) are replaced by the same placeholders.
 */
import net from 'node:net'
import os from 'node:os'

export type RedactionKind =
  'public-address' | 'mac-address' | 'uuid' | 'udn' | 'serial-number' | 'presentation-url' | 'wifi-name' | 'device-name'

/** What each kind becomes: the placeholder of the n-th value of that kind. */
const PLACEHOLDER: Record<RedactionKind, (n: number) => string> = {
  'public-address': (n) => `11.0.${Math.floor((n - 1) / 250)}.${((n - 1) % 250) + 1}`,
  'mac-address': (n) => `02:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
  uuid: (n) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`,
  udn: (n) => `redacted-udn-${n}`,
  'serial-number': (n) => `REDACTED-SERIAL-${n}`,
  'presentation-url': (n) => `http://redacted-presentation-url-${n}/`,
  'wifi-name': (n) => `redacted-wifi-name-${n}`,
  'device-name': (n) => `redacted-device-name-${n}`,
}
/** A public IPv6 address's placeholder (3fff::/20, documentation space the classifier sees as public). */
const ipv6Placeholder = (n: number): string => `3fff::${n.toString(16)}`

/** How each kind is described at the top of a redacted report. */
export const REDACTION_NOTE: Record<RedactionKind, string> = {
  'public-address': 'public IP addresses: 11.0.x.y (IPv4) and 3fff::x (IPv6), still public so the verdicts do not change',
  'mac-address': 'MAC addresses: 02:00:00:00:xx:xx',
  uuid: 'UUIDs (UDNs, USNs): 00000000-0000-4000-8000-00000000000n',
  udn: 'UDNs that are not UUIDs: redacted-udn-n',
  'serial-number': 'serial numbers: REDACTED-SERIAL-n',
  'presentation-url': 'presentationURL: http://redacted-presentation-url-n/',
  'wifi-name': 'Wi-Fi names (SSIDs): redacted-wifi-name-n',
  'device-name': "device names that look personal (a possessive, an e-mail address, this machine's name): redacted-device-name-n",
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
const IS_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAC = /\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b/gi
const IPV4 = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)/g
const IPV6 = /(?<![0-9a-z:.])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![0-9a-z:])/gi
const USN_UUID = /\buuid:([^\s:<>"&]+)/gi
const ELEMENT = /<((?:[\w-]+:)?(?:UDN|serialNumber|presentationURL|friendlyName|\w*SSID\w*))>([^<]*)<\/\1>/gi
/** A serial or Wi-Fi name is replaced everywhere only when it is distinctive; a short or
 *  repetitive one ("00000000") only inside its element (elsewhere the same characters may be
 *  anything: a UPC, a port, a datagram). */
const distinctive = (value: string): boolean => value.length >= 6 && new Set(value).size >= 3
const HEX = /^(?:[0-9a-f]{2})+$/i

/** Every string in a JSON value, in document order. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (Array.isArray(value)) for (const v of value) strings(v, out)
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out)
  return out
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value)
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]))
  return value
}

/** A device name that names a person or this machine. */
export function looksPersonal(name: string): boolean {
  if (/\p{L}['’]s\b/u.test(name) || /\S+@\S+\.\S+/.test(name)) return true
  const generic = new Set(['root', 'user', 'admin', 'localhost', 'debian', 'ubuntu', 'router'])
  const own = [os.hostname(), safeUser()].filter((n) => n.length >= 3 && !generic.has(n.toLowerCase()))
  return own.some((n) => name.toLowerCase().includes(n.toLowerCase()))
}

function safeUser(): string {
  try {
    return os.userInfo().username
  } catch {
    return ''
  }
}

/** IPv4 and IPv6 addresses carried in NAT-PMP/PCP datagrams (hex), for the classifier. */
function pxpAddresses(hex: string): string[] {
  const b = Buffer.from(hex, 'hex')
  const found: string[] = []
  // NAT-PMP external address answer (version 0, opcode 128): the address at bytes 8..12.
  if (b[0] === 0 && b[1] === 128 && b.length >= 12) found.push([...b.subarray(8, 12)].join('.'))
  // PCP MAP (version 2, opcode 1): the suggested/assigned external address at bytes 44..60.
  if (b[0] === 2 && (b[1]! & 0x7f) === 1 && b.length >= 60) found.push(fromField(b.subarray(44, 60)))
  return found
}

function fromField(field: Buffer): string {
  const mapped = field.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))
  if (mapped) return [...field.subarray(12)].join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(field.readUInt16BE(i).toString(16))
  return groups.join(':')
}

function addressHex(address: string): string {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number)).toString('hex')
  const full = new URL(`http://[${address}]`).hostname.slice(1, -1)
  const [head = '', tail = ''] = full.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = full.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h
  return groups.map((g) => g.padStart(4, '0')).join('')
}

/** What was replaced, by kind (counts of distinct values). */
export type Replaced = Record<RedactionKind, number>

/**
 * `document` with every identifying value replaced (see the file's comment), and what was
 * replaced. `classify` is the library's `classifyAddress`.
 */
export function redact<T>(document: T, classify: (address: string) => string): { document: T; replaced: Replaced } {
  const all = strings(document)
  const global = new Map<string, string>() // exact value -> placeholder, replaced everywhere
  const inElement = new Map<string, string>() // element-only: "<tag>\u0000value" -> placeholder
  const addresses = new Map<string, string>() // canonical address -> placeholder
  const counts: Replaced = {
    'public-address': 0,
    'mac-address': 0,
    uuid: 0,
    udn: 0,
    'serial-number': 0,
    'presentation-url': 0,
    'wifi-name': 0,
    'device-name': 0,
  }
  let ipv6Count = 0
  const take = (kind: RedactionKind, value: string, map = global, key = value): void => {
    if (!value || map.has(key)) return
    map.set(key, PLACEHOLDER[kind](++counts[kind]))
  }
  const address = (text: string): void => {
    const canonical = net.isIPv6(text) ? new URL(`http://[${text}]`).hostname.slice(1, -1) : text
    if (addresses.has(canonical) || classify(canonical) !== 'public') return
    if (net.isIPv6(canonical)) {
      addresses.set(canonical, ipv6Placeholder(++ipv6Count))
      counts['public-address']++
    } else addresses.set(canonical, PLACEHOLDER['public-address'](++counts['public-address'] - ipv6Count))
  }
  for (const s of all) {
    for (const [, tag = '', value = ''] of s.matchAll(ELEMENT)) {
      const name = tag.replace(/^[\w-]+:/, '').toLowerCase()
      const v = value.trim()
      if (name === 'udn') {
        const id = v.replace(/^uuid:/i, '')
        if (IS_UUID.test(id)) take('uuid', id.toLowerCase())
        else take('udn', id)
      } else if (name === 'serialnumber') {
        if (distinctive(v)) take('serial-number', v)
        else take('serial-number', v, inElement, `${name}\u0000${v}`)
      } else if (name === 'presentationurl') take('presentation-url', v, inElement, `${name}\u0000${v}`)
      else if (name === 'friendlyname') {
        if (looksPersonal(v)) take('device-name', v)
      } else if (distinctive(v)) take('wifi-name', v)
      else take('wifi-name', v, inElement, `${name}\u0000${v}`)
    }
    for (const [, id = ''] of s.matchAll(USN_UUID)) if (!IS_UUID.test(id)) take('udn', id)
    for (const [m] of s.matchAll(UUID)) take('uuid', m.toLowerCase())
    for (const [m] of s.matchAll(MAC)) take('mac-address', m.toLowerCase())
    for (const [m] of s.matchAll(IPV4)) if (net.isIPv4(m)) address(m)
    for (const [m] of s.matchAll(IPV6)) if (net.isIPv6(m)) address(m)
  }
  // Addresses NAT-PMP/PCP carried in binary, and device names given as fields.
  walkFields(document, (key, value) => {
    if (key === 'body' && HEX.test(value)) for (const a of pxpAddresses(value)) address(a)
    if (key === 'friendlyName' && looksPersonal(value)) take('device-name', value)
  })
  const hexes = [...addresses].map(([a, p]) => [addressHex(a), addressHex(p)] as const)
  // UUIDs and MAC addresses are matched by their patterns (any letter case); the rest as written.
  const IS_MAC = /^(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i
  const byLength = [...global].filter(([k]) => !IS_UUID.test(k) && !IS_MAC.test(k)).sort((a, b) => b[0].length - a[0].length)
  const replace = (s: string): string => {
    // A datagram in hex (NAT-PMP, PCP): only the addresses it carries.
    if (HEX.test(s)) return hexes.reduce((out, [from, to]) => out.split(from).join(to), s)
    let out = s.replace(ELEMENT, (whole, tag: string, value: string) => {
      const key = `${tag.replace(/^[\w-]+:/, '').toLowerCase()}\u0000${value.trim()}`
      const p = inElement.get(key)
      return p === undefined ? whole : `<${tag}>${p}</${tag}>`
    })
    // Whole values first (a name may hold a MAC address), then the patterns.
    for (const [value, p] of byLength) out = out.split(value).join(p)
    out = out.replace(UUID, (m) => global.get(m.toLowerCase()) ?? m)
    out = out.replace(MAC, (m) => global.get(m.toLowerCase()) ?? m)
    out = out.replace(IPV4, (m) => addresses.get(m) ?? m)
    return out.replace(IPV6, (m) => (net.isIPv6(m) ? (addresses.get(new URL(`http://[${m}]`).hostname.slice(1, -1)) ?? m) : m))
  }
  return { document: mapStrings(document, replace) as T, replaced: counts }
}

function walkFields(value: unknown, visit: (key: string, value: string) => void): void {
  if (Array.isArray(value)) for (const v of value) walkFields(v, visit)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') visit(k, v)
      else walkFields(v, visit)
    }
  }
}
