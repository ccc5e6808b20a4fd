/** `upnp-native status`: the gateways that answered, the external address, double NAT. */
import { type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../command.ts'
import { STATUS_TEXT, hostOf, igdVersion, modelText, natKind, natSentence, seconds, serverUp, statusName, table } from '../format.ts'
import { defaultRoute, findEverything, pxpProtocols, noGatewayFor, whySelected } from '../gateways.ts'
import { envelope, errorJson, gatewayJson, protocolsJson } from '../json.ts'
import { ipv6Inbound, ipv6InboundText, pinholeDevice } from '../ipv6.ts'
import { VIA_NAME } from '../../lib/explain.ts'
import { type Via } from '../../lib/types.ts'
import { runAs } from '../invocation.ts'

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`status\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  const started = performance.now()
  const { found, probed } = await findEverything(ctx, g, 'all')
  const elapsedMs = performance.now() - started
  const devices = found?.devices ?? []
  const usable = found?.gateway ?? null
  const pxp = pxpProtocols(g).filter((v) => probed?.[v].available)
  // The external address: the UPnP gateway's, else what NAT-PMP said.
  const natpmpAddress = probed?.natpmp.available ? probed.natpmp.externalAddress : ''
  const external = usable?.externalAddress || natpmpAddress
  const externalVia: Via | null = usable?.externalAddress ? 'upnp' : natpmpAddress ? 'natpmp' : null
  const nat = natKind(ctx.lib, external)
  const problem = usable || pxp.length ? null : noGatewayFor(found, probed, g)
  const exitCode: ExitCode = problem?.exitCode ?? EXIT.OK
  // Whether inbound IPv6 can be opened (UPnP's IPv6 firewall service; asked over IPv4 too).
  const inbound = found ? await ipv6Inbound(pinholeDevice(found, g) ?? usable) : null

  if (out.globals.json) {
    out.json(
      envelope('status', exitCode, {
        gateways: devices.map((d) => gatewayJson(ctx.lib, d, found?.selected ?? null)),
        gateway: usable ? gatewayJson(ctx.lib, usable, found?.selected ?? null) : null,
        protocols: protocolsJson(probed),
        externalAddress: external,
        nat,
        defaultRoute: found?.route ?? (await defaultRoute(ctx.lib)),
        ipv6Inbound: inbound,
        ...(problem ? { error: errorJson(problem) } : {}),
      }),
    )
    return exitCode
  }
  const s = out.out
  const several = devices.length > 1
  const rows: Array<{ cells: string[]; colour: (text: string) => string }> = devices.map((d) => {
    const name = statusName(d)
    const kind = natKind(ctx.lib, d?.externalAddress ?? '')
    let status = STATUS_TEXT[name] ?? name
    if (d.isValidGateway() && (kind === 'double-nat' || kind === 'cgnat'))
      status += kind === 'cgnat' ? ', carrier-grade NAT' : ', double NAT'
    const cells = [`UPnP ${igdVersion(d)}`, hostOf(d.descriptionUrl), modelText(d), status]
    const colour = d.isValidGateway() ? (kind === 'none' ? s.green : s.yellow) : s.red
    return { cells: several ? [d === found?.selected ? '*' : ' ', ...cells] : cells, colour }
  })
  // NAT-PMP/PCP rows when something answered at all (else the error below says it all).
  if (probed && probed.router && (devices.length || pxp.length)) {
    for (const via of pxpProtocols(g)) {
      const report = probed[via]
      const status = report.available ? 'answers' : report.meaning === 'TIMEOUT' ? 'no answer' : `no: ${report.meaning}`
      const cells = [VIA_NAME[via], probed.router, report.epoch != null ? serverUp(report.epoch) : '-', status]
      rows.push({ cells: several ? [' ', ...cells] : cells, colour: report.available ? s.green : s.dim })
    }
  }
  if (rows.length) {
    out.info(s.bold(`Found in ${seconds(elapsedMs)}:`))
    table(
      rows.map((r) => r.cells),
      s,
      false,
    ).forEach((line, i) => {
      const row = rows[i]!
      const status = row.cells[row.cells.length - 1]!
      out.line(line.endsWith(status) ? line.slice(0, line.length - status.length) + row.colour(status) : line)
    })
    if (several && found?.selected)
      out.info(s.dim(`* = the UPnP gateway in use: ${whySelected(found, g)} (choose with --gateway <address>)`))
  }
  if (problem) {
    if (rows.length) out.line()
    out.error(problem, 'status')
    return problem.exitCode
  }
  const from = externalVia && externalVia !== 'upnp' ? s.dim(` (from ${VIA_NAME[externalVia]})`) : ''
  out.line(
    `${s.bold('External address:')} ${external || (pxp.includes('pcp') && pxp.length === 1 ? 'unknown (PCP tells it only with a mapping)' : 'unknown')}${from}`,
  )
  if (external) {
    const verdict = natSentence(nat, external)
    out.line(`${s.bold('Double NAT:')} ${nat === 'none' ? s.green(verdict) : s.yellow(verdict)}`)
    if (nat !== 'none') out.info(s.dim(`Run \`${runAs()} doctor\` for what to do about it.`))
  }
  if (inbound) {
    const { text, ok } = ipv6InboundText(inbound)
    out.line(`${s.bold('IPv6 inbound:')} ${ok ? s.green(text) : s.yellow(text)}`)
  }
  return EXIT.OK
}

export const statusCommand: Command = {
  name: 'status',
  synopsis: 'status',
  summary: 'gateways, external address, double NAT (the default)',
  options: {},
  help: `Usage: upnp-native status [options]

Lists the gateways that answered (protocol, address, model, status), the external address
of the one in use, and whether there is a second NAT (double NAT, carrier-grade NAT) above it.
Searches for UPnP gateways for the whole --timeout, to see every one, and asks the router
over NAT-PMP and PCP at the same time (--protocol picks one of them). Also says whether
inbound IPv6 can be opened: the router's IPv6 firewall is on and lets programs open
pinholes (\`map --ipv6\`), or is off.

Exit: 0 a usable gateway (any protocol), 3 none.

Examples:
  upnp-native status
  upnp-native status --json
  upnp-native status --protocol pmp
  upnp-native status --interface eth0 --timeout 5`,
  run,
}
