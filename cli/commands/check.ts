/** `upnp-native check --stun HOST[:PORT]`: is a mapped port reachable from outside? */
import { CliError, type Command, type Context, EXIT, type ExitCode, type Invocation, type Globals, usage } from '../command.ts'
import { isDescriptionUrl, refusedUrl, routerOf } from '../gateways.ts'
import { envelope } from '../json.ts'
import { arrow } from '../format.ts'
import { VIA_NAME } from '../../lib/explain.ts'
import type { CheckNatOptions } from '../../lib/reachability/check-nat.ts'
import type { NatView } from '../../lib/reachability/nat-view.ts'
import type { ReachabilityOptions, ReachabilityReport } from '../../lib/reachability/check.ts'

/** --stun values, checked (the library checks again; this one names the option). */
export function stunServers(values: Invocation['values']): string[] {
  const raw = (values as Record<string, unknown>).stun
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String)
  if (list.length > 4) throw usage('--stun may be given at most 4 times')
  for (const s of list) {
    if (!/^[A-Za-z0-9.:[\]-]{1,255}$/.test(s)) throw usage(`--stun ${JSON.stringify(s)} is not HOST[:PORT]`)
  }
  return list
}

/** --gateway as the UPnP gateway's description URL (as every command reads it), on which the
 *  probe mapping is made; else "". */
function gatewayUrl(g: Globals): string {
  return isDescriptionUrl(g.gateway) ? g.gateway : ''
}

/** PortMapper options for the probe mapping, from the global options. */
export function probeMapperOptions(g: Globals): ReachabilityOptions['mapper'] {
  const router = routerOf(g)
  const url = gatewayUrl(g)
  return {
    discoverTimeout: g.timeoutMs,
    discoverMulticastIf: g.iface,
    ...(router && g.protocol !== 'upnp' ? { router } : {}),
    ...(url ? { gateway: url } : {}),
  }
}

/** checkNat() options that ask the router the probe mapping is made on (the --gateway URL's
 *  device: not whichever a search finds first), so that both lines speak of one router. */
function natOptions(g: Globals, stun: string[]): CheckNatOptions {
  const url = gatewayUrl(g)
  if (url) return { stun, upnpGateway: url }
  const router = routerOf(g)
  return { stun, ...(router ? { router } : {}) }
}

/** checkNat() as `check` and `doctor --stun` ask it; a refused --gateway URL is a usage error. */
export async function natFor(lib: Context['lib'], g: Globals, stun: string[]): Promise<NatView> {
  try {
    return await lib.checkNat(natOptions(g, stun))
  } catch (error) {
    throw (gatewayUrl(g) ? refusedUrl(lib, error) : null) ?? error
  }
}

/** One line on the NAT's behaviour (RFC 5780 terms). */
export function behaviourText(nat: NatView): string {
  if (nat.relation === 'no-nat') return 'no NAT between this machine and the STUN server'
  const m = nat.mapping ?? 'unknown'
  const f = nat.filtering ?? 'unknown'
  return `mapping ${m}, filtering ${f}`
}

