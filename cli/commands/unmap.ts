/** `upnp-native unmap <port>`: deletes a port forward (UPnP), asking first whether it exists;
 *  with --ipv6, closes a pinhole. */
import { onePositional, parsePort, parseProtocols, upnpOnly } from '../args.ts'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Globals, type Invocation } from '../command.ts'
import { arrow } from '../format.ts'
import { needGateway } from '../gateways.ts'
import { envelope, errorJson, gatewayJson } from '../json.ts'
import { UPNPResult } from '../../lib/errors.ts'
import { type Explanation, explainFailure } from '../../lib/explain.ts'
import type { UPNPDevice } from '../../lib/godot/device.ts'
import { type PortMappingEntry, type Protocol } from '../../lib/types.ts'
import { runAs } from '../invocation.ts'
import { needPinholeDevice, ownPinholeAddress } from '../ipv6.ts'
import { refusalError } from '../refusals.ts'
import { explainPinholeFailure } from '../../lib/explain-pinholes.ts'
import { isOwnAddress } from '../../lib/portmapper/entry-owner.ts'
import { shown } from '../terminal.ts'

/** `unmap --ipv6` finds the pinhole with AddPinhole (same arguments give the open one's id);
 *  if none was open, this is the lease of the one made to be closed at once. */
const FIND_LEASE_S = 60

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  const port = parsePort(onePositional(parsed, 'port'), 'the port to unmap')
  const protocols = parseProtocols(parsed.values)
  // No --udp/--tcp/--both: UDP by default, and a TCP mapping of the port is worth a word.
  const chosen = ['udp', 'tcp', 'both'].some((p) => parsed.values[p] === true)
  upnpOnly(parsed.globals, 'unmap')
  if (parsed.globals.ipv6) return unmapPinholes(ctx, parsed.globals, port, protocols)
  const { found, gateway } = await needGateway(ctx, parsed.globals)
  const s = out.out
  const results: Array<{
    protocol: Protocol
    externalPort: number
    wasMapped: boolean
    deleted: boolean
    mapping?: PortMappingEntry
    failure?: Explanation
  }> = []
  let failed: CliError | null = null
  for (const protocol of protocols) {
    // Many routers (miniupnpd among them) answer success for a mapping they never had: ask first.
    const entry = await gateway.getPortMapping(port, protocol)
    const lookup = gateway.lastError
    if (!entry && lookup?.result === UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      results.push({ protocol, externalPort: port, wasMapped: false, deleted: false })
      out.line(`${protocol} ${port} was not mapped; nothing to delete.`)
      if (!chosen) await mentionTcp(ctx, gateway, port)
      continue
    }
    // Another machine's forward is not this command's to delete unless asked (--force).
    if (entry && !isOwnAddress(entry.internalClient) && parsed.values.force !== true) {
      results.push({ protocol, externalPort: port, wasMapped: true, deleted: false, mapping: entry })
      failed ??= new CliError(
        EXIT.FAILED,
        'FORWARDS_ELSEWHERE',
        `${protocol} ${port} forwards to ${shown(entry.internalClient, 45)}:${entry.internalPort}, another machine; not deleted`,
        'Add --force to delete it all the same (the router may still refuse), or run this on that machine.',
      )
      continue
    }
    const result = await gateway.deletePortMapping(port, protocol)
    if (result === UPNPResult.SUCCESS || result === UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
      const wasMapped = result === UPNPResult.SUCCESS && (entry !== null || lookup !== null)
      results.push({ protocol, externalPort: port, wasMapped, deleted: wasMapped, ...(entry ? { mapping: entry } : {}) })
      out.line(
        wasMapped
          ? `${s.green('Deleted')} ${protocol} ${port}${entry ? ` ${arrow(s)} ${shown(entry.internalClient, 45)}:${entry.internalPort}` : ''}.`
          : `${protocol} ${port} was not mapped; nothing to delete.`,
      )
      continue
    }
    const failure = explainFailure(gateway.lastError ?? { result, description: UPNPResult[result] ?? 'refused' })
    results.push({ protocol, externalPort: port, wasMapped: true, deleted: false, ...(entry ? { mapping: entry } : {}), failure })
    const owner =
      entry && entry.internalClient !== gateway.igdOurAddr ? ` (it forwards to ${shown(entry.internalClient, 45)}, another device)` : ''
    failed ??= refusalError('DELETE_REFUSED', `delete ${protocol} ${port}${owner}`, failure, {
      ...(owner
        ? { fix: "Routers let only the device a mapping points to delete it: run this on that device, or use the router's settings." }
        : {}),
    })
  }
  return finish(ctx, failed, { gateway: gatewayJson(ctx.lib, gateway, found.selected), results })
}

