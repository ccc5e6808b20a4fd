/**
 * The command line: the options every command takes, strict parsing with "did you mean"
 * answers, and the parsers for the values (times, leases, ports, protocols, interfaces).
 */
import net from 'node:net'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { DISCOVER_TIMEOUT_MS } from '../lib/defaults.ts'
import { VIA_NAME } from '../lib/explain.ts'
import type { Protocol } from '../lib/types.ts'
import {
  type Command,
  type CliError,
  type OptionSpec,
  type Globals,
  type Invocation,
  type OptionValues,
  type ProtocolChoice,
  usage,
} from './command.ts'
import { runAs } from './invocation.ts'

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  interface: { type: 'string' },
  gateway: { type: 'string' },
  ipv6: { type: 'boolean' },
  protocol: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-color': { type: 'boolean' },
  verbose: { type: 'boolean' },
  'log-http': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
}

/** Without a command, `upnp-native` runs this one. */
export const DEFAULT_COMMAND = 'status'

export type ParseOutcome = { kind: 'run'; invocation: Invocation } | { kind: 'help'; command: string | null } | { kind: 'version' }

/** Every option any command knows, for parseArgs (commands that share a name share its type). */
function allOptions(commands: readonly Command[]): Record<string, OptionSpec> {
  return Object.assign({}, GLOBAL_OPTIONS, ...commands.map((c) => c.options)) as Record<string, OptionSpec>
}

/** The command line read leniently (unknown options tolerated), so that even a usage error
 *  can answer in JSON and name its command. */
export function lenient(argv: string[], commands: readonly Command[]): { json: boolean; noColor: boolean; command: string | null } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: allOptions(commands), strict: false, allowPositionals: true })
    const first = positionals[0]
    const command = first === undefined ? DEFAULT_COMMAND : commands.some((c) => c.name === first) ? first : null
    return { json: values.json === true, noColor: values['no-color'] === true, command }
  } catch {
    return { json: false, noColor: false, command: null }
  }
}

/** The nearest of `choices` to a mistyped `word` (prefix or edit distance <= 2), else null. */
export function closest(word: string, choices: readonly string[]): string | null {
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

export function parseCommandLine(argv: string[], commands: readonly Command[]): ParseOutcome {
  const options = allOptions(commands)
  const names = commands.map((c) => c.name)
  let result
  try {
    result = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (error) {
    const e = error as Error & { code?: string }
    const named = /'([^']+)'/.exec(e.message)?.[1] ?? ''
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = named.split('=')[0] ?? named
      const guess = option.startsWith('--') ? closest(option.slice(2), Object.keys(options)) : null
      throw usage(`unknown option ${option}`, guess ? `Did you mean --${guess}? See \`upnp-native --help\`.` : undefined)
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const option =
        named
          .replace(/ <value>$/, '')
          .split(',')
          .pop()
          ?.trim() ?? named
      const opt = option.replace(/^-+/, '')
      if (options[opt]?.type === 'boolean') throw usage(`option --${opt} takes no value`)
      throw usage(`option --${opt} needs a value`)
    }
    throw usage(e.message)
  }
  const values = result.values as OptionValues
  const [first, ...rest] = result.positionals
  let command = DEFAULT_COMMAND
  let positionals = rest
  if (first === 'help') {
    const topic = rest[0]
    if (topic === undefined) return { kind: 'help', command: null }
    if (!names.includes(topic)) throw unknownCommand(topic, names)
    return { kind: 'help', command: topic }
  }
  if (first !== undefined) {
    if (!names.includes(first)) throw unknownCommand(first, names)
    command = first
  } else {
    positionals = []
  }
  if (values.version) return { kind: 'version' }
  if (values.help) return { kind: 'help', command: first === undefined ? null : command }

  const own = commands.find((c) => c.name === command)?.options ?? {}
  for (const name of Object.keys(values)) {
    if (name in GLOBAL_OPTIONS || name in own) continue
    const owners = commands.filter((c) => name in c.options).map((c) => c.name)
    throw usage(
      `--${name} is not an option of \`${command}\``,
      owners.length
        ? `--${name} belongs to ${owners.map((c) => `\`${c}\``).join(' and ')}; see \`upnp-native ${command} --help\`.`
        : undefined,
    )
  }
  return { kind: 'run', invocation: { command, positionals, values, globals: parseGlobals(values, command) } }
}

function unknownCommand(word: string, names: readonly string[]): CliError {
  const guess = closest(word, names)
  return usage(
    `unknown command "${word}"`,
    `${guess ? `Did you mean \`upnp-native ${guess}\`? ` : ''}Commands: ${names.join(', ')} (see \`upnp-native --help\`).`,
  )
}

function parseGlobals(values: OptionValues, command: string): Globals {
  const protocol = typeof values.protocol === 'string' ? values.protocol : 'auto'
  if (!['upnp', 'pmp', 'pcp', 'auto'].includes(protocol)) {
    throw usage(`--protocol must be upnp, pmp, pcp or auto, not "${protocol}"`)
  }
  const via: ProtocolChoice = protocol === 'pmp' ? 'natpmp' : (protocol as ProtocolChoice)
  // `map --ipv6 --keep --protocol pcp` holds a PCP pinhole; otherwise --ipv6 is UPnP's.
  if ((via === 'natpmp' || (via === 'pcp' && command !== 'map')) && values.ipv6) {
    throw usage(
      `--ipv6 works with UPnP only${via === 'pcp' ? ' (and `map --keep`)' : ''}; ${VIA_NAME[via]} goes to the IPv4 default gateway`,
      'Leave out --ipv6, or use --protocol upnp.',
    )
  }
  const iface = typeof values.interface === 'string' ? values.interface : ''
  if (values.interface !== undefined) checkInterface(iface)
  return {
    protocol: via,
    json: values.json === true,
    quiet: values.quiet === true,
    noColor: values['no-color'] === true,
    timeoutMs: values.timeout === undefined ? DISCOVER_TIMEOUT_MS : parseTime(String(values.timeout)),
    iface,
    gateway: typeof values.gateway === 'string' ? values.gateway.trim() : '',
    ipv6: values.ipv6 === true,
    verbose: values.verbose === true,
    logHttp: values['log-http'] === true,
  }
}

