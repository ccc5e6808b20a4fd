/**
 * `upnp-native prune`: deletes this machine's leftovers of one owner from the router's table
 * (UPnP), through `PortMapper.prune()`: entries that forward to one of this machine's addresses
 * and carry the owner's description (MAPPING_DESCRIPTION unless --description says another);
 * never another machine's entry, whatever its description.
 */
import { upnpOnly } from '../args.ts'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../command.ts'
import { arrow } from '../format.ts'
import { needGateway } from '../gateways.ts'
import { envelope, errorJson, gatewayJson } from '../json.ts'
import { refusalError } from '../refusals.ts'
import { shown } from '../terminal.ts'
import { MAPPING_DESCRIPTION } from '../../lib/defaults.ts'
import { codeText, explainFailure } from '../../lib/explain.ts'
import type { PortMappingEntry } from '../../lib/types.ts'

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  if (parsed.positionals.length) throw usage(`\`prune\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  upnpOnly(parsed.globals, 'prune')
  const owner = typeof parsed.values.description === 'string' ? parsed.values.description : MAPPING_DESCRIPTION
  if (/\p{Cc}/u.test(owner)) throw usage('--description may not contain control characters')
  const dryRun = parsed.values['dry-run'] === true
  const { found, gateway } = await needGateway(ctx, parsed.globals)
  const mapper = new ctx.lib.PortMapper({ gateway, description: owner, cleanupOnExit: false, watchAnnouncements: false })
  let report
  try {
    report = await mapper.prune({ dryRun })
  } catch (error) {
    const failure = explainFailure(error as Parameters<typeof explainFailure>[0])
    throw new CliError(EXIT.FAILED, 'LIST_FAILED', `the gateway did not list its mappings (${codeText(failure)})`, failure.fix, failure)
  } finally {
    await mapper.close()
  }
  const s = out.out
  const line = (e: PortMappingEntry) => `${e.protocol} ${e.externalPort} ${arrow(s)} ${shown(e.internalClient, 45)}:${e.internalPort}`
  const firstFailure = report.failed[0] && explainFailure(report.failed[0].error)
  const failed = firstFailure
    ? refusalError('DELETE_REFUSED', `delete ${report.failed.length} of ${report.matched.length} entries`, firstFailure)
    : null
  const exitCode = failed ? failed.exitCode : EXIT.OK
  if (out.globals.json) {
    out.json(
      envelope('prune', exitCode, {
        gateway: gatewayJson(ctx.lib, gateway, found.selected),
        owner,
        dryRun,
        matched: report.matched,
        deleted: report.deleted,
        failed: report.failed.map((f) => ({ entry: f.entry, failure: explainFailure(f.error) })),
        ...(failed ? { error: errorJson(failed) } : {}),
      }),
    )
    return exitCode
  }
  if (!report.matched.length) out.line(`Nothing to prune: no entry of this machine is described "${shown(owner, 60)}".`)
  for (const e of report.matched) {
    const deleted = report.deleted.includes(e)
    out.line(dryRun ? `Would delete ${line(e)}` : deleted ? `${s.green('Deleted')} ${line(e)}` : `${s.red('Not deleted')} ${line(e)}`)
  }
  if (failed) out.error(failed, 'prune')
  return exitCode
}

export const pruneCommand: Command = {
  name: 'prune',
  synopsis: 'prune',
  summary: "delete this machine's leftover forwards",
  options: { 'dry-run': { type: 'boolean' }, description: { type: 'string' } },
  help: `Usage: upnp-native prune [--dry-run] [--description D] [options]

Deletes the router's forwards (UPnP) that point at this machine and are described
"${MAPPING_DESCRIPTION}" (or D): what \`map\` left behind, or an app's entries after a crash. A forward
to another machine is never touched, whatever its description. --dry-run lists what would
be deleted and deletes nothing.

Exit: 0 done (or nothing to prune), 1 the router refused a delete or did not list its
mappings, 3 no gateway.

Examples:
  upnp-native prune --dry-run
  upnp-native prune --description my-game --json`,
  run,
}
