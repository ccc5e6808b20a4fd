/** `upnp-native list`: the router's port-forwarding table (UPnP). */
import { upnpOnly } from '../args.ts'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../command.ts'
import { duration, hostOf, modelText, table } from '../format.ts'
import { needGateway } from '../gateways.ts'
import { shown } from '../terminal.ts'
import { envelope, gatewayJson } from '../json.ts'
import { codeText, explainFailure } from '../../lib/explain.ts'

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  if (parsed.positionals.length) throw usage(`\`list\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  upnpOnly(parsed.globals, 'list')
  const { found, gateway } = await needGateway(ctx, parsed.globals)
  const entries = await gateway.listPortMappings()
  const failed = gateway.lastError
  if (failed && entries.length === 0) {
    const failure = explainFailure(failed)
    throw new CliError(
      EXIT.FAILED,
      'LIST_FAILED',
      `the gateway ${hostOf(gateway.descriptionUrl)} did not list its mappings (${codeText(failure)})`,
      failure.fix,
      failure,
    )
  }
  out.json(envelope('list', EXIT.OK, { gateway: gatewayJson(ctx.lib, gateway, found.selected), mappings: entries }))
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
    const from = e.remoteHost ? ` from ${shown(e.remoteHost, 45)}` : ''
    rows.push([
      e.protocol,
      `${e.externalPort}${from}`,
      '→',
      `${shown(e.internalClient, 45)}:${e.internalPort}${mine}`,
      duration(e.leaseDuration),
      shown(e.description, 60) + (e.enabled ? '' : ' (disabled)'),
    ])
  }
  const lines = table(rows, s, true)
  ;(out.globals.quiet ? lines.slice(1) : lines).forEach((line) => out.line(line))
  // The walk stopped early (a broken entry, a table over the byte budget): say so.
  if (failed) out.note(out.err.yellow(`note: the list may be incomplete: ${codeText(explainFailure(failed))}`))
  return EXIT.OK
}

export const listCommand: Command = {
  name: 'list',
  synopsis: 'list',
  summary: "the router's port forwards",
  options: {},
  help: `Usage: upnp-native list [options]

The router's port-forwarding table (UPnP): protocol, external port, internal address and
port, lease left, description. Rows for this machine are marked. Routers that also speak
NAT-PMP/PCP usually list those mappings here too.

Examples:
  upnp-native list
  upnp-native list --json | jq '.mappings[] | select(.protocol == "TCP")'`,
  run,
}