/** `unmap <port> --ipv6`: closes the pinhole `map --ipv6` opened, over UPnP. */
async function unmapPinholes(ctx: Context, g: Globals, port: number, protocols: Protocol[]): Promise<ExitCode> {
  const { out, lib } = ctx
  const s = out.out
  const { found, device } = await needPinholeDevice(ctx, g)
  const client = await ownPinholeAddress(device)
  const address = client || device.igdOurAddr
  const results: Array<{ protocol: Protocol; port: number; closed: boolean; pinholeId?: number; failure?: Explanation }> = []
  let failed: CliError | null = null
  for (const protocol of protocols) {
    // The service has no lookup by port: the same arguments give the open pinhole's id.
    const id = await device.addPinhole(port, protocol, FIND_LEASE_S, '', 0, client)
    const result = id === null ? null : await device.deletePinhole(id)
    if (id !== null && result === UPNPResult.SUCCESS) {
      results.push({ protocol, port, closed: true, pinholeId: id })
      out.line(`${s.green('Closed')} the IPv6 pinhole for ${protocol} [${address}]:${port}.`)
      continue
    }
    const failure = explainPinholeFailure(device.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'the router refused' })
    results.push({ protocol, port, closed: false, ...(id !== null ? { pinholeId: id } : {}), failure })
    failed ??= refusalError('DELETE_REFUSED', `close the IPv6 pinhole for ${protocol} ${port}`, failure)
  }
  return finish(ctx, failed, { family: 'ipv6', gateway: gatewayJson(lib, device, found.selected), results })
}

/** The JSON document, or for a person the error (the lines were printed as it went). */
function finish(ctx: Context, failed: CliError | null, body: object): ExitCode {
  const exitCode = failed ? failed.exitCode : EXIT.OK
  if (ctx.out.globals.json) ctx.out.json(envelope('unmap', exitCode, { ...body, ...(failed ? { error: errorJson(failed) } : {}) }))
  else if (failed) ctx.out.error(failed, 'unmap')
  return exitCode
}

/** `unmap 8080` (UDP by default) when only TCP 8080 is mapped: say so, and how to delete it. */
async function mentionTcp(ctx: Context, gateway: UPNPDevice, port: number): Promise<void> {
  const tcp = await gateway.getPortMapping(port, 'TCP')
  if (!tcp) return
  const s = ctx.out.out
  const to = `${shown(tcp.internalClient, 45)}:${tcp.internalPort}${tcp.description ? `, "${shown(tcp.description, 60)}"` : ''}`
  ctx.out.info(`TCP ${port} is mapped (${arrow(s)} ${to}): delete it with \`${runAs()} unmap ${port} --tcp\`.`)
}

export const unmapCommand: Command = {
  name: 'unmap',
  synopsis: 'unmap <port>',
  summary: 'delete a port forward',
  options: { udp: { type: 'boolean' }, tcp: { type: 'boolean' }, both: { type: 'boolean' }, force: { type: 'boolean' } },
  help: `Usage: upnp-native unmap <port> [--udp|--tcp|--both] [--force] [options]

Deletes the router's forward of <port> (default UDP), over UPnP. A port that was not mapped
is not an error: the result is the same. (NAT-PMP and PCP mappings can only be deleted by
the program holding them: \`map --keep\` does it on Ctrl-C.) With --ipv6 it closes the IPv6
pinhole \`map --ipv6\` opened (the router cannot tell whether one was open: it says closed).
A forward to another machine is refused unless --force.

Exit: 0 deleted or not mapped, 1 refused (it forwards to another machine and no --force, or the router refused),
3 no gateway.

Examples:
  upnp-native unmap 7777
  upnp-native unmap 27015 --both
  upnp-native unmap 7777 --ipv6`,
  run,
}
