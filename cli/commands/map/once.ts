/** `map <port>` without --keep: the mapping added once over UPnP, confirmed by reading it back,
 *  and left on the router (permanent by default) for `unmap` to delete. */
import { UPNPResult } from '../../../lib/errors.ts'
import type { UPNPDevice } from '../../../lib/godot/device.ts'
import type { Protocol } from '../../../lib/types.ts'
import { type Context, EXIT, type ExitCode } from '../../command.ts'
import { arrow, duration, natKind, natSentence } from '../../format.ts'
import type { Found } from '../../gateways.ts'
import { runAs } from '../../invocation.ts'
import { envelope, gatewayJson, type JsonMapping, mappingJson } from '../../json.ts'
import { explainMapping, holderOf, mappingText, refusalError } from '../../refusals.ts'
import type { MapPlan } from './keep.ts'

/** `--both`, `--tcp` or nothing (UDP), as the hints repeat them. */
export function protocolFlags(protocols: Protocol[]): string {
  return protocols.length === 2 ? ' --both' : protocols[0] === 'TCP' ? ' --tcp' : ''
}

/** Adds the plan's mappings on `gateway` (all or nothing) and says what the router holds. */
export async function mapOnce(ctx: Context, found: Found, gateway: UPNPDevice, plan: MapPlan): Promise<ExitCode> {
  const { out } = ctx
  const s = out.out
  const done: JsonMapping[] = []
  for (const protocol of plan.protocols) {
    done.push(await addOne(ctx, gateway, plan, protocol, done))
  }
  out.json(envelope('map', EXIT.OK, { keep: false, via: 'upnp', gateway: gatewayJson(ctx.lib, gateway, found.selected), mappings: done }))
  for (const m of done) {
    out.line(`${s.green('Mapped')} ${mappingText(s, m)}  ${s.dim(`(lease ${duration(m.lease)}, "${m.description}")`)}`)
  }
  const natNow = natKind(ctx.lib, gateway?.externalAddress ?? '')
  if (natNow !== 'none' && natNow !== 'unknown')
    out.info(s.yellow(`Note: double NAT: ${natSentence(natNow, gateway.externalAddress)}; the port is not reachable from the Internet.`))
  out.info(s.dim(`Delete with: ${runAs()} unmap ${plan.port}${protocolFlags(plan.protocols)}`))
  return EXIT.OK
}

/** One AddPortMapping and what the router then holds; a refusal takes back what this run
 *  already added (`done`) and becomes the CLI's error. */
async function addOne(ctx: Context, gateway: UPNPDevice, plan: MapPlan, protocol: Protocol, done: JsonMapping[]): Promise<JsonMapping> {
  const { port, internal, description, lease } = plan
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
    const to = `${arrow(ctx.out.err)} ${gateway.igdOurAddr}:${internal}`
    throw refusalError('MAPPING_REFUSED', `map ${protocol} ${port} ${to}`, failure, { after: `${holder}${undone}` })
  }
  // What the router really holds (the lease it granted).
  const entry = await gateway.getPortMapping(port, protocol)
  return mappingJson(
    { via: 'upnp', protocol, externalPort: port, internalPort: internal, description },
    gateway.externalAddress,
    entry?.internalClient || gateway.igdOurAddr,
    entry?.leaseDuration ?? lease,
    lease,
  )
}
