#!/usr/bin/env node
/**
 * `upnp-native` on the command line: status, map, unmap, list, ip and doctor.
 *
 * Built on the package's public API only (`UPNP`, `UPNPDevice`, `PortMapper`, `probe` from index.ts).
 * Arguments go through `node:util` parseArgs. Output is for people on a terminal (colours,
 * a spinner with elapsed time while searching), plain text when piped, and a stable JSON
 * document with `--json` (schema in README.md, "Command line"). Exit codes:
 *   0 success, 1 the operation failed (the router said no, or did not answer a request),
 *   2 usage error, 3 no (usable) gateway, 130 interrupted by Ctrl-C before the work was done.
 * Every failure is one message that says what happened and what to do: never a stack trace.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Mapping, PortMapper, PortMappingEntry, ProbeReport, Protocol, ProtocolReport, UPNP, UPNPDevice, UPNPErrorInfo, Via } from './index.ts'

type Lib = typeof import('./index.ts')
/** The library, loaded in main() so that a missing native binary becomes a message, not a trace. */
let lib: Lib

// ---------------------------------------------------------------------------- exit codes

const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NO_GATEWAY: 3, INTERRUPTED: 130 } as const
type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Version of the `--json` documents; bumped only for an incompatible change. */
const JSON_SCHEMA = 1

/** A failure the CLI explains: what happened (`message`), what to do (`fix`), the exit code. */
class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    /** Stable identifier for scripts (`error.code` in JSON). */
    readonly code: string,
    message: string,
    readonly fix?: string,
    readonly failure?: JsonFailure,
  ) {
    super(message)
  }
}

/** A usage error; without `fix`, main() points to the command's --help. */
function usage(message: string, fix?: string): CliError {
  return new CliError(EXIT.USAGE, 'USAGE', message, fix)
}

// ---------------------------------------------------------------------------- arguments

const COMMANDS = ['status', 'map', 'unmap', 'list', 'ip', 'doctor'] as const
type Command = (typeof COMMANDS)[number]

const OPTIONS = {
  // global
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  interface: { type: 'string' },
  gateway: { type: 'string' },
  ipv6: { type: 'boolean' },
  protocol: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  // per command
  internal: { type: 'string' },
  udp: { type: 'boolean' },
  tcp: { type: 'boolean' },
  both: { type: 'boolean' },
  lease: { type: 'string' },
  description: { type: 'string' },
  keep: { type: 'boolean' },
  port: { type: 'string' },
} as const
type OptionName = keyof typeof OPTIONS

const GLOBAL_OPTIONS: OptionName[] = ['json', 'timeout', 'interface', 'gateway', 'ipv6', 'protocol', 'quiet', 'no-color', 'help', 'version']
const COMMAND_OPTIONS: Record<Command, OptionName[]> = {
  status: [],
  map: ['internal', 'udp', 'tcp', 'both', 'lease', 'description', 'keep'],
  unmap: ['udp', 'tcp', 'both'],
  list: [],
  ip: [],
  doctor: ['port', 'udp', 'tcp'],
}

/** --protocol: `auto` is UPnP for mappings (see README) and every protocol for status/doctor. */
type ProtocolChoice = Via | 'auto'

const VIA_NAME: Record<Via, string> = { upnp: 'UPnP', natpmp: 'NAT-PMP', pcp: 'PCP' }

interface Globals {
  protocol: ProtocolChoice
  json: boolean
  quiet: boolean
  noColor: boolean
  /** Discovery window, ms. */
  timeoutMs: number
  iface: string
  gateway: string
  ipv6: boolean
}

const DEFAULT_TIMEOUT_MS = 2000
const DEFAULT_DESCRIPTION = 'upnp-native'
/** Lease of a `map --keep` mapping when none is given: renewed at half, gone an hour after a crash. */
const KEEP_DEFAULT_LEASE = 3600

interface Parsed {
  command: Command
  positionals: string[]
  values: Partial<Record<OptionName, string | boolean>>
  globals: Globals
}

type ParseOutcome = { kind: 'run'; parsed: Parsed } | { kind: 'help'; command: Command | null } | { kind: 'version' }

/** The command line read leniently (unknown options tolerated), so that even a usage error
 *  can answer in JSON and name its command. */
function lenient(argv: string[]): { json: boolean; noColor: boolean; command: Command | null } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true })
    const first = positionals[0]
    const command = first === undefined ? 'status' : (COMMANDS as readonly string[]).includes(first) ? first as Command : null
    return { json: values.json === true, noColor: values['no-color'] === true, command }
  } catch {
    return { json: false, noColor: false, command: null }
  }
}

function closest(word: string, choices: readonly string[]): string | null {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i)
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!
      row[0] = i
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
        previous = current
      }
    }
    return row[b.length]!
  }
  let best: string | null = null
  let bestDistance = Infinity
  for (const choice of choices) {
    const d = choice.startsWith(word) ? 0 : distance(word, choice)
    if (d < bestDistance) {
      best = choice
      bestDistance = d
    }
  }
  return bestDistance <= 2 ? best : null
}

function parseCommandLine(argv: string[]): ParseOutcome {
  let result
  try {
    result = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    const e = error as Error & { code?: string }
    const named = /'([^']+)'/.exec(e.message)?.[1] ?? ''
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = named.split('=')[0] ?? named
      const guess = option.startsWith('--') ? closest(option.slice(2), Object.keys(OPTIONS)) : null
      throw usage(`unknown option ${option}`, guess ? `Did you mean --${guess}? See \`upnp-native --help\`.` : undefined)
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const option = named.replace(/ <value>$/, '').split(',').pop()?.trim() ?? named
      const opt = option.replace(/^-+/, '') as OptionName
      if (OPTIONS[opt]?.type === 'boolean') throw usage(`option --${opt} takes no value`)
      throw usage(`option --${opt} needs a value`)
    }
    throw usage(e.message)
  }
  const values = result.values as Partial<Record<OptionName, string | boolean>>
  const [first, ...rest] = result.positionals
  let command: Command = 'status'
  let positionals = rest
  if (first === 'help') {
    const topic = rest[0]
    if (topic === undefined) return { kind: 'help', command: null }
    if (!(COMMANDS as readonly string[]).includes(topic)) throw unknownCommand(topic)
    return { kind: 'help', command: topic as Command }
  }
  if (first !== undefined) {
    if (!(COMMANDS as readonly string[]).includes(first)) throw unknownCommand(first)
    command = first as Command
  } else {
    positionals = []
  }
  if (values.version) return { kind: 'version' }
  if (values.help) return { kind: 'help', command: first === undefined ? null : command }

  const allowed = new Set<OptionName>([...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[command]])
  for (const name of Object.keys(values) as OptionName[]) {
    if (!allowed.has(name)) {
      const owners = COMMANDS.filter((c) => COMMAND_OPTIONS[c].includes(name))
      throw usage(`--${name} is not an option of \`${command}\``,
        owners.length ? `--${name} belongs to ${owners.map((c) => `\`${c}\``).join(' and ')}; see \`upnp-native ${command} --help\`.` : undefined)
    }
  }
  return { kind: 'run', parsed: { command, positionals, values, globals: parseGlobals(values) } }
}

function unknownCommand(word: string): CliError {
  const guess = closest(word, COMMANDS)
  return usage(`unknown command "${word}"`,
    `${guess ? `Did you mean \`upnp-native ${guess}\`? ` : ''}Commands: ${COMMANDS.join(', ')} (see \`upnp-native --help\`).`)
}

function parseGlobals(values: Partial<Record<OptionName, string | boolean>>): Globals {
  const protocol = typeof values.protocol === 'string' ? values.protocol : 'auto'
  if (!['upnp', 'pmp', 'pcp', 'auto'].includes(protocol)) {
    throw usage(`--protocol must be upnp, pmp, pcp or auto, not "${protocol}"`)
  }
  const via: ProtocolChoice = protocol === 'pmp' ? 'natpmp' : protocol as ProtocolChoice
  if ((via === 'natpmp' || via === 'pcp') && values.ipv6) {
    throw usage(`--ipv6 works with UPnP only; ${VIA_NAME[via]} goes to the IPv4 default gateway`, 'Leave out --ipv6, or use --protocol upnp.')
  }
  const iface = typeof values.interface === 'string' ? values.interface : ''
  if (values.interface !== undefined) checkInterface(iface)
  return {
    protocol: via,
    json: values.json === true,
    quiet: values.quiet === true,
    noColor: values['no-color'] === true,
    timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTime(String(values.timeout)),
    iface,
    gateway: typeof values.gateway === 'string' ? values.gateway.trim() : '',
    ipv6: values.ipv6 === true,
  }
}

/** `--timeout`: seconds (`2`, `1.5`, `2s`) or milliseconds (`800ms`), 0.1 s .. 10 min. */
function parseTime(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim())
  const ms = m ? Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)) : NaN
  if (!(ms >= 100 && ms <= 600_000)) {
    throw usage(`--timeout "${text}" is not a time between 0.1s and 600s`, 'Examples: --timeout 5, --timeout 1.5s, --timeout 800ms.')
  }
  return ms
}

/** `--lease`: whole seconds, or with a unit: `90`, `90s`, `30m`, `2h`, `7d`; 0 = permanent. */
function parseLease(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim())
  const factor = { s: 1, m: 60, h: 3600, d: 86400 }[(m?.[2] ?? 's') as 's' | 'm' | 'h' | 'd']
  const seconds = m ? Number(m[1]) * factor : NaN
  if (!(seconds >= 0 && seconds <= 0xffff_ffff)) {
    throw usage(`--lease "${text}" is not a duration`, 'Examples: --lease 3600, --lease 30m, --lease 2h, --lease 0 (permanent).')
  }
  return seconds
}

function parsePort(text: string | undefined, what: string): number {
  if (text === undefined) throw usage(`${what} is missing`)
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw usage(`${what} "${text}" is not a port number (1-65535)`)
  }
  return Number(text)
}

function parseProtocols(values: Parsed['values']): Protocol[] {
  const chosen = (['udp', 'tcp', 'both'] as const).filter((p) => values[p] === true)
  if (chosen.length > 1) throw usage(`choose one of --udp, --tcp and --both, not ${chosen.map((c) => `--${c}`).join(' and ')}`)
  if (values.both) return ['UDP', 'TCP']
  return values.tcp ? ['TCP'] : ['UDP']
}

function onePositional(parsed: Parsed, what: string): string | undefined {
  if (parsed.positionals.length > 1) {
    throw usage(`\`${parsed.command}\` takes one ${what}, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`)
  }
  return parsed.positionals[0]
}

function localInterfaces(): Array<{ name: string; address: string; family: string; internal: boolean }> {
  return Object.entries(os.networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).map((a) => ({ name, address: a.address, family: a.family, internal: a.internal })))
}

function describeInterfaces(): string {
  const external = localInterfaces().filter((i) => !i.internal && i.family === 'IPv4')
  return external.length ? external.map((i) => `${i.name} ${i.address}`).join(', ') : 'none with an IPv4 address'
}

/** `--interface` must name an interface of this machine or one of its addresses. */
function checkInterface(value: string): void {
  const all = localInterfaces()
  const ok = value !== '' && all.some((i) => i.name === value || i.address === value || (net.isIP(value) && i.address === value))
  if (!ok) {
    throw usage(`--interface "${value}" is not a network interface of this machine`,
      `Give a name or an address of one of: ${describeInterfaces()}.`)
  }
}

// ---------------------------------------------------------------------------- output

interface Style {
  enabled: boolean
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  cyan(s: string): string
}

function styleFor(stream: NodeJS.WriteStream, noColor: boolean): Style {
  const env = process.env
  let enabled: boolean
  if (noColor || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) enabled = false
  else if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') enabled = env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  else enabled = Boolean(stream.isTTY) && env.TERM !== 'dumb'
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s)
  return { enabled, bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) }
}

/** Braille spinner with elapsed time, on stderr, only on a terminal (never with --json or --quiet). */
class Spinner {
  static readonly FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  #timer: NodeJS.Timeout | null = null
  #frame = 0
  #text = ''
  #started = 0

  constructor(private readonly stream: NodeJS.WriteStream, private readonly enabled: boolean, private readonly style: Style) {}