/** The answer to "reachable from outside?" in the words docs/reachability.md promises. */
export function reachableWord(r: ReachabilityReport): string {
  switch (r.verdict) {
    case 'reachable':
      return 'yes'
    case 'reachable-anyway':
      return 'only without NAT filtering (reachable with or without the mapping)'
    case 'not-reachable':
      return 'no'
    default:
      return 'cannot tell'
  }
}

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out, lib } = ctx
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`check\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  if (parsed.values.tcp) {
    throw usage('TCP cannot be checked with STUN (UDP only)', "Check UDP, or let your app confirm TCP with PortMapper's verify hook.")
  }
  if (g.ipv6) throw usage('`check` tests an IPv4 mapping', 'Leave out --ipv6.')
  const stun = stunServers(parsed.values)
  if (!stun.length) {
    throw usage(
      '`check` needs a STUN server that implements RFC 5780: --stun HOST[:PORT]',
      'None is built in. Examples of public RFC 5780 servers: stun.stunprotocol.org, stun.sipnet.com (check they still run it).',
    )
  }
  const s = out.out
  out.info(s.bold('upnp-native check') + s.dim(` (a UDP probe mapping; STUN ${stun.join(', ')})`))
  out.spinner.start('Asking the STUN server how this network looks from outside…')
  const nat = await natFor(lib, g, stun).finally(() => out.spinner.stop())
  if (nat.publicAddress) out.info(`Public address    ${nat.publicAddress} (seen by ${nat.serverAddress})`)
  else out.info(`Public address    unknown: ${nat.notes[0] ?? 'no STUN server answered'}`)
  out.info(`Router says       ${nat.routerAddress || 'nothing'}: ${nat.explanation}`)
  if (nat.publicAddress) out.info(`NAT behaviour     ${behaviourText(nat)}`)
  out.spinner.start('Mapping a probe port and asking for an answer from the other address…')
  let report: ReachabilityReport
  try {
    report = await lib.checkReachability({ stun, via: g.protocol, mapper: probeMapperOptions(g) })
  } catch (error) {
    const e = error as Error
    throw new CliError(
      EXIT.NO_GATEWAY,
      'MAPPING_REFUSED',
      `the probe mapping could not be made: ${e.message}`,
      'Run `upnp-native doctor` to see why.',
    )
  } finally {
    out.spinner.stop()
  }
  const m = report.mapping
  out.info(
    `Probe mapping     UDP ${m.externalAddress}:${m.externalPort} ${arrow(s)} ${m.internalClient}:${m.internalPort} over ${VIA_NAME[report.via]}${report.repaired ? ' (deleted and added again once)' : ''}, deleted again`,
  )
  const exitCode = report.verdict === 'reachable' || report.verdict === 'reachable-anyway' ? EXIT.OK : EXIT.NO_GATEWAY
  out.json(envelope('check', exitCode, { nat, reachability: report }))
  const label = exitCode === EXIT.OK ? s.green(s.bold('Reachable from outside:')) : s.red(s.bold('Reachable from outside:'))
  out.line(`${label} ${reachableWord(report)}: ${report.reason}.`)
  if (report.fix && !g.quiet) out.line(`${s.bold('Fix:')} ${report.fix}`)
  return exitCode
}

/** The `check` command: a probe mapping checked from outside over STUN. */
export const checkCommand: Command = {
  name: 'check',
  synopsis: 'check --stun <host>',
  summary: 'prove from outside that a mapped port is reachable (STUN)',
  options: { stun: { type: 'string', multiple: true }, udp: { type: 'boolean' }, tcp: { type: 'boolean' } },
  help: `Usage: upnp-native check --stun <host[:port]> [--stun ...] [options]

Maps a UDP probe port (over --protocol: auto = what PortMapper would use, or upnp, pmp,
pcp), then asks a STUN server to answer from its other address and port to the mapping's
external port: that answer arrives only if unsolicited traffic is forwarded. An unmapped
port asks the same, to tell "reachable because of the mapping" from "reachable anyway"
(a NAT that does not filter). Also shows the public address as seen from outside against
the router's, and the NAT's mapping and filtering behaviour (RFC 5780). A mapping that is
listed but not forwarded is deleted and added again once. The probe mapping is deleted.
With --gateway <description URL>, the mapping is made on that device and the router's
address compared is that device's too (no search).

  --stun <host[:port]>  a STUN server implementing RFC 5780 (two addresses); port 3478 by
                        default; up to 4, asked in order. None is built in.
  --udp                 the only protocol STUN can check (TCP: use PortMapper's verify)

Exit: 0 reachable, 3 not reachable or cannot tell, 2 usage.

Examples:
  upnp-native check --stun stun.example.net
  upnp-native check --stun 198.51.100.7:3478 --protocol pcp --json`,
  run,
}
