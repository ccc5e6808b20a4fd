/** `upnp-native map <port>`: forwards a port of the router to this machine (UPnP), once;
 *  with --keep (and over NAT-PMP/PCP) `map-keep.ts` holds it. */
import { MAPPER_LEASE_S, MAPPING_DESCRIPTION } from '../../lib/defaults.ts'
import { leaseNote, onePositional, parseLease, parsePort, parseProtocols } from '../args.ts'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../command.ts'
import { keepMapping } from './map-keep.ts'
import { mapPinholes } from './pinholes.ts'
import { needPinholeDevice } from '../ipv6.ts'
import { PINHOLE_MAX_LEASE_S } from '../../lib/defaults.ts'
import { arrow, duration, natKind, natSentence } from '../format.ts'
import { needGateway, probeRouter } from '../gateways.ts'
import { type JsonMapping, envelope, gatewayJson, mappingJson } from '../json.ts'
import { explainMapping, holderOf, mappingText } from '../refusals.ts'
import { UPNPResult } from '../../lib/errors.ts'
import { VIA_NAME, codeText } from '../../lib/explain.ts'
import { runAs } from '../invocation.ts'

/** Lease of a `map --keep` mapping when none is given: renewed at half, gone an hour after a crash. */
const KEEP_DEFAULT_LEASE = MAPPER_LEASE_S

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  const v = parsed.values
  const port = parsePort(onePositional(parsed, 'port'), 'the port to map')
  const internal = v.internal === undefined ? port : parsePort(String(v.internal), '--internal')
  const protocols = parseProtocols(v)
  const keep = v.keep === true
  const lease = v.lease === undefined ? (keep ? KEEP_DEFAULT_LEASE : 0) : parseLease(String(v.lease))
  const note = v.lease === undefined ? null : leaseNote(String(v.lease))
  if (note) out.note(out.err.yellow(note))
  const description = typeof v.description === 'string' ? v.description : MAPPING_DESCRIPTION
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(description)) throw usage('--description may not contain control characters')
  const via = parsed.globals.protocol
  if (parsed.globals.ipv6) {
    // IPv6: a pinhole for this machine's own address and port (no NAT, no translation).
    if (v.internal !== undefined && internal !== port) throw usage('an IPv6 pinhole opens <port> itself: --internal cannot differ')
    if (v.description !== undefined) throw usage('IPv6 pinholes carry no description')
    if (lease > PINHOLE_MAX_LEASE_S)
      throw usage(`an IPv6 pinhole lasts at most 24 h (${PINHOLE_MAX_LEASE_S} s); --keep renews one for as long as it runs`)
    if (via === 'pcp' && !keep) {
      throw usage(
        'with --protocol pcp, map needs --keep: a PCP pinhole is a lease only the program holding it can renew or close',
        `${runAs()} map ${port} --ipv6 --keep --protocol pcp`,
      )
    }
    if (!keep) return mapPinholes(ctx, parsed.globals, { port, protocols, lease })
    const plan = { port, internal, protocols, lease, description: '', family: 'ipv6' as const }
    if (via === 'pcp') return keepMapping(ctx, parsed.globals, null, null, 'pcp', plan)
    const { found, device } = await needPinholeDevice(ctx, parsed.globals)
    return keepMapping(ctx, parsed.globals, found, device, 'upnp', plan)
  }
  if (via === 'natpmp' || via === 'pcp') {
    const flag = via === 'natpmp' ? 'pmp' : 'pcp'
    if (!keep) {
      throw usage(
        `with --protocol ${flag}, map needs --keep: a ${VIA_NAME[via]} mapping is a lease that only the program holding it can renew or delete`,
        `${runAs()} map ${port} --keep --protocol ${flag}`,
      )
    }
    return keepMapping(ctx, parsed.globals, null, null, via, { port, internal, protocols, lease, description })
  }
  const { found, gateway } = await needGateway(ctx, parsed.globals).catch(async (error: unknown) => {
    // auto and no UPnP gateway: if the router speaks NAT-PMP or PCP, say how to use it.
    if (!(error instanceof CliError) || error.exitCode !== EXIT.NO_GATEWAY || via !== 'auto') throw error
    out.spinner.start('No UPnP gateway; asking NAT-PMP and PCP…')
    const probed = await probeRouter(ctx.lib, parsed.globals).finally(() => out.spinner.stop())
    const other = (['natpmp', 'pcp'] as const).find((v) => probed?.[v].available)
    if (!other) throw error
    const flag = other === 'natpmp' ? 'pmp' : 'pcp'
    throw new CliError(
      error.exitCode,
      error.code,
      error.message,
      `The router answers ${VIA_NAME[other]}, so this works: ${runAs()} map ${port}${protocols.length === 2 ? ' --both' : protocols[0] === 'TCP' ? ' --tcp' : ''} --keep --protocol ${flag}`,
      error.failure,
    )
  })
  if (keep) return keepMapping(ctx, parsed.globals, found, gateway, 'upnp', { port, internal, protocols, lease, description })

  const s = out.out
  const done: JsonMapping[] = []
  for (const protocol of protocols) {
    const result = await gateway.addPortMapping(port, internal, description, protocol, lease)
    if (result !== UPNPResult.SUCCESS) {
      const failure = explainMapping(gateway.lastError ?? { result, description: UPNPResult[result] ?? 'refused' }, gateway, lease, {
        externalPort: port,
        internalPort: internal,
        internalGiven: internal !== port,
      })
      const holder = await holderOf(gateway, port, protocol, failure)
      // --both is all or nothing: take back what this run already added.
      for (const m of done) await gateway.deletePortMapping(m.externalPort, m.protocol)
      const undone = done.length ? `; the ${done.map((m) => m.protocol).join('/')} mapping made just before was deleted again` : ''
      throw new CliError(
        EXIT.FAILED,
        'MAPPING_REFUSED',
        `the router refused to map ${protocol} ${port} ${arrow(out.err)} ${gateway.igdOurAddr}:${internal}: ${codeText(failure)}${holder}${undone}`,
        failure.fix,
        failure,
      )
    }
    // What the router really holds (the lease it granted).
    const entry = await gateway.getPortMapping(port, protocol)
    done.push(
      mappingJson(
        { via: 'upnp', protocol, externalPort: port, internalPort: internal, description },
        gateway.externalAddress,
        entry?.internalClient || gateway.igdOurAddr,
        entry?.leaseDuration ?? lease,
        lease,
      ),
    )
  }
  out.json(envelope('map', EXIT.OK, { keep: false, via: 'upnp', gateway: gatewayJson(ctx.lib, gateway, found.selected), mappings: done }))
  for (const m of done) {
    out.line(`${s.green('Mapped')} ${mappingText(s, m)}  ${s.dim(`(lease ${duration(m.lease)}, "${m.description}")`)}`)
  }
  const natNow = natKind(ctx.lib, gateway?.externalAddress ?? '')
  if (natNow !== 'none' && natNow !== 'unknown')
    out.info(s.yellow(`Note: double NAT: ${natSentence(natNow, gateway.externalAddress)}; the port is not reachable from the Internet.`))
  out.info(s.dim(`Delete with: ${runAs()} unmap ${port}${protocols.length === 2 ? ' --both' : protocols[0] === 'TCP' ? ' --tcp' : ''}`))
  return EXIT.OK
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
                       (the default; with --keep the default is 1h, renewed at half)
  --description <text> shown in the router's list (default "upnp-native")
  --keep               hold the mapping: renew it, re-add it if the router forgets it,
                       and delete it on Ctrl-C (or SIGTERM) before exiting

Maps over UPnP (also with --protocol auto): only UPnP mappings can be permanent, listed
and deleted later by another command. --protocol pmp or pcp maps over NAT-PMP or PCP and
needs --keep, since such a mapping is a lease only its holder can renew or delete.

With --ipv6 it opens a pinhole in the router's IPv6 firewall instead: IPv6 has no NAT, so
peers reach <port> at this machine's own IPv6 address once the router lets it through
(UPnP's IPv6 firewall service, searched over IPv6; with --keep --protocol pcp, over PCP).
Pinholes last at most 24 h (the default without --keep); --keep renews one.

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