  start(text: string): void {
    if (!this.enabled) return
    this.#text = text
    if (this.#timer) return
    this.#started = performance.now()
    this.stream.write('\x1b[?25l') // hide the cursor while the line animates
    this.#render()
    this.#timer = setInterval(() => this.#render(), 80)
  }

  #render(): void {
    const frame = Spinner.FRAMES[this.#frame++ % Spinner.FRAMES.length] ?? ''
    const elapsed = ((performance.now() - this.#started) / 1000).toFixed(1)
    this.stream.write(`\r\x1b[2K${this.style.cyan(frame)} ${this.#text} ${this.style.dim(`${elapsed}s`)}`)
  }

  /** Clears the line so that other output can be written; `resume()` brings it back. */
  clear(): void {
    if (this.#timer) this.stream.write('\r\x1b[2K')
  }

  resume(): void {
    if (this.#timer) this.#render()
  }

  stop(): void {
    if (!this.#timer) return
    clearInterval(this.#timer)
    this.#timer = null
    this.stream.write('\r\x1b[2K\x1b[?25h')
  }
}

class Output {
  readonly out: Style
  readonly err: Style
  readonly spinner: Spinner

  constructor(readonly globals: Pick<Globals, 'json' | 'quiet' | 'noColor'>) {
    this.out = styleFor(process.stdout, globals.noColor)
    this.err = styleFor(process.stderr, globals.noColor)
    const spin = Boolean(process.stderr.isTTY) && !globals.json && !globals.quiet && process.env.TERM !== 'dumb'
    this.spinner = new Spinner(process.stderr, spin, this.err)
  }

  get human(): boolean {
    return !this.globals.json
  }

  /** A result line (stdout), in human mode. */
  line(text = ''): void {
    if (this.globals.json) return
    this.#write(process.stdout, `${text}\n`)
  }

  /** A line that --quiet drops (headings, notes, hints), on stdout. */
  info(text = ''): void {
    if (this.globals.quiet) return
    this.line(text)
  }

  /** A note for a person on stderr (kept off stdout, e.g. beside `ip`'s bare address). */
  note(text: string): void {
    if (this.globals.json || this.globals.quiet) return
    this.#write(process.stderr, `${text}\n`)
  }

  json(document: object, compact = false): void {
    if (!this.globals.json) return
    this.#write(process.stdout, `${JSON.stringify(document, null, compact ? undefined : 2)}\n`)
  }

  error(error: CliError, command: string | null): void {
    if (this.globals.json) {
      this.json(envelope(command, error.exitCode, { error: errorJson(error) }))
      return
    }
    const s = this.err
    let text = `${s.red(s.bold('upnp-native:'))} ${error.message}\n`
    if (error.failure?.meaning && !this.globals.quiet) text += `  ${s.bold('What it means:')} ${error.failure.meaning}\n`
    if (error.fix && !this.globals.quiet) text += `  ${s.bold('What to do:')} ${error.fix}\n`
    this.#write(process.stderr, text)
  }

  #write(stream: NodeJS.WriteStream, text: string): void {
    this.spinner.clear()
    stream.write(text)
    this.spinner.resume()
  }
}

// ---------------------------------------------------------------------------- JSON documents

interface JsonFailure {
  /** `UPNPResult` name, e.g. "NOT_AUTHORIZED". */
  result: string
  /** The router's UPnP error code, e.g. 606. */
  upnpCode?: number
  /** Which protocol the router said it in (absent = UPnP). */
  via?: Via
  /** NAT-PMP / PCP: the result code of the router's answer, e.g. 2. */
  resultCode?: number
  /** The router's own words (or what went wrong on this side). */
  description: string
  httpStatus?: number
  /** One sentence: what this means. */
  meaning: string
  /** One sentence: what to do. */
  fix: string
}

interface JsonGateway {
  protocol: 'upnp'
  /** Device type, e.g. "IGD:2". */
  version: string
  /** Host of the description URL. */
  address: string
  descriptionUrl: string
  controlUrl: string
  /** Connection service, e.g. "urn:schemas-upnp-org:service:WANIPConnection:2". */
  serviceType: string
  friendlyName: string
  manufacturer: string
  modelName: string
  server: string
  /** `IGDStatus` name: "OK", "DISCONNECTED", ... */
  status: string
  /** Usable for mappings (status OK). */
  usable: boolean
  /** This machine's address as the gateway sees it (mappings point here). */
  localAddress: string
  /** External address reported at discovery ("" if unknown). */
  externalAddress: string
  nat: NatKind
  /** The gateway this command uses. */
  selected: boolean
  error?: JsonFailure
}

/** "none": public external address; "double-nat": private address upstream; "cgnat": 100.64/10; "unknown". */
type NatKind = 'none' | 'double-nat' | 'cgnat' | 'unknown'

interface JsonMapping {
  /** Which protocol holds it: "upnp", "natpmp" or "pcp". */
  via: Via
  protocol: Protocol
  externalAddress: string
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  /** Seconds granted by the router (0 = permanent / unknown). */
  lease: number
  requestedLease: number
}

function envelope(command: string | null, exitCode: ExitCode, rest: object): object {
  return { schema: JSON_SCHEMA, command, ok: exitCode === EXIT.OK, exitCode, ...rest }
}

function errorJson(error: CliError): object {
  return {
    code: error.code,
    message: error.message,
    ...(error.fix ? { fix: error.fix } : {}),
    ...(error.failure ? { failure: error.failure } : {}),
  }
}

// ---------------------------------------------------------------------------- what routers say

interface Explained {
  meaning: string
  fix: string
}

/** The UPnP error codes of WANIPConnection (IGD:1/2), each with what it means and what to do. */
const UPNP_CODES: Record<number, { name: string } & Explained> = {
  401: { name: 'Invalid Action', meaning: 'the router does not offer this action: its UPnP service is incomplete or of another version.', fix: 'Update the router\'s firmware, or forward the port by hand in the router\'s settings.' },
  402: { name: 'Invalid Args', meaning: 'the router rejected the request\'s arguments; many routers accept only permanent mappings (lease 0).', fix: 'Try again with --lease 0.' },
  403: { name: 'Not Authorized', meaning: 'the router does not allow this change from this device.', fix: 'Allow UPnP changes in the router\'s settings, or forward the port by hand.' },
  501: { name: 'Action Failed', meaning: 'the router accepted the request but could not carry it out (often a full or busy firewall table).', fix: 'Try again in a moment; restart the router if it keeps failing.' },
  606: { name: 'Action not authorized', meaning: 'the router\'s UPnP policy does not allow this: routers commonly refuse ports below 1024 (outside or inside), changes to another device\'s mappings, or every change when UPnP is set to read-only.', fix: 'Use an external port of 1024 or above (--internal keeps your program\'s own port), or allow the port in the router\'s UPnP settings.' },
  713: { name: 'SpecifiedArrayIndexInvalid', meaning: 'the router\'s mapping table has no entry at that position.', fix: 'Nothing to do: it is how a router says the table has ended.' },
  714: { name: 'NoSuchEntryInArray', meaning: 'the router has no such mapping.', fix: 'See the router\'s mappings with `upnp-native list`.' },
  715: { name: 'WildCardNotPermittedInSrcIP', meaning: 'the router does not accept a mapping open to every remote host.', fix: 'This router cannot open a port for everyone through UPnP; forward it by hand in its settings.' },
  716: { name: 'WildCardNotPermittedInExtPort', meaning: 'the router needs a specific external port.', fix: 'Give the external port explicitly.' },
  718: { name: 'ConflictInMappingEntry', meaning: 'the external port is already forwarded to another device (or to another port).', fix: 'Pick another external port, or delete the other mapping first (`upnp-native list` shows who holds it).' },
  724: { name: 'SamePortValuesRequired', meaning: 'this router can forward an external port only to the same internal port.', fix: 'Use the same port inside and outside (leave out --internal).' },
  725: { name: 'OnlyPermanentLeasesSupported', meaning: 'this router accepts only permanent mappings.', fix: 'Use --lease 0.' },
  726: { name: 'RemoteHostOnlySupportsWildcard', meaning: 'the router can open a port only to every remote host, not to one.', fix: 'Leave the remote host empty (this tool always does; the router misbehaves).' },
  727: { name: 'ExternalPortOnlySupportsWildcard', meaning: 'the router chooses external ports itself and refuses a fixed one.', fix: 'Use a program that asks for any port (AddAnyPortMapping), or forward the port by hand.' },
  728: { name: 'NoPortMapsAvailable', meaning: 'the router\'s mapping table is full.', fix: 'Delete mappings nobody needs any more (`upnp-native list`, then `upnp-native unmap`), or restart the router.' },
  729: { name: 'ConflictWithOtherMechanisms', meaning: 'the port is already taken by something else on the router: a manual forward, one of its own services, or NAT-PMP/PCP.', fix: 'Pick another external port.' },
  730: { name: 'PortMappingNotFound', meaning: 'the router found no mapping in the given range.', fix: 'See the router\'s mappings with `upnp-native list`.' },
  731: { name: 'ReadOnly', meaning: 'the router\'s UPnP is read-only: it shows mappings but accepts no change.', fix: 'Allow UPnP changes in the router\'s settings, or forward the port by hand.' },
  732: { name: 'WildCardNotPermittedInIntPort', meaning: 'the router needs a specific internal port.', fix: 'Give the internal port with --internal.' },
  733: { name: 'InconsistentParameters', meaning: 'the request\'s values contradict each other, for instance an internal address that is not this device\'s.', fix: 'Run the command on the device that should receive the traffic.' },
}

/** NAT-PMP result codes (RFC 6886 3.5). */
const NATPMP_CODES: Record<number, { name: string } & Explained> = {
  1: { name: 'Unsupported Version', meaning: 'the router speaks another version of NAT-PMP.', fix: 'Use --protocol pcp or --protocol upnp.' },
  2: { name: 'Not Authorized/Refused', meaning: 'the router refuses this mapping: NAT-PMP may be switched off, or the port (below 1024?) or this device is not allowed.', fix: 'Use a port of 1024 or above, allow NAT-PMP in the router\'s settings, or try --protocol upnp.' },
  3: { name: 'Network Failure', meaning: 'the router has no working Internet connection (no external address).', fix: 'Check the router\'s Internet (WAN) connection.' },
  4: { name: 'Out of resources', meaning: 'the router cannot make any more mappings.', fix: 'Stop programs that hold mappings you do not need, or restart the router.' },
  5: { name: 'Unsupported opcode', meaning: 'the router does not support this request.', fix: 'Try --protocol upnp.' },
}

/** PCP result codes (RFC 6887 7.4). */
const PCP_CODES: Record<number, { name: string } & Explained> = {
  1: { name: 'UNSUPP_VERSION', meaning: 'the router speaks another version of PCP.', fix: 'Use --protocol pmp or --protocol upnp.' },
  2: { name: 'NOT_AUTHORIZED', meaning: 'the router\'s policy refuses this mapping (for instance a port below 1024, or PCP mappings are not allowed for this device).', fix: 'Use a port of 1024 or above, allow it in the router\'s settings, or try --protocol upnp.' },
  3: { name: 'MALFORMED_REQUEST', meaning: 'the router could not read the request.', fix: 'Try --protocol pmp or --protocol upnp, and update the router\'s firmware.' },
  4: { name: 'UNSUPP_OPCODE', meaning: 'the router does not support this request.', fix: 'Try --protocol pmp or --protocol upnp.' },
  5: { name: 'UNSUPP_OPTION', meaning: 'the router does not support an option the request needs.', fix: 'Try --protocol pmp or --protocol upnp.' },
  6: { name: 'MALFORMED_OPTION', meaning: 'the router could not read an option of the request.', fix: 'Try --protocol pmp or --protocol upnp.' },
  7: { name: 'NETWORK_FAILURE', meaning: 'the router has no working Internet connection right now.', fix: 'Check the router\'s Internet (WAN) connection, then try again.' },
  8: { name: 'NO_RESOURCES', meaning: 'the router has no room for this mapping now.', fix: 'Stop programs that hold mappings you do not need, or restart the router.' },
  9: { name: 'UNSUPP_PROTOCOL', meaning: 'the router cannot map this transport protocol.', fix: 'Try the other of --udp/--tcp, or --protocol upnp.' },
  10: { name: 'USER_EX_QUOTA', meaning: 'this device already holds as many mappings as the router allows.', fix: 'Close mappings this device no longer needs.' },
  11: { name: 'CANNOT_PROVIDE_EXTERNAL', meaning: 'the router cannot give the external port asked for.', fix: 'Ask for another port.' },
  12: { name: 'ADDRESS_MISMATCH', meaning: 'the router sees this device under another address: another NAT sits between this device and the router.', fix: 'Map on the router nearest to this device, or connect this device directly to the router.' },
  13: { name: 'EXCESSIVE_REMOTE_PEERS', meaning: 'the router cannot handle that many remote peers.', fix: 'Try again with fewer peers, or use --protocol upnp.' },
}

/** Codes the library maps to a result without keeping them when a policy (PortMapper) gave up. */
const CODE_OF_RESULT: Partial<Record<string, number>> = { CONFLICT_WITH_OTHER_MAPPING: 718, CONFLICT_WITH_OTHER_MECHANISM: 729 }

type FailureInfo = Pick<UPNPErrorInfo, 'result' | 'upnpCode' | 'description' | 'httpStatus'> & { via?: Via; resultCode?: number }

function explainFailure(info: FailureInfo): JsonFailure {
  const result = lib.UPNPResult[info.result] ?? String(info.result)
  if (info.via === 'natpmp' || info.via === 'pcp') {
    const name = VIA_NAME[info.via]
    const base = { result, via: info.via, ...(info.resultCode != null ? { resultCode: info.resultCode } : {}), description: info.description }
    const known = info.resultCode != null ? (info.via === 'pcp' ? PCP_CODES : NATPMP_CODES)[info.resultCode] : undefined
    if (known) return { ...base, meaning: known.meaning, fix: known.fix }
    if (info.resultCode != null) return { ...base, meaning: `the router answered ${name} with result ${info.resultCode}, which ${name} does not define.`, fix: 'Try --protocol upnp.' }
    const word = info.description.split(/[\s:]/)[0] ?? ''
    const meaning = word === 'REFUSED' ? `nothing answers ${name} on the router: its port 5351 is closed, so ${name} is switched off or not supported.`
      : word === 'TIMEOUT' ? `the router did not answer ${name} in time: ${name} is switched off, or something drops it.`
        : word === 'UNREACHABLE' ? 'the router cannot be reached from this machine.'
          : /^UNSUPP/.test(word) ? `the router speaks another version of ${name}.`
            : `the router did not answer ${name} (${info.description}).`
    return { ...base, meaning, fix: `Turn ${name} on in the router's settings (it often comes with UPnP), or use --protocol upnp.` }
  }
  const code = info.upnpCode ?? CODE_OF_RESULT[result]
  const base = {
    result,
    ...(code != null ? { upnpCode: code } : {}),
    description: info.description,
    ...(info.httpStatus != null ? { httpStatus: info.httpStatus } : {}),
  }
  const known = code != null ? UPNP_CODES[code] : undefined
  if (known) return { ...base, meaning: known.meaning, fix: known.fix }
  if (code != null) {
    return { ...base, meaning: `the router refused with an error code (${code}) that UPnP does not define; its words: "${info.description}".`, fix: 'Look the code up in the router\'s manual, or forward the port by hand.' }
  }
  const R = lib.UPNPResult
  switch (info.result) {
    case R.HTTP_ERROR:
      return { ...base, meaning: `the router did not answer the request${info.httpStatus ? ` (HTTP ${info.httpStatus})` : ''}: ${info.description}.`, fix: 'Try again; if it keeps failing, restart the router (some stop their UPnP service after a while).' }
    case R.INVALID_RESPONSE:
      return { ...base, meaning: 'the router answered with something that is not a UPnP reply.', fix: 'Update the router\'s firmware, or forward the port by hand.' }
    case R.INVALID_GATEWAY:
    case R.NO_GATEWAY:
      return { ...base, meaning: 'there is no usable gateway to ask.', fix: 'Run `upnp-native doctor`.' }
    case R.SOCKET_ERROR:
      return { ...base, meaning: `the search could not be sent: ${info.description}.`, fix: 'Check --interface and --ipv6 against this machine\'s network.' }
    default:
      return { ...base, meaning: `${info.description}.`, fix: 'Try again; run `upnp-native doctor` for a full check.' }
  }
}

/** A refused AddPortMapping, explained with what was asked: the generic sentence for 402 is
 *  about leases, which is wrong when the lease was already 0 or this machine is on IPv6. */
function explainMapping(info: FailureInfo, gateway: UPNPDevice, lease: number): JsonFailure {
  const failure = explainFailure(info)
  if (net.isIPv6(gateway.igdOurAddr) && failure.upnpCode !== 718 && failure.upnpCode !== 729) {
    return {
      ...failure,
      meaning: `UPnP port mappings forward the router's IPv4 address to an IPv4 address on the LAN, and over IPv6 this machine is ${gateway.igdOurAddr}, which the router cannot forward to.`,
      fix: 'Leave out --ipv6: search over IPv4 so that the mapping points at this machine\'s IPv4 address (over IPv6 there is no NAT, only the router\'s firewall).',
    }
  }
  if (failure.upnpCode === 402 && lease === 0) {
    return { ...failure, meaning: 'the router rejected the request\'s arguments.', fix: 'Try the same port inside and outside (no --internal) and a short plain --description; otherwise forward the port by hand.' }
  }
  return failure
}

/** `UPnP error 606, "Action not authorized"`, `NAT-PMP result 2, "Not Authorized/Refused"`, or the result name. */
function codeText(f: JsonFailure): string {
  if (f.upnpCode != null) return `UPnP error ${f.upnpCode}, "${UPNP_CODES[f.upnpCode]?.name ?? f.description}"`
  if (f.via && f.via !== 'upnp' && f.resultCode != null) {
    const table = f.via === 'pcp' ? PCP_CODES : NATPMP_CODES
    return `${VIA_NAME[f.via]} result ${f.resultCode}, "${table[f.resultCode]?.name ?? f.description}"`
  }
  return f.via && f.via !== 'upnp' ? `${VIA_NAME[f.via]}: ${f.description}` : f.result
}

// ---------------------------------------------------------------------------- NAT and gateways

function ipv4Number(address: string): number | null {
  if (net.isIPv4(address)) return address.split('.').reduce((n, part) => n * 256 + Number(part), 0)
  return null
}

function inRange(address: string, base: string, bits: number): boolean {
  const a = ipv4Number(address)
  const b = ipv4Number(base)
  if (a === null || b === null) return false
  const size = 2 ** (32 - bits)
  return Math.floor(a / size) === Math.floor(b / size)
}

function natKind(device: UPNPDevice | null, address: string = device?.externalAddress ?? ''): NatKind {
  if (!address) return 'unknown'
  if (inRange(address, '100.64.0.0', 10)) return 'cgnat'
  if (device?.doubleNat) return 'double-nat'
  // The library judges the address it saw at discovery; judge a fresh one the same way.
  const privateRanges: Array<[string, number]> = [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['127.0.0.0', 8], ['0.0.0.0', 8], ['198.18.0.0', 15]]
  if (privateRanges.some(([base, bits]) => inRange(address, base, bits))) return 'double-nat'
  if (net.isIPv6(address) && /^(f[cd]|fe[89ab])/i.test(address)) return 'double-nat'
  return 'none'
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '')
  } catch {
    return url
  }
}

/** "IGD:2", "IGD:1", "IGD:1 PPP": from the connection service the device describes (the search
 *  reply's type only says which search it answered, and routers answer the lower versions too). */
function igdVersion(device: UPNPDevice): string {
  const svc = /:service:WAN(IP|PPP)Connection:(\d+)/.exec(device.igdServiceType)
  if (svc) return `IGD:${svc[2]}${svc[1] === 'PPP' ? ' PPP' : ''}`
  const m = /:device:InternetGatewayDevice:(\d+)/.exec(device.serviceType)
  return m ? `IGD:${m[1]}` : 'device'
}

function modelText(device: UPNPDevice): string {
  const maker = device.manufacturer.trim()
  const model = device.modelName.trim()
  let text = model && maker && !model.toLowerCase().startsWith(maker.toLowerCase()) ? `${maker} ${model}` : model || maker
  const friendly = device.friendlyName.trim()
  if (friendly && friendly !== model) text = text ? `${text} "${friendly}"` : `"${friendly}"`
  return text || device.server || 'unknown model'
}

const STATUS_TEXT: Record<string, string> = {
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

function statusName(device: UPNPDevice): string {
  return lib.IGDStatus[device.igdStatus] ?? String(device.igdStatus)
}

function gatewayJson(device: UPNPDevice, selected: UPNPDevice | null): JsonGateway {
  return {
    protocol: 'upnp',
    version: igdVersion(device),
    address: hostOf(device.descriptionUrl),
    descriptionUrl: device.descriptionUrl,
    controlUrl: device.igdControlUrl,
    serviceType: device.igdServiceType,
    friendlyName: device.friendlyName,
    manufacturer: device.manufacturer,
    modelName: device.modelName,
    server: device.server,
    status: statusName(device),
    usable: device.isValidGateway(),
    localAddress: device.igdOurAddr,
    externalAddress: device.externalAddress,
    nat: natKind(device),
    selected: device === selected,
    ...(device.lastError && !device.isValidGateway() ? { error: explainFailure(device.lastError) } : {}),
  }
}

function natSentence(kind: NatKind, address: string): string {
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

function natFix(kind: NatKind): string {
  return kind === 'cgnat'
    ? 'Your ISP shares one public address between customers, so no device at home can open a port. Ask the ISP for a public IPv4 address (often an option or a small fee), or reach this machine over IPv6.'
    : 'Ports mapped here only reach the next router up. Put the upstream modem/router in bridge mode, or forward the same port on it to this router as well (or enable UPnP there). If the upstream NAT is your ISP\'s, ask for a public IPv4 address.'
}

// ---------------------------------------------------------------------------- discovery

interface Found {
  devices: UPNPDevice[]
  /** This machine's default route, when the system tells (Linux). */
  route: DefaultRoute | null
  /** The gateway to use (valid), or null. */
  gateway: UPNPDevice | null
  /** The device --gateway picked (valid or not), else the gateway, else the first device. */
  selected: UPNPDevice | null
  result: number
  error: UPNPErrorInfo | null
  elapsedMs: number
}

/** `--gateway`: a description URL (or just its scheme://host:port), or an address. */
function matchesGateway(device: UPNPDevice, wanted: string): boolean {
  if (!wanted) return false
  if (/^[a-z]+:\/\//i.test(wanted)) {
    if (device.descriptionUrl === wanted) return true
    try {
      return new URL(device.descriptionUrl).origin === new URL(wanted).origin && new URL(wanted).pathname === '/'
    } catch {
      return false
    }
  }
  return hostOf(device.descriptionUrl) === wanted.replace(/^\[|\]$/g, '')
}

interface DefaultRoute {
  gateway: string
  interface: string
}

/** The IPv4 default route's gateway (null where the platform does not say, or without one). */
async function defaultRoute(): Promise<DefaultRoute | null> {
  const route = await lib.defaultGateway()
  return route?.gateway ? { gateway: route.gateway, interface: route.interface } : null
}

function searchWhere(g: Globals): string {
  return `${g.ipv6 ? 'IPv6' : 'IPv4'}${g.iface ? ` on ${g.iface}` : ''}`
}

/**
 * Discovers UPnP gateways with a spinner. `all`: the whole window, to see every device;
 * `first`: until the first working gateway (any command that just needs one).
 */
async function findGateways(g: Globals, out: Output, mode: 'first' | 'all', label = `Looking for UPnP gateways (${searchWhere(g)})…`): Promise<Found> {
  const route = g.ipv6 ? null : await defaultRoute()
  const started = performance.now()
  out.spinner.start(label)
  try {
    let found = await search(g, mode === 'first' && !g.gateway, route)
    // Several gateways on one network: the one that matters is the one packets go through.
    // A quick search stopped at the first to answer; if that is not the default route's,
    // search the whole window to find the default route's one too.
    if (mode === 'first' && !g.gateway && route && found.gateway && hostOf(found.gateway.descriptionUrl) !== route.gateway) {
      out.spinner.start(`Looking for the default gateway ${route.gateway} (another answered first)…`)
      found = await search(g, false, route)
    }
    return { ...found, elapsedMs: performance.now() - started }
  } finally {
    out.spinner.stop()
  }
}

/** The router for NAT-PMP/PCP: --gateway as an address (a URL gives its host), else "" (the default route's). */
function routerOf(g: Globals): string {
  return g.gateway ? (/^[a-z]+:\/\//i.test(g.gateway) ? hostOf(g.gateway) : g.gateway.replace(/^\[|\]$/g, '')) : ''
}

/** NAT-PMP and PCP as the router answers them now (the library's probe; its UPnP part is not used here). */
async function probeRouter(g: Globals): Promise<ProbeReport | null> {
  const router = routerOf(g)
  return lib.probe({ fresh: true, multicastIf: g.iface, budgetMs: Math.min(g.timeoutMs, 2000), ...(router ? { gateway: router } : {}) }).catch(() => null)
}

interface JsonLeaseProtocol {
  available: boolean
  /** The router asked (the default route's gateway unless --gateway). */
  router: string
  externalAddress: string
  latencyMs: number
  /** The answer's meaning: "SUCCESS", "TIMEOUT", "REFUSED", "UNSUPP_VERSION", ... */
  meaning: string
  /** Seconds since the router's NAT-PMP/PCP service started. */
  epoch?: number
}

function leaseJson(report: ProtocolReport, router: string): JsonLeaseProtocol {
  return {
    available: report.available, router, externalAddress: report.externalAddress, latencyMs: Math.round(report.latencyMs * 10) / 10,
    meaning: report.meaning, ...(report.epoch != null ? { epoch: report.epoch } : {}),
  }
}

function protocolsJson(probed: ProbeReport | null): { natpmp: JsonLeaseProtocol; pcp: JsonLeaseProtocol } | null {
  return probed ? { natpmp: leaseJson(probed.natpmp, probed.gateway), pcp: leaseJson(probed.pcp, probed.gateway) } : null
}

/** The NAT-PMP/PCP protocols --protocol asks about: both for auto, one for pmp/pcp, none for upnp. */
function leaseProtocols(g: Globals): Array<'natpmp' | 'pcp'> {
  return g.protocol === 'auto' ? ['natpmp', 'pcp'] : g.protocol === 'upnp' ? [] : [g.protocol]
}

/** UPnP discovery and the NAT-PMP/PCP probe at once, under one spinner (status, doctor). */
async function findEverything(g: Globals, out: Output, mode: 'first' | 'all'): Promise<{ found: Found | null; probed: ProbeReport | null }> {
  const lease = leaseProtocols(g)
  const upnp = g.protocol === 'upnp' || g.protocol === 'auto'
  const names = [...(upnp ? ['UPnP'] : []), ...lease.map((v) => VIA_NAME[v])].join(', ')
  const label = `Looking for gateways (${names}; ${searchWhere(g)})…`
  out.spinner.start(label)
  try {
    const [found, probed] = await Promise.all([
      upnp ? findGateways(g, out, mode, label) : Promise.resolve(null),
      lease.length ? probeRouter(g) : Promise.resolve(null),
    ])
    return { found, probed }
  } finally {
    out.spinner.stop()
  }
}

async function search(g: Globals, untilGateway: boolean, route: DefaultRoute | null): Promise<Found> {
  const upnp: UPNP = new lib.UPNP()
  upnp.discoverMulticastIf = g.iface
  upnp.discoverIpv6 = g.ipv6
  const result = await upnp.discover({ timeout: g.timeoutMs, untilGateway })
  const devices: UPNPDevice[] = []
  for (let i = 0; i < upnp.getDeviceCount(); i++) {
    const d = upnp.getDevice(i)
    if (d) devices.push(d)
  }
  let gateway: UPNPDevice | null
  let selected: UPNPDevice | null
  if (g.gateway) {
    selected = devices.find((d) => matchesGateway(d, g.gateway)) ?? null
    gateway = selected?.isValidGateway() ? selected : null
  } else {
    const onRoute = route ? devices.find((d) => d.isValidGateway() && hostOf(d.descriptionUrl) === route.gateway) : undefined
    gateway = onRoute ?? upnp.getGateway()
    selected = gateway ?? devices.find((d) => route && hostOf(d.descriptionUrl) === route.gateway) ?? devices[0] ?? null
  }
  return { devices, route, gateway, selected, result, error: upnp.lastError, elapsedMs: 0 }
}

/** Why this gateway is the one in use, for a person. */
function whySelected(found: Found, g: Globals): string {
  if (g.gateway) return 'chosen with --gateway'
  if (found.selected && found.route && hostOf(found.selected.descriptionUrl) === found.route.gateway) return 'the default route\'s gateway'
  return 'the first to answer'
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/** Why there is no usable gateway, as a CliError (exit 3, or 1 when the search itself failed). */
function noGatewayError(found: Found, g: Globals): CliError {
  const R = lib.UPNPResult
  if (found.result !== R.SUCCESS && found.result !== R.NO_DEVICES && found.devices.length === 0) {
    const failure = explainFailure(found.error ?? { result: found.result, description: R[found.result] ?? 'discovery failed' })
    return new CliError(EXIT.FAILED, 'DISCOVERY_FAILED', `could not search for gateways: ${failure.description}`, failure.fix, failure)
  }
  if (g.gateway && !found.selected) {
    const seen = found.devices.map((d) => hostOf(d.descriptionUrl))
    return new CliError(EXIT.NO_GATEWAY, 'GATEWAY_NOT_FOUND',
      `no gateway at ${g.gateway} answered within ${seconds(g.timeoutMs)}${seen.length ? ` (gateways that answered: ${seen.join(', ')})` : ''}`,
      seen.length ? `Pick one of those with --gateway, or leave --gateway out.` : `Check the address; give the router longer with --timeout; run \`upnp-native doctor\`.`)
  }
  const device = found.selected
  if (!device) {
    return new CliError(EXIT.NO_GATEWAY, 'NO_GATEWAY', `no UPnP gateway answered within ${seconds(g.timeoutMs)} (searched ${searchWhere(g)})`,
      noGatewayFix(g, found.route))
  }
  const status = statusName(device)
  const where = `${hostOf(device.descriptionUrl)} (${modelText(device)})`
  if (status === 'DISCONNECTED') {
    const failure = device.lastError
      ? { ...explainFailure(device.lastError), meaning: `the router reports: ${device.lastError.description}.`, fix: notConnectedFix() }
      : undefined
    return new CliError(EXIT.NO_GATEWAY, 'NOT_CONNECTED', `the gateway ${where} answered, but it is not connected to the Internet`,
      notConnectedFix(), failure)
  }
  return new CliError(EXIT.NO_GATEWAY, 'GATEWAY_UNUSABLE', `the device ${where} answered, but it cannot be used as a gateway: ${STATUS_TEXT[status] ?? status}`,
    device.lastError ? explainFailure(device.lastError).fix : 'Restart the router; update its firmware if it keeps failing.',
    device.lastError ? explainFailure(device.lastError) : undefined)
}

function noGatewayFix(g: Globals, route: DefaultRoute | null = null): string {
  const ifaces = localInterfaces().filter((i) => !i.internal && i.family === 'IPv4')
  const names = new Set(ifaces.map((i) => i.name))
  const router = route ? ` (${route.gateway}, this machine's default gateway via ${route.interface})` : ''
  const parts = [`Make sure UPnP is turned on in the router's settings${router}; it may be called "UPnP IGD" or "NAT traversal".`]
  if (g.iface) parts.push(`The search went out on ${g.iface} only: is the router on that network? This machine has: ${describeInterfaces()}.`)
  else if (names.size > 1) parts.push(`This machine has several network interfaces (${describeInterfaces()}): search on the one facing the router with --interface <name>.`)
  else parts.push('If this machine uses a VPN or several networks, search on the one facing the router with --interface <name>.')
  parts.push('A slow router may need more time: --timeout 5.')
  return parts.join(' ')
}

function notConnectedFix(): string {
  return 'Check the router\'s Internet (WAN) connection in its settings; if it sits behind a modem, make sure that link is up.'
}

async function needGateway(g: Globals, out: Output, mode: 'first' | 'all' = 'first'): Promise<{ found: Found; gateway: UPNPDevice }> {
  const found = await findGateways(g, out, mode)
  if (!found.gateway) throw noGatewayError(found, g)
  return { found, gateway: found.gateway }
}

// ---------------------------------------------------------------------------- formatting

/** NAT-PMP/PCP epoch: seconds since the router's service (re)started. */
function serverUp(epoch: number): string {
  return epoch < 1 ? 'server just started' : `server up ${duration(epoch)}`
}

function duration(secondsLeft: number): string {
  if (secondsLeft <= 0) return 'permanent'
  const units: Array<[number, string]> = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']]
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

function table(rows: string[][], style: Style, header = true): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map((row, r) => {
    const text = row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
    return header && r === 0 ? style.bold(text) : text
  })
}

function arrow(style: Style): string {
  return style.dim('→')
}

// ---------------------------------------------------------------------------- commands

type Runner = (parsed: Parsed, out: Output) => Promise<ExitCode>

const runStatus: Runner = async (parsed, out) => {
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`status\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  const started = performance.now()
  const { found, probed } = await findEverything(g, out, 'all')
  const elapsedMs = performance.now() - started
  const devices = found?.devices ?? []
  const usable = found?.gateway ?? null
  const lease = leaseProtocols(g).filter((v) => probed?.[v].available)
  // The external address: the UPnP gateway's, else what NAT-PMP said.
  const natpmpAddress = probed?.natpmp.available ? probed.natpmp.externalAddress : ''
  const external = usable?.externalAddress || natpmpAddress
  const externalVia: Via | null = usable?.externalAddress ? 'upnp' : natpmpAddress ? 'natpmp' : null
  const nat = natKind(usable, external)
  const problem = usable || lease.length ? null : noGatewayFor(found, probed, g)
  const exitCode: ExitCode = problem?.exitCode ?? EXIT.OK

  if (out.globals.json) {
    out.json(envelope('status', exitCode, {
      gateways: devices.map((d) => gatewayJson(d, found?.selected ?? null)),
      gateway: usable ? gatewayJson(usable, found?.selected ?? null) : null,
      protocols: protocolsJson(probed),
      externalAddress: external,
      nat,
      defaultRoute: found?.route ?? await defaultRoute(),
      ...(problem ? { error: errorJson(problem) } : {}),
    }))
    return exitCode
  }
  const s = out.out
  const several = devices.length > 1
  const rows: Array<{ cells: string[]; colour: (text: string) => string }> = devices.map((d) => {
    const name = statusName(d)
    const kind = natKind(d)
    let status = STATUS_TEXT[name] ?? name
    if (d.isValidGateway() && (kind === 'double-nat' || kind === 'cgnat')) status += kind === 'cgnat' ? ', carrier-grade NAT' : ', double NAT'
    const cells = [`UPnP ${igdVersion(d)}`, hostOf(d.descriptionUrl), modelText(d), status]
    const colour = d.isValidGateway() ? (kind === 'none' ? s.green : s.yellow) : s.red
    return { cells: several ? [d === found?.selected ? '*' : ' ', ...cells] : cells, colour }
  })
  // NAT-PMP/PCP rows when something answered at all (else the error below says it all).
  if (probed && probed.gateway && (devices.length || lease.length)) {
    for (const via of leaseProtocols(g)) {
      const report = probed[via]
      const status = report.available ? 'answers' : report.meaning === 'TIMEOUT' ? 'no answer' : `no: ${report.meaning}`
      const cells = [VIA_NAME[via], probed.gateway, report.epoch != null ? serverUp(report.epoch) : '-', status]
      rows.push({ cells: several ? [' ', ...cells] : cells, colour: report.available ? s.green : s.dim })
    }
  }
  if (rows.length) {
    out.info(s.bold(`Found in ${seconds(elapsedMs)}:`))
    table(rows.map((r) => r.cells), s, false).forEach((line, i) => {
      const row = rows[i]!
      const status = row.cells[row.cells.length - 1]!
      out.line(line.endsWith(status) ? line.slice(0, line.length - status.length) + row.colour(status) : line)
    })
    if (several && found?.selected) out.info(s.dim(`* = the UPnP gateway in use: ${whySelected(found, g)} (choose with --gateway <address>)`))
  }
  if (problem) {
    if (rows.length) out.line()
    out.error(problem, 'status')
    return problem.exitCode
  }
  const from = externalVia && externalVia !== 'upnp' ? s.dim(` (from ${VIA_NAME[externalVia]})`) : ''
  out.line(`${s.bold('External address:')} ${external || (lease.includes('pcp') && lease.length === 1 ? 'unknown (PCP tells it only with a mapping)' : 'unknown')}${from}`)
  if (external) {
    const verdict = natSentence(nat, external)
    out.line(`${s.bold('Double NAT:')} ${nat === 'none' ? s.green(verdict) : s.yellow(verdict)}`)
    if (nat !== 'none') out.info(s.dim('Run `upnp-native doctor` for what to do about it.'))
  }
  return EXIT.OK
}

/** No usable gateway for --protocol: UPnP's reason, or NAT-PMP/PCP's. */
function noGatewayFor(found: Found | null, probed: ProbeReport | null, g: Globals): CliError {
  if (found) {
    const e = noGatewayError(found, g)
    if (!probed || g.protocol === 'upnp') return e
    const lease = leaseProtocols(g)
    return new CliError(e.exitCode, e.code, `${e.message}; ${lease.map((v) => VIA_NAME[v]).join(' and ')} did not answer either`, e.fix, e.failure)
  }
  return leaseNoAnswer(probed, g)
}

/** NAT-PMP/PCP (--protocol pmp|pcp) got no answer: exit 3, with what the router said. */
function leaseNoAnswer(probed: ProbeReport | null, g: Globals): CliError {
  const via = g.protocol === 'pcp' ? 'pcp' : 'natpmp'
  const name = VIA_NAME[via]
  if (!probed || !probed.gateway) {
    return new CliError(EXIT.NO_GATEWAY, 'NO_GATEWAY', `no router to ask over ${name}: ${probed?.error ?? 'this machine has no IPv4 default gateway'}`,
      'Give the router\'s address with --gateway <address>.')
  }
  const report = probed[via]
  const failure = explainFailure({ result: lib.UPNPResult.NO_GATEWAY, description: report.meaning, via })
  return new CliError(EXIT.NO_GATEWAY, 'NO_GATEWAY', `the router ${probed.gateway} did not answer ${name} (${report.meaning})`,
    `Turn ${name} on in the router's settings (it often comes with UPnP), or use --protocol upnp.`, failure)
}

const runIp: Runner = async (parsed, out) => {
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`ip\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  if (g.protocol === 'pcp') {
    throw usage('PCP has no way to ask for the external address without making a mapping', 'Use --protocol pmp or --protocol upnp (or `upnp-native map <port> --keep --protocol pcp`, which shows it).')
  }
  let address = ''
  let via: Via = 'upnp'
  let gateway: UPNPDevice | null = null
  let selected: UPNPDevice | null = null
  if (g.protocol !== 'natpmp') {
    const found = await findGateways(g, out, 'first')
    gateway = found.gateway
    selected = found.selected
    if (!gateway && g.protocol === 'upnp') throw noGatewayError(found, g)
    if (gateway) {
      address = await gateway.queryExternalAddress()
      if (!address) {
        const failure = explainFailure(gateway.lastError ?? { result: lib.UPNPResult.UNKNOWN_ERROR, description: 'no address' })
        throw new CliError(EXIT.FAILED, 'NO_EXTERNAL_ADDRESS', `the gateway ${hostOf(gateway.descriptionUrl)} did not report its external address (${codeText(failure)})`, failure.fix, failure)
      }
    } else {
      // auto: no UPnP gateway; the router may still tell over NAT-PMP.
      out.spinner.start('No UPnP gateway; asking NAT-PMP…')
      const probed = await probeRouter(g).finally(() => out.spinner.stop())
      if (!probed?.natpmp.available || !probed.natpmp.externalAddress) throw noGatewayFor(found, probed, { ...g, protocol: 'auto' })
      address = probed.natpmp.externalAddress
      via = 'natpmp'
    }
  } else {
    out.spinner.start(`Asking the router over NAT-PMP (${routerOf(g) || 'default gateway'})…`)
    const probed = await probeRouter(g).finally(() => out.spinner.stop())
    if (!probed?.natpmp.available || !probed.natpmp.externalAddress) throw leaseNoAnswer(probed, g)
    address = probed.natpmp.externalAddress
    via = 'natpmp'
  }
  const nat = natKind(gateway, address)
  out.json(envelope('ip', EXIT.OK, { externalAddress: address, nat, via, gateway: gateway ? gatewayJson(gateway, selected) : null }))
  out.line(address)
  if (nat === 'double-nat' || nat === 'cgnat') {
    const what = nat === 'cgnat' ? 'a carrier-grade NAT address (100.64.0.0/10)' : 'a private address (double NAT)'
    out.note(out.err.yellow(`note: ${address} is ${what}: it cannot be reached from the Internet. Run \`upnp-native doctor\`.`))
  }
  if (via === 'natpmp' && g.protocol === 'auto') out.note(out.err.dim('note: no UPnP gateway answered; the address came from NAT-PMP.'))
  return EXIT.OK
}

/** list and unmap exist in UPnP only: NAT-PMP and PCP have no table, and a mapping belongs to its maker. */
function upnpOnly(g: Globals, command: Command): void {
  if (g.protocol !== 'natpmp' && g.protocol !== 'pcp') return
  const name = VIA_NAME[g.protocol]
  if (command === 'list') throw usage(`${name} has no mapping table to list`, 'Use --protocol upnp (or leave --protocol out).')
  throw usage(`a ${name} mapping can only be deleted by the program that made it (it ends when its lease runs out)`,
    `\`upnp-native map <port> --keep --protocol ${g.protocol === 'natpmp' ? 'pmp' : 'pcp'}\` deletes its mapping when you press Ctrl-C.`)
}

const runList: Runner = async (parsed, out) => {
  if (parsed.positionals.length) throw usage(`\`list\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  upnpOnly(parsed.globals, 'list')
  const { found, gateway } = await needGateway(parsed.globals, out)
  const entries = await gateway.listPortMappings()
  const failed = gateway.lastError
  if (failed && entries.length === 0) {
    const failure = explainFailure(failed)
    throw new CliError(EXIT.FAILED, 'LIST_FAILED', `the gateway ${hostOf(gateway.descriptionUrl)} did not list its mappings (${codeText(failure)})`, failure.fix, failure)
  }
  out.json(envelope('list', EXIT.OK, { gateway: gatewayJson(gateway, found.selected), mappings: entries }))
  const s = out.out
  const where = `${hostOf(gateway.descriptionUrl)} (${modelText(gateway)})`
  if (!entries.length) {
    out.info(`No port mappings on ${where}.`)
    return EXIT.OK
  }
  out.info(s.bold(`${entries.length} port mapping${entries.length === 1 ? '' : 's'} on ${where}:`))
  const rows: string[][] = [['PROTO', 'EXTERNAL', '', 'INTERNAL', 'LEASE', 'DESCRIPTION']]
  for (const e of entries) {
    const mine = e.internalClient === gateway.igdOurAddr ? ' (this machine)' : ''
    const from = e.remoteHost ? ` from ${e.remoteHost}` : ''
    rows.push([e.protocol, `${e.externalPort}${from}`, '→', `${e.internalClient}:${e.internalPort}${mine}`, duration(e.leaseDuration), e.description + (e.enabled ? '' : ' (disabled)')])
  }
  const lines = table(rows, s, true)
  ;(out.globals.quiet ? lines.slice(1) : lines).forEach((line) => out.line(line))
  return EXIT.OK
}

/** On a conflict (718/729): who holds the port, as " (it already forwards to ...)", else "". */
async function holderOf(gateway: UPNPDevice, port: number, protocol: Protocol, failure: JsonFailure): Promise<string> {
  if (failure.upnpCode !== 718 && failure.upnpCode !== 729) return ''
  const entry = await gateway.getPortMapping(port, protocol)
  if (!entry) return ''
  const mine = entry.internalClient === gateway.igdOurAddr ? ', this machine' : ''
  return ` (${protocol} ${port} already forwards to ${entry.internalClient}:${entry.internalPort}${mine}${entry.description ? `, "${entry.description}"` : ''})`
}

/** "14:03:27": the local time, for the lines `map --keep` prints as things happen. */
function clock(): string {
  return new Date().toTimeString().slice(0, 8)
}

function mappingJson(m: { via: Via; protocol: Protocol; externalPort: number; internalPort: number; description: string }, externalAddress: string,
  internalClient: string, lease: number, requestedLease: number): JsonMapping {
  return { via: m.via, protocol: m.protocol, externalAddress, externalPort: m.externalPort, internalClient, internalPort: m.internalPort, description: m.description, lease, requestedLease }
}

/** "UDP 11.22.33.44:7777 → 192.168.1.10:7777", plus " via NAT-PMP" when not UPnP. */
function mappingText(s: Style, m: JsonMapping): string {
  return `${m.protocol} ${m.externalAddress || '?'}:${m.externalPort} ${arrow(s)} ${m.internalClient}:${m.internalPort}${m.via !== 'upnp' ? ` via ${VIA_NAME[m.via]}` : ''}`
}

const runMap: Runner = async (parsed, out) => {
  const v = parsed.values
  const port = parsePort(onePositional(parsed, 'port'), 'the port to map')
  const internal = v.internal === undefined ? port : parsePort(String(v.internal), '--internal')
  const protocols = parseProtocols(v)
  const keep = v.keep === true
  const lease = v.lease === undefined ? (keep ? KEEP_DEFAULT_LEASE : 0) : parseLease(String(v.lease))
  const description = typeof v.description === 'string' ? v.description : DEFAULT_DESCRIPTION
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(description)) throw usage('--description may not contain control characters')
  const via = parsed.globals.protocol
  if (via === 'natpmp' || via === 'pcp') {
    const flag = via === 'natpmp' ? 'pmp' : 'pcp'
    if (!keep) {
      throw usage(`with --protocol ${flag}, map needs --keep: a ${VIA_NAME[via]} mapping is a lease that only the program holding it can renew or delete`,
        `upnp-native map ${port} --keep --protocol ${flag}`)
    }
    return keepMapping(parsed.globals, out, null, null, via, { port, internal, protocols, lease, description })
  }
  const { found, gateway } = await needGateway(parsed.globals, out).catch(async (error: unknown) => {
    // auto and no UPnP gateway: if the router speaks NAT-PMP or PCP, say how to use it.
    if (!(error instanceof CliError) || error.exitCode !== EXIT.NO_GATEWAY || via !== 'auto') throw error
    out.spinner.start('No UPnP gateway; asking NAT-PMP and PCP…')
    const probed = await probeRouter(parsed.globals).finally(() => out.spinner.stop())
    const other = (['natpmp', 'pcp'] as const).find((v) => probed?.[v].available)
    if (!other) throw error
    const flag = other === 'natpmp' ? 'pmp' : 'pcp'
    throw new CliError(error.exitCode, error.code, error.message,
      `The router answers ${VIA_NAME[other]}, so this works: upnp-native map ${port}${protocols.length === 2 ? ' --both' : protocols[0] === 'TCP' ? ' --tcp' : ''} --keep --protocol ${flag}`, error.failure)
  })
  if (keep) return keepMapping(parsed.globals, out, found, gateway, 'upnp', { port, internal, protocols, lease, description })

  const s = out.out
  const done: JsonMapping[] = []
  for (const protocol of protocols) {
    const result = await gateway.addPortMapping(port, internal, description, protocol, lease)
    if (result !== lib.UPNPResult.SUCCESS) {
      const failure = explainMapping(gateway.lastError ?? { result, description: lib.UPNPResult[result] ?? 'refused' }, gateway, lease)
      const holder = await holderOf(gateway, port, protocol, failure)
      // --both is all or nothing: take back what this run already added.
      for (const m of done) await gateway.deletePortMapping(m.externalPort, m.protocol)
      const undone = done.length ? `; the ${done.map((m) => m.protocol).join('/')} mapping made just before was deleted again` : ''
      throw new CliError(EXIT.FAILED, 'MAPPING_REFUSED',
        `the router refused to map ${protocol} ${port} ${arrow(out.err)} ${gateway.igdOurAddr}:${internal}: ${codeText(failure)}${holder}${undone}`, failure.fix, failure)
    }
    // What the router really holds (the lease it granted).
    const entry = await gateway.getPortMapping(port, protocol)
    done.push(mappingJson({ via: 'upnp', protocol, externalPort: port, internalPort: internal, description }, gateway.externalAddress,
      entry?.internalClient || gateway.igdOurAddr, entry?.leaseDuration ?? lease, lease))
  }
  out.json(envelope('map', EXIT.OK, { keep: false, via: 'upnp', gateway: gatewayJson(gateway, found.selected), mappings: done }))
  for (const m of done) {
    out.line(`${s.green('Mapped')} ${mappingText(s, m)}  ${s.dim(`(lease ${duration(m.lease)}, "${m.description}")`)}`)
  }
  const natNow = natKind(gateway)
  if (natNow !== 'none' && natNow !== 'unknown') out.info(s.yellow(`Note: double NAT: ${natSentence(natNow, gateway.externalAddress)}; the port is not reachable from the Internet.`))
  out.info(s.dim(`Delete with: upnp-native unmap ${port}${protocols.length === 2 ? ' --both' : protocols[0] === 'TCP' ? ' --tcp' : ''}`))
  return EXIT.OK
}

interface MapPlan {
  port: number
  internal: number
  protocols: Protocol[]
  lease: number
  description: string
}

/** `map --keep`: a PortMapper holds and renews the mappings until Ctrl-C (or SIGTERM/SIGHUP), then deletes them. */
async function keepMapping(g: Globals, out: Output, found: Found | null, gateway: UPNPDevice | null, via: Via, plan: MapPlan): Promise<ExitCode> {
  const s = out.out
  const router = routerOf(g)
  const mapper: PortMapper = new lib.PortMapper({
    // UPnP: the gateway found above; NAT-PMP/PCP: the router (the default route's unless --gateway).
    ...(gateway ? { gateway } : { protocol: via, ...(router ? { router } : {}), pmpBudget: Math.max(g.timeoutMs, 500) }),
    lease: plan.lease,
    // The port asked for, or nothing: no wandering to another port on a conflict.
    portRange: [plan.port, plan.port],
    maxAttempts: 1,
    cleanupOnExit: false, // the CLI deletes on its own signal handlers below, and says so
    keepAlive: true,
  })
  const jsonEvent = (event: string, rest: object = {}) => out.json({ schema: JSON_SCHEMA, command: 'map', event, ...rest }, true)
  const asJson = (m: Mapping) => mappingJson({ via: m.via, protocol: m.protocol, externalPort: m.externalPort, internalPort: m.internalPort, description: m.description },
    m.externalAddress, m.internalClient, m.lease, m.requestedLease)

  const state: { stopping: Promise<ExitCode> | null } = { stopping: null }
  let resolveDone!: (code: ExitCode) => void
  const done = new Promise<ExitCode>((resolve) => { resolveDone = resolve })
  const stop = (signal: NodeJS.Signals) => {
    if (state.stopping) {
      // A second Ctrl-C: leave now, and say what may be left behind.
      out.spinner.stop()
      const left = mapper.mappings.map((m) => `${m.protocol} ${m.externalPort}`).join(', ')
      if (left) process.stderr.write(`upnp-native: stopped before the router confirmed; ${left} may still be mapped (delete with \`upnp-native unmap ${plan.port}\`).\n`)
      process.exit(EXIT.INTERRUPTED)
    }
    if (out.human && process.stdout.isTTY && signal === 'SIGINT') process.stdout.write('\n')
    out.spinner.start('Deleting the mapping…')
    state.stopping = mapper.close().then(() => {
      out.spinner.stop()
      for (const m of held) {
        out.line(`${s.green('Deleted')} ${m.protocol} ${m.externalPort} from the router.`)
        jsonEvent('deleted', { mapping: asJson(m) })
      }
      jsonEvent('closed', { ok: true, exitCode: EXIT.OK, signal })
      return EXIT.OK as ExitCode
    }, (error: unknown) => {
      out.spinner.stop()
      const e = error as UPNPErrorInfo & Error
      const failure = explainFailure(e)
      const cliError = new CliError(EXIT.FAILED, 'DELETE_FAILED', `could not delete the mapping: ${codeText(failure)}`, `Delete it with \`upnp-native unmap ${plan.port}\`; ${failure.fix}`, failure)
      if (out.globals.json) jsonEvent('closed', { ok: false, exitCode: EXIT.FAILED, signal, error: errorJson(cliError) })
      else out.error(cliError, 'map')
      return EXIT.FAILED as ExitCode
    })
    void state.stopping.then(resolveDone)
  }
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP']
  for (const signal of signals) process.on(signal, stop)
  onInterrupt = () => stop('SIGINT')

  mapper.on('renewed', (m) => {
    out.info(s.dim(`${clock()}  renewed ${m.protocol} ${m.externalPort} (lease ${duration(m.lease)})`))
    jsonEvent('renewed', { mapping: asJson(m) })
  })
  mapper.on('lost', (m, reason) => {
    out.line(s.yellow(`${clock()}  lost ${m.protocol} ${m.externalPort}: ${reason}; mapping it again`))
    jsonEvent('lost', { mapping: asJson(m), reason })
  })
  mapper.on('restored', (m, previous) => {
    out.line(s.green(`${clock()}  restored ${mappingText(s, asJson(m))}`))
    jsonEvent('restored', { mapping: asJson(m), previousExternalPort: previous })
  })
  mapper.on('externalAddressChanged', (address, previous) => {
    out.line(s.yellow(`${clock()}  the external address changed: ${previous} ${arrow(s)} ${address}`))
    jsonEvent('external-address-changed', { externalAddress: address, previous })
  })
  mapper.on('error', (error) => {
    const failure = explainFailure(error)
    out.line(s.red(`${clock()}  ${error.message}; retrying`))
    jsonEvent('error', { failure })
  })

  const held: Mapping[] = []
  if (!gateway) out.spinner.start(`Asking the router (${router || 'default gateway'}) over ${VIA_NAME[via]}…`)
  try {
    for (const protocol of plan.protocols) {
      held.push(await mapper.map({ internalPort: plan.internal, externalPort: plan.port, protocol, description: plan.description, lease: plan.lease }))
    }
  } catch (error) {
    out.spinner.stop()
    for (const signal of signals) process.off(signal, stop)
    onInterrupt = null
    await mapper.close().catch(() => undefined) // all or nothing
    if (state.stopping) return state.stopping
    const e = error as FailureInfo & Error
    if (!gateway && e.resultCode == null) {
      // NAT-PMP/PCP got no answer at all: there is no such gateway, nothing was refused.
      const failure = explainFailure({ ...e, via })
      throw new CliError(EXIT.NO_GATEWAY, 'NO_GATEWAY', `the router (${router || 'the default gateway'}) did not answer ${VIA_NAME[via]}: ${e.description}`,
        `Turn ${VIA_NAME[via]} on in the router's settings (it often comes with UPnP), or use --protocol upnp.`, failure)
    }
    const failure = gateway ? explainMapping(e, gateway, plan.lease) : explainFailure(e)
    const protocol = plan.protocols[held.length] ?? 'UDP'
    const holder = gateway ? await holderOf(gateway, plan.port, protocol, failure) : ''
    const client = gateway?.igdOurAddr ?? 'this machine'
    const by = gateway ? '' : ` over ${VIA_NAME[via]}`
    throw new CliError(EXIT.FAILED, 'MAPPING_REFUSED',
      `the router refused${by} to map ${protocol} ${plan.port} ${arrow(out.err)} ${client}:${plan.internal}: ${codeText(failure)}${holder}`, failure.fix, failure)
  }
  out.spinner.stop()
  if (state.stopping) return done // Ctrl-C while mapping: close() deletes what was added

  out.json(envelope('map', EXIT.OK, { keep: true, via, gateway: gateway && found ? gatewayJson(gateway, found.selected) : null, mappings: held.map(asJson) }), true)
  for (const m of held) {
    const renew = m.lease > 0 ? `lease ${duration(m.lease)}, renewed every ${duration(Math.max(1, Math.floor(m.lease / 2)))}` : 'permanent lease, checked every 5 min'
    out.line(`${s.green('Holding')} ${mappingText(s, asJson(m))}  ${s.dim(`(${renew})`)}`)
  }
  out.info(`Press ${s.bold('Ctrl-C')} to delete the mapping${held.length > 1 ? 's' : ''} and exit.`)
  const code = await done
  for (const signal of signals) process.off(signal, stop)
  onInterrupt = null
  return code
}

const runUnmap: Runner = async (parsed, out) => {
  const port = parsePort(onePositional(parsed, 'port'), 'the port to unmap')
  const protocols = parseProtocols(parsed.values)
  upnpOnly(parsed.globals, 'unmap')
  const { found, gateway } = await needGateway(parsed.globals, out)
  const s = out.out
  const results: Array<{ protocol: Protocol; externalPort: number; wasMapped: boolean; deleted: boolean; mapping?: PortMappingEntry; failure?: JsonFailure }> = []
  let failed: CliError | null = null
  for (const protocol of protocols) {
    // Many routers (miniupnpd among them) answer success for a mapping they never had: ask first.
    const entry = await gateway.getPortMapping(port, protocol)
    const lookup = gateway.lastError
    if (!entry && lookup?.result === lib.UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      results.push({ protocol, externalPort: port, wasMapped: false, deleted: false })
      out.line(`${protocol} ${port} was not mapped; nothing to delete.`)
      continue
    }
    const result = await gateway.deletePortMapping(port, protocol)
    if (result === lib.UPNPResult.SUCCESS || result === lib.UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      const wasMapped = result === lib.UPNPResult.SUCCESS && (entry !== null || lookup !== null)
      results.push({ protocol, externalPort: port, wasMapped, deleted: wasMapped, ...(entry ? { mapping: entry } : {}) })
      out.line(wasMapped
        ? `${s.green('Deleted')} ${protocol} ${port}${entry ? ` ${arrow(s)} ${entry.internalClient}:${entry.internalPort}` : ''}.`
        : `${protocol} ${port} was not mapped; nothing to delete.`)
      continue
    }
    const failure = explainFailure(gateway.lastError ?? { result, description: lib.UPNPResult[result] ?? 'refused' })
    results.push({ protocol, externalPort: port, wasMapped: true, deleted: false, ...(entry ? { mapping: entry } : {}), failure })
    const owner = entry && entry.internalClient !== gateway.igdOurAddr ? ` (it forwards to ${entry.internalClient}, another device)` : ''
    failed ??= new CliError(EXIT.FAILED, 'DELETE_REFUSED', `the router refused to delete ${protocol} ${port}${owner}: ${codeText(failure)}`,
      owner ? 'Routers let only the device a mapping points to delete it: run this on that device, or use the router\'s settings.' : failure.fix, failure)
  }
  const exitCode = failed ? failed.exitCode : EXIT.OK
  if (out.globals.json) {
    out.json(envelope('unmap', exitCode, { gateway: gatewayJson(gateway, found.selected), results, ...(failed ? { error: errorJson(failed) } : {}) }))
  } else if (failed) {
    out.error(failed, 'unmap')
  }
  return exitCode
}

// ---------------------------------------------------------------------------- doctor

type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'info'
type CheckId = 'discovery' | 'connection' | 'external-address' | 'mapping' | 'listed' | 'cleanup' | 'protocols'
interface Check {
  id: CheckId
  title: string
  status: CheckStatus
  summary: string
  fix?: string
  failure?: JsonFailure
}
type VerdictCode = 'ok' | 'no-gateway' | 'not-connected' | 'gateway-unusable' | 'double-nat' | 'cgnat' | 'no-external-address' | 'mapping-refused' | 'not-listed' | 'cleanup-failed' | 'discovery-failed'
interface Problem {
  code: VerdictCode
  summary: string
  fix: string
}

const DOCTOR_DESCRIPTION = 'upnp-native doctor (test)'
const DOCTOR_LEASE = 120
const CHECK_ORDER: CheckId[] = ['discovery', 'connection', 'external-address', 'mapping', 'listed', 'cleanup']
const CHECK_TITLES: Record<CheckId, string> = {
  discovery: 'Gateway', connection: 'Connection', 'external-address': 'External address', mapping: 'Test mapping', listed: 'Listed',
  cleanup: 'Cleanup', protocols: 'NAT-PMP, PCP',
}

/** One doctor run: the checks as they are made (printed at once), the problems found. */
class DoctorRun {
  readonly checks: Check[] = []
  readonly problems: Problem[] = []
  found: Found | null = null
  probed: ProbeReport | null = null
  external = ''

  constructor(readonly g: Globals, readonly out: Output, readonly via: Via) {}

  record(check: Omit<Check, 'title'>): void {
    const s = this.out.out
    const mark: Record<CheckStatus, string> = { pass: s.green('✔'), warn: s.yellow('!'), fail: s.red('✖'), skip: s.dim('–'), info: s.cyan('ℹ') }
    const full = { ...check, title: CHECK_TITLES[check.id] }
    this.checks.push(full)
    this.out.info(`${mark[full.status]} ${s.bold(full.title.padEnd(17))}${full.status === 'skip' ? s.dim(full.summary) : full.summary}`)
  }

  fail(check: Omit<Check, 'title' | 'status'>, problem: Problem): void {
    this.record({ ...check, status: 'fail' })
    this.problems.push(problem)
  }

  skipRest(after: CheckId, why: string): void {
    for (const id of CHECK_ORDER.slice(CHECK_ORDER.indexOf(after) + 1)) this.record({ id, status: 'skip', summary: why })
  }
}

const runDoctor: Runner = async (parsed, out) => {
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`doctor\` takes no arguments, got: ${parsed.positionals.join(' ')}`, 'To test a particular port: upnp-native doctor --port 7777')
  const wantedPort = parsed.values.port === undefined ? null : parsePort(String(parsed.values.port), '--port')
  const protocol: Protocol = parseProtocols(parsed.values)[0] ?? 'UDP'
  const via: Via = g.protocol === 'auto' ? 'upnp' : g.protocol
  const run = new DoctorRun(g, out, via)
  const what = g.protocol === 'auto' ? 'UPnP, and whether NAT-PMP and PCP answer' : VIA_NAME[via]
  out.info(out.out.bold('upnp-native doctor') + out.out.dim(` (${what}; ${searchWhere(g)}, ${seconds(g.timeoutMs)} search)`))
  if (via === 'upnp') await doctorUpnp(run, wantedPort, protocol)
  else await doctorLease(run, via, wantedPort, protocol)
  return finishDoctor(run)
}

/** doctor over UPnP: discovery, connection, external address, test mapping, listed, cleanup. */
async function doctorUpnp(run: DoctorRun, wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { g, out } = run
  const s = out.out
  // 1. Did any gateway answer? (NAT-PMP and PCP are asked at the same time, for `auto`.)
  const { found, probed } = await findEverything(g, out, 'all')
  run.found = found
  run.probed = probed
  if (!found) return
  const device = found.selected
  if (!device) {
    const e = noGatewayError(found, g)
    const code: VerdictCode = e.code === 'DISCOVERY_FAILED' ? 'discovery-failed' : 'no-gateway'
    const others = probed ? leaseProtocols(g).filter((v) => probed[v].available).map((v) => VIA_NAME[v]) : []
    const butLease = others.length
      ? ` The router does answer ${others.join(' and ')}: programs that use ${others.length > 1 ? 'those' : 'it'} can still open ports (see \`upnp-native doctor --protocol ${others[0] === 'PCP' ? 'pcp' : 'pmp'}\`).`
      : ''
    run.fail({ id: 'discovery', summary: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.failure ? { failure: e.failure } : {}) }, {
      code,
      summary: (code === 'no-gateway' ? `No UPnP gateway answered${g.gateway ? ` at ${g.gateway}` : found.route ? `: not even the default gateway ${found.route.gateway}` : ''}.` : `${e.message}.`) + butLease,
      fix: e.fix ?? noGatewayFix(g, found.route),
    })
    run.skipRest('discovery', 'skipped: no gateway')
    return
  }
  const others = found.devices.length > 1 ? ` (${whySelected(found, g)}; ${found.devices.length} answered)` : ''
  run.record({ id: 'discovery', status: 'pass', summary: `UPnP ${igdVersion(device)} at ${hostOf(device.descriptionUrl)}, ${modelText(device)}${others}` })

  // 2. Connected?
  if (!device.isValidGateway()) {
    const e = noGatewayError({ ...found, gateway: null, selected: device }, g)
    const notConnected = e.code === 'NOT_CONNECTED'
    run.fail({
      id: 'connection',
      summary: notConnected ? 'the gateway is not connected to the Internet' : `unusable: ${STATUS_TEXT[statusName(device)] ?? statusName(device)}`,
      ...(e.fix ? { fix: e.fix } : {}), ...(e.failure ? { failure: e.failure } : {}),
    }, {
      code: notConnected ? 'not-connected' : 'gateway-unusable',
      summary: notConnected ? `The gateway ${hostOf(device.descriptionUrl)} answered, but it is not connected to the Internet.` : `${e.message}.`,
      fix: e.fix ?? notConnectedFix(),
    })
    run.skipRest('connection', 'skipped: the gateway cannot be used')
    return
  }
  run.record({ id: 'connection', status: 'pass', summary: `connected to the Internet; this machine is ${device.igdOurAddr} on its network` })

  // 3. External address: public, or another NAT upstream?
  out.spinner.start('Asking for the external address…')
  run.external = (await device.queryExternalAddress()) || device.externalAddress
  out.spinner.stop()
  checkExternal(run, device)

  // 4. Does the router accept a mapping? 5. Does it then list it? 6. Delete it again.
  const port = wantedPort ?? pickTestPort(await device.listPortMappings(256))
  const target = `${protocol} ${port} ${arrow(s)} ${device.igdOurAddr}:${port}`
  out.spinner.start(`Test mapping ${protocol} ${port}…`)
  let lease = DOCTOR_LEASE
  let result = await device.addPortMapping(port, port, DOCTOR_DESCRIPTION, protocol, lease)
  let leaseNote = ''
  if (result === lib.UPNPResult.ONLY_PERMANENT_LEASE_SUPPORTED || result === lib.UPNPResult.INVALID_ARGS) {
    lease = 0 // the router only does permanent mappings: the test still tells whether mapping works
    result = await device.addPortMapping(port, port, DOCTOR_DESCRIPTION, protocol, lease)
    if (result === lib.UPNPResult.SUCCESS) leaseNote = ' (only as permanent: this router refuses leases; apps must use lease 0)'
  }
  out.spinner.stop()
  if (result !== lib.UPNPResult.SUCCESS) {
    const failure = explainMapping(device.lastError ?? { result, description: lib.UPNPResult[result] ?? 'refused' }, device, lease)
    const holder = await holderOf(device, port, protocol, failure)
    run.fail({ id: 'mapping', summary: `${target} refused: ${codeText(failure)}${holder}`, fix: failure.fix, failure }, {
      code: 'mapping-refused',
      summary: `The router refused the test mapping ${protocol} ${port} with ${codeText(failure)}${holder}: ${failure.meaning}`,
      fix: failure.fix,
    })
    run.skipRest('mapping', 'skipped: nothing was mapped')
    return
  }
  run.record({ id: 'mapping', status: 'pass', summary: `${target} accepted${leaseNote}` })

  out.spinner.start('Checking that the router lists it…')
  let entry = await device.getPortMapping(port, protocol)
  let how = 'GetSpecificPortMappingEntry'
  if (!entry) {
    // Some routers do not implement the direct lookup: look through the whole table too.
    entry = (await device.listPortMappings()).find((e) => e.externalPort === port && e.protocol === protocol) ?? null
    how = 'the mapping table'
  }
  out.spinner.stop()
  const ours = entry && (entry.internalClient === device.igdOurAddr || !entry.internalClient) && entry.internalPort === port
  if (ours) {
    run.record({ id: 'listed', status: 'pass', summary: `the router lists it (${how})` })
  } else {
    const fix = 'The router acknowledges mappings it does not keep (a firmware fault): update the router\'s firmware, restart it, or forward the port by hand in its settings.'
    const summary = entry ? `the router lists ${protocol} ${port} for ${entry.internalClient}:${entry.internalPort}, not this machine` : 'the router accepted the mapping but does not list it'
    run.fail({ id: 'listed', summary, fix }, {
      code: 'not-listed',
      summary: `The router accepted the test mapping ${protocol} ${port} but ${entry ? `lists it for ${entry.internalClient}` : 'does not list it'}: mappings may not really be set up.`,
      fix,
    })
  }

  out.spinner.start('Deleting the test mapping…')
  const deleted = await device.deletePortMapping(port, protocol)
  out.spinner.stop()
  if (deleted === lib.UPNPResult.SUCCESS || deleted === lib.UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
    run.record({ id: 'cleanup', status: 'pass', summary: 'test mapping deleted' })
  } else {
    const failure = explainFailure(device.lastError ?? { result: deleted, description: lib.UPNPResult[deleted] ?? 'refused' })
    const fix = `Delete it with \`upnp-native unmap ${port}${protocol === 'TCP' ? ' --tcp' : ''}\`${lease ? ` (it also expires in ${duration(lease)})` : ''}.`
    run.record({ id: 'cleanup', status: 'warn', summary: `could not delete the test mapping: ${codeText(failure)}`, fix, failure })
    run.problems.push({ code: 'cleanup-failed', summary: `The test mapping ${protocol} ${port} could not be deleted.`, fix })
  }
}

/** Check 3: the external address is public, private (double NAT), shared (CGNAT) or missing. */
function checkExternal(run: DoctorRun, device: UPNPDevice | null): void {
  const external = run.external
  const nat = natKind(device, external)
  if (nat === 'none') {
    run.record({ id: 'external-address', status: 'pass', summary: `${external} is public (no double NAT)` })
  } else if (nat === 'unknown') {
    const fix = 'Check the router\'s Internet (WAN) connection; restart it if the address stays empty.'
    run.fail({ id: 'external-address', summary: 'the gateway reports no external address', fix },
      { code: 'no-external-address', summary: 'The gateway does not report an external address.', fix })
  } else {
    const fix = natFix(nat)
    run.fail({ id: 'external-address', summary: nat === 'cgnat' ? `${external} is carrier-grade NAT (100.64.0.0/10)` : `${external} is private: double NAT`, fix }, {
      code: nat,
      summary: nat === 'cgnat'
        ? `Carrier-grade NAT: the router's external address ${external} is shared by the ISP; ports it maps are not reachable from the Internet.`
        : `Double NAT: the router's external address ${external} is private, so another router or the ISP does NAT upstream; ports mapped here are not reachable from the Internet.`,
      fix,
    })
  }
}

/** doctor over NAT-PMP or PCP: the router answers, its address, a test mapping held and deleted
 *  by a PortMapper (these protocols keep no table to list). */
async function doctorLease(run: DoctorRun, via: 'natpmp' | 'pcp', wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { g, out } = run
  const s = out.out
  const name = VIA_NAME[via]
  const { probed } = await findEverything(g, out, 'all')
  run.probed = probed
  const report = probed?.[via]
  if (!probed || !report?.available) {
    const e = leaseNoAnswer(probed, g)
    run.fail({ id: 'discovery', summary: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.failure ? { failure: e.failure } : {}) },
      { code: 'no-gateway', summary: `The router${probed?.gateway ? ` ${probed.gateway}` : ''} does not answer ${name}.`, fix: e.fix ?? '' })
    run.skipRest('discovery', 'skipped: no gateway')
    return
  }
  const up = report.epoch != null ? `, ${serverUp(report.epoch)}` : ''
  run.record({ id: 'discovery', status: 'pass', summary: `${name} at ${probed.gateway} answered in ${Math.max(0.1, Math.round(report.latencyMs * 10) / 10)} ms${up}` })
  if (via === 'natpmp') {
    run.record({ id: 'connection', status: 'pass', summary: `connected: the router reports an external address; this machine is ${probed.localAddress}` })
  } else {
    run.record({ id: 'connection', status: 'skip', summary: 'PCP does not say; the test mapping shows it' })
  }
  if (via === 'natpmp') {
    run.external = report.externalAddress
    checkExternal(run, null)
  }

  const router = routerOf(g)
  const mapper: PortMapper = new lib.PortMapper({
    protocol: via, ...(router ? { router } : {}), pmpBudget: Math.max(g.timeoutMs, 500),
    portRange: wantedPort ? [wantedPort, wantedPort] : [49152, 65535], maxAttempts: 1, cleanupOnExit: false,
  })
  mapper.on('error', () => undefined) // the checks below report failures
  const port = wantedPort ?? pickTestPort([])
  out.spinner.start(`Test mapping ${protocol} ${port} over ${name}…`)
  let mapping: Mapping
  try {
    mapping = await mapper.map({ internalPort: port, externalPort: port, protocol, description: DOCTOR_DESCRIPTION, lease: DOCTOR_LEASE })
  } catch (error) {
    out.spinner.stop()
    const failure = explainFailure({ ...(error as FailureInfo), via })
    if (via === 'pcp') run.record({ id: 'external-address', status: 'skip', summary: 'skipped: PCP tells it only with a mapping' })
    run.fail({ id: 'mapping', summary: `${protocol} ${port} ${arrow(s)} ${probed.localAddress}:${port} refused: ${codeText(failure)}`, fix: failure.fix, failure }, {
      code: 'mapping-refused',
      summary: `The router refused the test mapping ${protocol} ${port} over ${name} with ${codeText(failure)}: ${failure.meaning}`,
      fix: failure.fix,
    })
    run.skipRest('mapping', 'skipped: nothing was mapped')
    await mapper.close().catch(() => undefined)
    return
  }
  out.spinner.stop()
  if (via === 'pcp') {
    run.external = mapping.externalAddress
    checkExternal(run, null)
  }
  const moved = mapping.externalPort !== port ? ` (the router chose external port ${mapping.externalPort})` : ''
  run.record({ id: 'mapping', status: 'pass', summary: `${protocol} ${mapping.externalPort} ${arrow(s)} ${mapping.internalClient}:${port} accepted for ${duration(mapping.lease)}${moved}` })
  run.record({ id: 'listed', status: 'skip', summary: `${name} keeps no table to read back; the router's answer is the confirmation` })
  out.spinner.start('Deleting the test mapping…')
  try {
    await mapper.close()
    out.spinner.stop()
    run.record({ id: 'cleanup', status: 'pass', summary: 'test mapping deleted' })
  } catch (error) {
    out.spinner.stop()
    const failure = explainFailure({ ...(error as FailureInfo), via })
    const fix = `It expires by itself in ${duration(mapping.lease)}.`
    run.record({ id: 'cleanup', status: 'warn', summary: `could not delete the test mapping: ${codeText(failure)}`, fix, failure })
    run.problems.push({ code: 'cleanup-failed', summary: `The test mapping ${protocol} ${mapping.externalPort} could not be deleted.`, fix })
  }
}

/** A high port nobody uses on the router (IANA's dynamic range). */
function pickTestPort(taken: PortMappingEntry[]): number {
  const used = new Set(taken.map((e) => e.externalPort))
  for (let i = 0; i < 100; i++) {
    const port = 49152 + Math.floor(Math.random() * (65535 - 49152))
    if (!used.has(port)) return port
  }
  return 54321
}

/** For `auto`: whether the router also speaks NAT-PMP and PCP (informational, no verdict). */
function recordProtocols(run: DoctorRun): void {
  const probed = run.probed
  if (run.g.protocol !== 'auto') return
  if (!probed || !probed.gateway) {
    run.record({ id: 'protocols', status: 'info', summary: `not asked: ${probed?.error ?? 'no IPv4 default gateway'}` })
    return
  }
  const yes = (['natpmp', 'pcp'] as const).filter((v) => probed[v].available).map((v) => VIA_NAME[v])
  const address = probed.natpmp.available && probed.natpmp.externalAddress ? ` (NAT-PMP says the external address is ${probed.natpmp.externalAddress})` : ''
  const summary = yes.length === 2 ? `both answer at ${probed.gateway}${address}`
    : yes.length === 1 ? `${yes[0]} answers at ${probed.gateway}, ${yes[0] === 'PCP' ? 'NAT-PMP' : 'PCP'} does not${address}`
      : `neither answers at ${probed.gateway}`
  run.record({ id: 'protocols', status: 'info', summary })
}

async function finishDoctor(run: DoctorRun): Promise<ExitCode> {
  const { out, found, via } = run
  recordProtocols(run)
  const s = out.out
  const first = run.problems[0]
  const ok = !first
  const verdict = first ?? {
    code: 'ok' as const,
    summary: `${VIA_NAME[via]} port forwarding works: ports mapped on this router are reachable at ${run.external} (as far as the router can tell: a firewall at the ISP is not visible from here).`,
    fix: '',
  }
  const exitCode: ExitCode = ok ? EXIT.OK
    : ['no-gateway', 'not-connected', 'gateway-unusable'].includes(verdict.code) ? EXIT.NO_GATEWAY
      : EXIT.FAILED
  if (out.globals.json) {
    out.json(envelope('doctor', exitCode, {
      via,
      verdict: { code: verdict.code, summary: verdict.summary, ...(verdict.fix ? { fix: verdict.fix } : {}) },
      problems: run.problems.map((v) => ({ code: v.code, summary: v.summary, fix: v.fix })),
      checks: run.checks.map(({ title: _title, ...c }) => c),
      gateways: (found?.devices ?? []).map((d) => gatewayJson(d, found?.selected ?? null)),
      protocols: protocolsJson(run.probed),
      defaultRoute: found?.route ?? await defaultRoute(),
    }))
    return exitCode
  }
  if (!out.globals.quiet) out.line()
  const label = ok ? s.green(s.bold('Verdict:')) : s.red(s.bold('Verdict:'))
  out.line(`${label} ${verdict.summary}`)
  if (verdict.fix && !out.globals.quiet) out.line(`${s.bold('Fix:')} ${verdict.fix}`)
  for (const more of run.problems.slice(1)) {
    if (!out.globals.quiet) out.line(`${s.bold('Also:')} ${more.summary} ${s.dim(more.fix)}`)
  }
  return exitCode
}

// ---------------------------------------------------------------------------- help

const GLOBAL_HELP = `Options for every command:
  --json               machine-readable output on stdout (schema: README, "Command line")
  --timeout <time>     how long to search for gateways (default 2s; 5, 1.5s, 800ms)
  --interface <if>     search on this network interface (name or address)
  --gateway <where>    use the gateway at this address or description URL
  --ipv6               search over IPv6
  --protocol <p>       upnp | pmp (NAT-PMP) | pcp | auto (default: UPnP for mappings,
                       every protocol for status and doctor)
  -q, --quiet          no spinner, notes or hints: only the result and errors
  --no-color           no colours (NO_COLOR=1 does the same)
  -h, --help           help; \`upnp-native <command> --help\` for one command
  -v, --version        the version`

const EXIT_HELP = `Exit codes: 0 success, 1 the operation failed (the router said no), 2 usage error,
            3 no usable gateway, 130 interrupted (Ctrl-C) before the work was done.`

const HELP: Record<Command | 'main', string> = {
  main: `upnp-native: forward ports on your router with UPnP, and find out why it does not work

Usage: upnp-native [command] [options]

Commands:
  status               gateways, external address, double NAT (the default)
  map <port>           forward a port of the router to this machine
  unmap <port>         delete a port forward
  list                 the router's port forwards
  ip                   print the external address (for scripts)
  doctor               check everything, say what is wrong and how to fix it

${GLOBAL_HELP}

${EXIT_HELP}

Examples:
  npx upnp-native
  npx upnp-native map 25565 --tcp --keep
  npx upnp-native doctor`,
  status: `Usage: upnp-native status [options]

Lists the gateways that answered (protocol, address, model, status), the external address
of the one in use, and whether there is a second NAT (double NAT, carrier-grade NAT) above it.
Searches for UPnP gateways for the whole --timeout, to see every one, and asks the router
over NAT-PMP and PCP at the same time (--protocol picks one of them).

Exit: 0 a usable gateway (any protocol), 3 none.

Examples:
  upnp-native status
  upnp-native status --json
  upnp-native status --protocol pmp
  upnp-native status --interface eth0 --timeout 5

${GLOBAL_HELP}`,
  map: `Usage: upnp-native map <port> [--internal <port>] [--udp|--tcp|--both] [--lease <time>]
                       [--description <text>] [--keep] [options]

Forwards <port> on the router's external address to this machine.
  --internal <port>    the port on this machine (default: the same as <port>)
  --udp, --tcp, --both the protocol (default UDP); --both maps both or neither
  --lease <time>       how long the router keeps it: 3600, 30m, 2h, 7d; 0 = permanent
                       (the default; with --keep the default is 1h, renewed at half)
  --description <text> shown in the router's list (default "upnp-native")
  --keep               hold the mapping: renew it, re-add it if the router forgets it,
                       and delete it on Ctrl-C (or SIGTERM) before exiting

Maps over UPnP (also with --protocol auto): only UPnP mappings can be permanent, listed
and deleted later by another command. --protocol pmp or pcp maps over NAT-PMP or PCP and
needs --keep, since such a mapping is a lease only its holder can renew or delete.

Exit: 0 mapped, 1 the router refused (the reason and a fix are printed), 3 no gateway.

Examples:
  upnp-native map 7777
  upnp-native map 25565 --tcp --description minecraft
  upnp-native map 8080 --internal 3000 --tcp --lease 2h
  upnp-native map 27015 --both --keep
  upnp-native map 7777 --keep --protocol pmp

${GLOBAL_HELP}`,
  unmap: `Usage: upnp-native unmap <port> [--udp|--tcp|--both] [options]

Deletes the router's forward of <port> (default UDP), over UPnP. A port that was not mapped
is not an error: the result is the same. (NAT-PMP and PCP mappings can only be deleted by
the program holding them: \`map --keep\` does it on Ctrl-C.)

Exit: 0 deleted or not mapped, 1 the router refused (e.g. it forwards to another device),
3 no gateway.

Examples:
  upnp-native unmap 7777
  upnp-native unmap 27015 --both

${GLOBAL_HELP}`,
  list: `Usage: upnp-native list [options]

The router's port-forwarding table (UPnP): protocol, external port, internal address and
port, lease left, description. Rows for this machine are marked. Routers that also speak
NAT-PMP/PCP usually list those mappings here too.

Examples:
  upnp-native list
  upnp-native list --json | jq '.mappings[] | select(.protocol == "TCP")'

${GLOBAL_HELP}`,
  ip: `Usage: upnp-native ip [options]

Prints the router's external address and nothing else. Behind double NAT the address is
still printed (it is what the router has), with a note on stderr. Asks over UPnP, and over
NAT-PMP when no UPnP gateway answers (--protocol pmp: NAT-PMP only; PCP cannot tell).

Exit: 0 printed, 1 the router did not say, 3 no gateway.

Examples:
  upnp-native ip
  echo "reach me at $(upnp-native ip -q):7777"

${GLOBAL_HELP}`,
  doctor: `Usage: upnp-native doctor [--port <port>] [--udp|--tcp] [options]

Runs every check in order and ends with a verdict and the fix:
  1. a gateway answers           (else: UPnP off? wrong interface? --interface)
  2. it is connected             (else: the router's Internet link is down)
  3. its external address        (private or 100.64/10: double NAT / carrier-grade NAT)
  4. a test mapping is accepted  (else: the router's error code and what it means)
  5. the router lists it         (else: the router pretends)
  6. the test mapping is deleted
  and whether the router also speaks NAT-PMP and PCP. --protocol pmp or pcp runs the same
  checks over NAT-PMP or PCP instead.
  --port <port>        the port to test (default: a free one from 49152-65535)
  --udp, --tcp         the protocol to test (default UDP)

Exit: 0 all good, 1 a problem was found, 3 no usable gateway.

Examples:
  upnp-native doctor
  upnp-native doctor --port 25565 --tcp
  upnp-native doctor --protocol pmp
  upnp-native doctor --interface wlan0 --json

${GLOBAL_HELP}`,
}

// ---------------------------------------------------------------------------- main

function packageVersion(): string {
  const start = path.dirname(fs.realpathSync(process.argv[1] ?? '.'))
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'upnp-native' && pkg.version) return pkg.version
    } catch {
      // keep looking upwards
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}

