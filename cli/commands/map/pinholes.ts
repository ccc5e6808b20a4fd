/**
 * `map <port> --ipv6`: an IPv6 pinhole opened once, over UPnP (WANIPv6FirewallControl). IPv6
 * has no NAT: the port is reached at this machine's own address once the router's firewall
 * lets it through. (`map --ipv6 --keep` holds one with a PortMapper instead, see keep.ts;
 * `unmap --ipv6` closes one.)
 */
import { PINHOLE_MAX_LEASE_S } from '../../../lib/defaults.ts'
import { explainPinholeFailure } from '../../../lib/explain-pinholes.ts'
import { UPNPResult } from '../../../lib/errors.ts'
import type { Protocol } from '../../../lib/types.ts'
import { type Context, EXIT, type ExitCode, type Globals } from '../../command.ts'
import { duration } from '../../format.ts'
import { needPinholeDevice, ownPinholeAddress } from '../../ipv6.ts'
import { envelope, gatewayJson, type JsonMapping, mappingJson } from '../../json.ts'
import { runAs } from '../../invocation.ts'
import { refusalError } from '../../refusals.ts'
import { protocolFlags } from './once.ts'

/** Opens a pinhole for each protocol of the plan (all or nothing), for `lease` seconds. */
export async function mapPinholes(
  ctx: Context,
  g: Globals,
  plan: { port: number; protocols: Protocol[]; lease: number },
): Promise<ExitCode> {
  const { out, lib } = ctx
  const s = out.out
  const { found, device } = await needPinholeDevice(ctx, g)
  // No permanent pinholes: "permanent" is the longest lease the service allows.
  const lease = plan.lease === 0 ? PINHOLE_MAX_LEASE_S : plan.lease
  const client = await ownPinholeAddress(device)
  const address = client || device.igdOurAddr
  const done: Array<JsonMapping & { pinholeId: number }> = []
  for (const protocol of plan.protocols) {
    const id = await device.addPinhole(plan.port, protocol, lease, '', 0, client)
    if (id === null) {
      const failure = explainPinholeFailure(device.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'AddPinhole failed' })
      // --both is all or nothing.
      for (const m of done) await device.deletePinhole(m.pinholeId)
      const undone = done.length ? `; the ${done.map((m) => m.protocol).join('/')} pinhole opened just before was closed again` : ''
      throw refusalError('PINHOLE_REFUSED', `open an IPv6 pinhole for ${protocol} ${plan.port} to ${address}`, failure, { after: undone })
    }
    const m = mappingJson(
      { via: 'upnp', protocol, externalPort: plan.port, internalPort: plan.port, description: '' },
      address,
      address,
      lease,
      plan.lease,
    )
    done.push({ ...m, family: 'ipv6', pinholeId: id })
  }
  out.json(
    envelope('map', EXIT.OK, {
      keep: false,
      via: 'upnp',
      family: 'ipv6',
      gateway: gatewayJson(lib, device, found.selected),
      mappings: done,
    }),
  )
  for (const m of done) {
    out.line(
      `${s.green('Opened')} ${m.protocol} [${address}]:${m.externalPort} to inbound IPv6  ${s.dim(`(pinhole ${m.pinholeId}, lease ${duration(m.lease)})`)}`,
    )
  }
  if (lib.classifyAddress(address) !== 'public') {
    out.info(s.yellow(`Note: ${address} is not a global IPv6 address: only hosts that can route to it (not the Internet) reach it.`))
  }
  if (plan.lease === 0)
    out.info(s.dim(`Pinholes cannot be permanent: this one lasts ${duration(lease)}; --keep holds one for as long as it runs.`))
  out.info(s.dim(`Close with: ${runAs()} unmap ${plan.port}${protocolFlags(plan.protocols)} --ipv6`))
  return EXIT.OK
}
