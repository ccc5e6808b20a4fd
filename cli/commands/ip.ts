/** `upnp-native ip`: the external address and nothing else (for scripts). */
import net from 'node:net'
import { CliError, type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../command.ts'
import { hostOf, natKind } from '../format.ts'
import { findGateways, pxpNoAnswer, noGatewayError, noGatewayFor, probeRouter, routerOf } from '../gateways.ts'
import { envelope, gatewayJson } from '../json.ts'
import { UPNPResult } from '../../lib/errors.ts'
import { codeText, explainFailure } from '../../lib/explain.ts'
import { type UPNPDevice } from '../../lib/godot/device.ts'
import { type Via } from '../../lib/types.ts'
import { runAs } from '../invocation.ts'

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  const g = parsed.globals
  if (parsed.positionals.length) throw usage(`\`ip\` takes no arguments, got: ${parsed.positionals.join(' ')}`)
  if (g.protocol === 'pcp') {
    throw usage(
      'PCP has no way to ask for the external address without making a mapping',
      `Use --protocol pmp or --protocol upnp (or \`${runAs()} map <port> --keep --protocol pcp\`, which shows it).`,
    )
  }
  let address = ''
  let via: Via = 'upnp'
  let gateway: UPNPDevice | null = null
  let selected: UPNPDevice | null = null
  if (g.protocol !== 'natpmp') {
    const found = await findGateways(ctx, g, 'first')
    gateway = found.gateway
    selected = found.selected
    if (!gateway && g.protocol === 'upnp') throw noGatewayError(found, g)
    if (gateway) {
      address = await gateway.queryExternalAddress()
      if (!address) {
        const failure = explainFailure(gateway.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'no address' })
        throw new CliError(
          EXIT.FAILED,
          'NO_EXTERNAL_ADDRESS',
          `the gateway ${hostOf(gateway.descriptionUrl)} did not report its external address (${codeText(failure)})`,
          failure.fix,
          failure,
        )
      }
    } else {
      // auto: no UPnP gateway; the router may still tell over NAT-PMP.
      out.spinner.start('No UPnP gateway; asking NAT-PMP…')
      const probed = await probeRouter(ctx.lib, g).finally(() => out.spinner.stop())
      if (!probed?.natpmp.available || !probed.natpmp.externalAddress) throw noGatewayFor(found, probed, { ...g, protocol: 'auto' })
      address = probed.natpmp.externalAddress
      via = 'natpmp'
    }
  } else {
    out.spinner.start(`Asking the router over NAT-PMP (${routerOf(g) || 'default gateway'})…`)
    const probed = await probeRouter(ctx.lib, g).finally(() => out.spinner.stop())
    if (!probed?.natpmp.available || !probed.natpmp.externalAddress) throw pxpNoAnswer(probed, g)
    address = probed.natpmp.externalAddress
    via = 'natpmp'
  }
  // Scripts use this output as an address: print nothing that is not one (the library
  // validates it already; this is the last door before stdout).
  if (net.isIP(address) === 0) {
    throw new CliError(
      EXIT.FAILED,
      'NO_EXTERNAL_ADDRESS',
      `the ${via === 'natpmp' ? 'NAT-PMP' : 'UPnP'} answer held no valid external address`,
    )
  }
  const nat = natKind(ctx.lib, address)
  out.json(
    envelope('ip', EXIT.OK, { externalAddress: address, nat, via, gateway: gateway ? gatewayJson(ctx.lib, gateway, selected) : null }),
  )
  out.line(address)
  if (nat === 'double-nat' || nat === 'cgnat') {
    const what = nat === 'cgnat' ? 'a carrier-grade NAT address (100.64.0.0/10)' : 'a private address (double NAT)'
    out.note(out.err.yellow(`note: ${address} is ${what}: it cannot be reached from the Internet. Run \`${runAs()} doctor\`.`))
  }
  if (via === 'natpmp' && g.protocol === 'auto') out.note(out.err.dim('note: no UPnP gateway answered; the address came from NAT-PMP.'))
  return EXIT.OK
}

export const ipCommand: Command = {
  name: 'ip',
  synopsis: 'ip',
  summary: 'print the external address (for scripts)',
  options: {},
  help: `Usage: upnp-native ip [options]

Prints the router's external address and nothing else. Behind double NAT the address is
still printed (it is what the router has), with a note on stderr. Asks over UPnP, and over
NAT-PMP when no UPnP gateway answers (--protocol pmp: NAT-PMP only; PCP cannot tell).

Exit: 0 printed, 1 the router did not say, 3 no gateway.

Examples:
  upnp-native ip
  echo "reach me at $(upnp-native ip -q):7777"`,
  run,
}