/** What Ctrl-C does while a command runs; null = stop at once (exit 130). */
let onInterrupt: (() => void) | null = null

const RUNNERS: Record<Command, Runner> = { status: runStatus, map: runMap, unmap: runUnmap, list: runList, ip: runIp, doctor: runDoctor }

async function main(argv: string[]): Promise<ExitCode> {
  const early = lenient(argv)
  let out = new Output({ json: early.json, quiet: false, noColor: early.noColor })
  let command: Command | null = early.command
  try {
    const outcome = parseCommandLine(argv)
    if (outcome.kind === 'version') {
      process.stdout.write(`${packageVersion()}\n`)
      return EXIT.OK
    }
    if (outcome.kind === 'help') {
      process.stdout.write(`${HELP[outcome.command ?? 'main']}\n`)
      return EXIT.OK
    }
    const { parsed } = outcome
    command = parsed.command
    out = new Output(parsed.globals)
    try {
      lib = await import('./index.ts')
    } catch (error) {
      // The loader's message already says which binary is missing and how to get it.
      const message = (error as Error).message.replace(/^upnp-native: /, '')
      throw new CliError(EXIT.FAILED, 'NATIVE_LOAD_FAILED', message,
        /\bFix:/.test(message) ? undefined : 'Reinstall upnp-native on this machine (npm install upnp-native), so that npm fetches the binary for this platform.')
    }
    // Ctrl-C before the work is done: restore the terminal and say so (map --keep sets
    // `onInterrupt` to delete its mappings first).
    const interrupt = () => {
      if (onInterrupt) return onInterrupt()
      out.spinner.stop()
      if (!out.globals.json) process.stderr.write('upnp-native: interrupted\n')
      process.exit(EXIT.INTERRUPTED)
    }
    process.on('SIGINT', interrupt)
    try {
      return await RUNNERS[parsed.command](parsed, out)
    } finally {
      process.off('SIGINT', interrupt)
    }
  } catch (error) {
    out.spinner.stop()
    if (error instanceof CliError && error.code === 'USAGE' && !error.fix) {
      error = usage(error.message, `See \`upnp-native ${command && command !== 'status' ? `${command} ` : ''}--help\`.`)
    }
    const e = error instanceof CliError ? error
      : new CliError(EXIT.FAILED, 'INTERNAL', `unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
        'This is a bug in upnp-native; please report it with the command you ran.')
    out.error(e, command)
    return e.exitCode
  }
}

// `upnp-native list | head -1`: a reader that leaves early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK)
  })
}
// Whatever slips through (an event handler's bug): one line, never a stack trace.
process.on('uncaughtException', (error) => {
  process.stderr.write(`\x1b[?25h\nupnp-native: unexpected failure: ${error instanceof Error ? error.message : String(error)} (this is a bug; please report it)\n`)
  process.exit(EXIT.FAILED)
})

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (error: unknown) => {
  process.stderr.write(`upnp-native: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = EXIT.FAILED
})
