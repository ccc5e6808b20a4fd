/** `upnp-native map <port>`: forwards a port of the router to this machine. Over UPnP once
 *  (`once.ts`), held with --keep (`keep.ts`, also over NAT-PMP and PCP), or with --ipv6 a
 *  pinhole in the router's IPv6 firewall (`pinholes.ts`, or held by `keep.ts`). */
import { MAPPER_LEASE_S, MAPPING_DESCRIPTION, PINHOLE_MAX_LEASE_S } from '../../../lib/defaults.ts'
import { VIA_NAME } from '../../../lib/explain.ts'
import { leaseNote, onePositional, parseLease, parsePort, parseProtocols } from '../../args.ts'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Globals, type Invocation, usage } from '../../command.ts'
import { needGateway, probeRouter } from '../../gateways.ts'
import { runAs } from '../../invocation.ts'
import { needPinholeDevice } from '../../ipv6.ts'
import { keepMapping, type MapPlan } from './keep.ts'
import { mapOnce, protocolFlags } from './once.ts'
import { mapPinholes } from './pinholes.ts'

/** Lease of a `map --keep` mapping when none is given: renewed at half, gone an hour after a crash. */
const KEEP_DEFAULT_LEASE = MAPPER_LEASE_S

/** `--protocol pmp`/`pcp` as typed. */
const flagOf = (via: 'natpmp' | 'pcp'): string => (via === 'natpmp' ? 'pmp' : 'pcp')

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const g = parsed.globals
  const keep = parsed.values.keep === true
  const plan = readPlan(parsed, ctx, keep)
  if (g.ipv6) return mapIpv6(parsed, ctx, keep, plan)
  const via = g.protocol
  if (via === 'natpmp' || via === 'pcp') {
    if (!keep) {
      throw usage(
        `with --protocol ${flagOf(via)}, map needs --keep: a ${VIA_NAME[via]} mapping is a lease that only the program holding it can renew or delete`,
        `${runAs()} map ${plan.port} --keep --protocol ${flagOf(via)}`,
      )
    }
    return keepMapping(ctx, g, null, null, via, plan)
  }
  const { found, gateway } = await needUpnpGateway(ctx, g, plan)
  if (keep) return keepMapping(ctx, g, found, gateway, 'upnp', plan)
  return mapOnce(ctx, found, gateway, plan)
}

/** The ports, protocols, lease and description asked for, checked. */
function readPlan(parsed: Invocation, ctx: Context, keep: boolean): MapPlan {
  const { out } = ctx
  const v = parsed.values
  const port = parsePort(onePositional(parsed, 'port'), 'the port to map')
  const internal = v.internal === undefined ? port : parsePort(String(v.internal), '--internal')
  const protocols = parseProtocols(v)
  const lease = v.lease === undefined ? (keep ? KEEP_DEFAULT_LEASE : 0) : parseLease(String(v.lease))
  const note = v.lease === undefined ? null : leaseNote(String(v.lease))
  if (note) out.note(out.err.yellow(note))
  const description = typeof v.description === 'string' ? v.description : MAPPING_DESCRIPTION
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(description)) throw usage('--description may not contain control characters')
  return { port, internal, protocols, lease, description }
}

/** IPv6: a pinhole for this machine's own address and port (no NAT, no translation). */
async function mapIpv6(parsed: Invocation, ctx: Context, keep: boolean, asked: MapPlan): Promise<ExitCode> {
  const g = parsed.globals
  const { port, internal, protocols, lease } = asked
  if (parsed.values.internal !== undefined && internal !== port)
    throw usage('an IPv6 pinhole opens <port> itself: --internal cannot differ')
  if (parsed.values.description !== undefined) throw usage('IPv6 pinholes carry no description')
  if (lease > PINHOLE_MAX_LEASE_S)
    throw usage(
      `an IPv6 pinhole lasts at most ${PINHOLE_MAX_LEASE_S / 3600} h (${PINHOLE_MAX_LEASE_S} s); --keep renews one for as long as it runs`,
    )
  if (g.protocol === 'pcp' && !keep) {
    throw usage(
      'with --protocol pcp, map needs --keep: a PCP pinhole is a lease only the program holding it can renew or close',
      `${runAs()} map ${port} --ipv6 --keep --protocol pcp`,
    )
  }
  if (!keep) return mapPinholes(ctx, g, { port, protocols, lease })
  const plan = { port, internal, protocols, lease, description: '', family: 'ipv6' as const }
  if (g.protocol === 'pcp') return keepMapping(ctx, g, null, null, 'pcp', plan)
  const { found, device } = await needPinholeDevice(ctx, g)
  return keepMapping(ctx, g, found, device, 'upnp', plan)
}