/** `--timeout`: seconds (`2`, `1.5`, `2s`) or milliseconds (`800ms`), 0.1 s .. 10 min. */
export function parseTime(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim())
  const ms = m ? Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)) : NaN
  if (!(ms >= 100 && ms <= 600_000)) {
    throw usage(`--timeout "${text}" is not a time between 0.1s and 600s`, 'Examples: --timeout 5, --timeout 1.5s, --timeout 800ms.')
  }
  return ms
}

const LEASE_UNITS: Record<string, number> = { sec: 1, s: 1, min: 60, m: 60, h: 3600, d: 86400 }

/** `--lease`: whole seconds, or with units as the CLI itself prints them: `90`, `90s`, `30m`,
 *  `10min`, `10 min`, `2h`, `1 h 30 min`, `7d`; 0 or `permanent` = permanent. */
export function parseLease(text: string): number {
  const t = text.trim().toLowerCase()
  let seconds = NaN
  if (/^\d+$/.test(t)) seconds = Number(t)
  else if (t === 'permanent') seconds = 0
  else if (/^(?:\d+\s*(?:sec|min|s|m|h|d)\s*)+$/.test(t)) {
    seconds = 0
    for (const [, n, unit] of t.matchAll(/(\d+)\s*(sec|min|s|m|h|d)/g)) seconds += Number(n) * (LEASE_UNITS[unit ?? 's'] ?? 1)
  }
  if (!(seconds >= 0 && seconds <= 0xffff_ffff)) {
    throw usage(`--lease "${text}" is not a duration`, 'Examples: --lease 3600, --lease 30m, --lease 2h, --lease 0 (permanent).')
  }
  return seconds
}

/** A note for `--lease 10`: a bare number is seconds, which under a minute is rarely meant. */
export function leaseNote(text: string): string | null {
  const t = text.trim()
  if (!/^\d+$/.test(t) || Number(t) === 0 || Number(t) >= 60) return null
  return `note: --lease ${t} is ${t} second${t === '1' ? '' : 's'} (a bare number is seconds); for minutes write --lease ${t}m.`
}

export function parsePort(text: string | undefined, what: string): number {
  if (text === undefined) throw usage(`${what} is missing`)
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw usage(`${what} "${text}" is not a port number (1-65535)`)
  }
  return Number(text)
}

/** --udp / --tcp / --both: the protocols to act on (default UDP). */
export function parseProtocols(values: OptionValues): Protocol[] {
  const chosen = (['udp', 'tcp', 'both'] as const).filter((p) => values[p] === true)
  if (chosen.length > 1) throw usage(`choose one of --udp, --tcp and --both, not ${chosen.map((c) => `--${c}`).join(' and ')}`)
  if (values.both) return ['UDP', 'TCP']
  return values.tcp ? ['TCP'] : ['UDP']
}

export function onePositional(invocation: Invocation, what: string): string | undefined {
  if (invocation.positionals.length > 1) {
    throw usage(`\`${invocation.command}\` takes one ${what}, got ${invocation.positionals.length}: ${invocation.positionals.join(' ')}`)
  }
  return invocation.positionals[0]
}

export function noPositionals(invocation: Invocation, fix?: string): void {
  if (invocation.positionals.length) {
    throw usage(`\`${invocation.command}\` takes no arguments, got: ${invocation.positionals.join(' ')}`, fix)
  }
}

export function localInterfaces(): Array<{ name: string; address: string; family: string; internal: boolean }> {
  return Object.entries(os.networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).map((a) => ({ name, address: a.address, family: a.family, internal: a.internal })),
  )
}

export function describeInterfaces(): string {
  const external = localInterfaces().filter((i) => !i.internal && i.family === 'IPv4')
  return external.length ? external.map((i) => `${i.name} ${i.address}`).join(', ') : 'none with an IPv4 address'
}

/** `--interface` must name an interface of this machine or one of its addresses. */
function checkInterface(value: string): void {
  const all = localInterfaces()
  const ok = value !== '' && all.some((i) => i.name === value || i.address === value || (net.isIP(value) && i.address === value))
  if (!ok) {
    throw usage(
      `--interface "${value}" is not a network interface of this machine`,
      `Give a name or an address of one of: ${describeInterfaces()}.`,
    )
  }
}

/** list and unmap exist in UPnP only: NAT-PMP and PCP have no table, and a mapping belongs to its maker. */
export function upnpOnly(g: Globals, command: 'list' | 'unmap' | 'prune'): void {
  if (g.protocol !== 'natpmp' && g.protocol !== 'pcp') return
  const name = VIA_NAME[g.protocol]
  if (command === 'list' || command === 'prune')
    throw usage(`${name} has no mapping table to list`, 'Use --protocol upnp (or leave --protocol out).')
  throw usage(
    `a ${name} mapping can only be deleted by the program that made it (it ends when its lease runs out)`,
    `\`${runAs()} map <port> --keep --protocol ${g.protocol === 'natpmp' ? 'pmp' : 'pcp'}\` deletes its mapping when you press Ctrl-C.`,
  )
}