/** The UPnP gateway; without one under `auto`, the error says how to map over NAT-PMP or PCP
 *  when the router answers one of them. */
function needUpnpGateway(ctx: Context, g: Globals, plan: MapPlan): ReturnType<typeof needGateway> {
  return needGateway(ctx, g).catch(async (error: unknown) => {
    if (!(error instanceof CliError) || error.exitCode !== EXIT.NO_GATEWAY || g.protocol !== 'auto') throw error
    ctx.out.spinner.start('No UPnP gateway; asking NAT-PMP and PCP…')
    const probed = await probeRouter(ctx.lib, g).finally(() => ctx.out.spinner.stop())
    const other = (['natpmp', 'pcp'] as const).find((v) => probed?.[v].available)
    if (!other) throw error
    throw new CliError(
      error.exitCode,
      error.code,
      error.message,
      `The router answers ${VIA_NAME[other]}, so this works: ${runAs()} map ${plan.port}${protocolFlags(plan.protocols)} --keep --protocol ${flagOf(other)}`,
      error.failure,
    )
  })
}

export const mapCommand: Command = {
  name: 'map',
  synopsis: 'map <port>',
  summary: 'forward a port of the router to this machine',
  options: {
    internal: { type: 'string' },
    udp: { type: 'boolean' },
    tcp: { type: 'boolean' },
    both: { type: 'boolean' },
    lease: { type: 'string' },
    description: { type: 'string' },
    keep: { type: 'boolean' },
  },
  help: `Usage: upnp-native map <port> [--internal <port>] [--udp|--tcp|--both] [--lease <time>]
                       [--description <text>] [--keep] [options]

Forwards <port> on the router's external address to this machine.
  --internal <port>    the port on this machine (default: the same as <port>)
  --udp, --tcp, --both the protocol (default UDP); --both maps both or neither
  --lease <time>       how long the router keeps it: 3600 (seconds), 30m, 10min, 2h,
                       1h30m, 7d; 0 = permanent
                       (the default; with --keep the default is ${MAPPER_LEASE_S / 3600}h, renewed at half)
  --description <text> shown in the router's list (default "${MAPPING_DESCRIPTION}")
  --keep               hold the mapping: renew it, re-add it if the router forgets it,
                       and delete it on Ctrl-C (or SIGTERM) before exiting

Maps over UPnP (also with --protocol auto): only UPnP mappings can be permanent, listed
and deleted later by another command. --protocol pmp or pcp maps over NAT-PMP or PCP and
needs --keep, since such a mapping is a lease only its holder can renew or delete.

With --ipv6 it opens a pinhole in the router's IPv6 firewall instead: IPv6 has no NAT, so
peers reach <port> at this machine's own IPv6 address once the router lets it through
(UPnP's IPv6 firewall service, searched over IPv6; with --keep --protocol pcp, over PCP).
Pinholes last at most ${PINHOLE_MAX_LEASE_S / 3600} h (the default without --keep); --keep renews one.

Exit: 0 mapped, 1 the router refused (the reason and a fix are printed), 3 no gateway.

Examples:
  upnp-native map 7777
  upnp-native map 25565 --tcp --description minecraft
  upnp-native map 8080 --internal 3000 --tcp --lease 2h
  upnp-native map 27015 --both --keep
  upnp-native map 7777 --keep --protocol pmp
  upnp-native map 7777 --ipv6
  upnp-native map 7777 --ipv6 --keep --protocol pcp`,
  run,
}
