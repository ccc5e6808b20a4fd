/**
 * IPv6 inbound for the commands: which device opens pinholes (its WANIPv6FirewallControl
 * service), and whether inbound IPv6 can be opened at all (GetFirewallStatus), for `map
 * --ipv6`, `unmap --ipv6`, `status` and `doctor`.
 */
import { explainPinholeFailure } from '../lib/explain-pinholes.ts'
import type { Explanation } from '../lib/explain.ts'
import type { UPNPDevice } from '../lib/godot/device.ts'
import { CliError, type Context, EXIT, type Globals } from './command.ts'
import { localInterfaces } from './args.ts'
import { type Found, findGateways, noGatewayError } from './gateways.ts'
import { hostOf, modelText } from './format.ts'
import { shown } from './terminal.ts'
import { runAs } from './invocation.ts'

/** `ipv6Inbound` in the JSON of `status` and `doctor`. */
export interface JsonIpv6Inbound {
  /** The gateway offers UPnP's IPv6 pinhole service (WANIPv6FirewallControl). */
  service: boolean
  /** What GetFirewallStatus said (null when not asked or it failed). */
  firewallEnabled: boolean | null
  inboundPinholeAllowed: boolean | null
  /** A program can open inbound IPv6 here: the firewall allows pinholes (or is off). */
  canOpen: boolean
  /** This machine's IPv6 address beyond the link (a global one, else unique-local); null
   *  when it has only link-local ones: then nothing outside the LAN reaches it over IPv6,
   *  whatever the router allows. */
  hostAddress: string | null
  error?: Explanation
}

/** This machine's IPv6 address beyond the link: a global one first, else a unique-local
 *  one (fc00::/7); null with only link-local (fe80::/10) and loopback addresses. */
export function hostIpv6Address(): string | null {
  const addresses = localInterfaces()
    .filter((i) => i.family === 'IPv6' && !i.internal && !/^fe[89ab]/i.test(i.address))
    .map((i) => i.address)
  return addresses.find((a) => !/^f[cd]/i.test(a)) ?? addresses[0] ?? null
}

/** The device that opens pinholes: the gateway in use if it has the service, else (a gateway
 *  whose IPv4 side is down, as behind DS-Lite) the first device found that has it. */
export function pinholeDevice(found: Found, g: Globals): UPNPDevice | null {
  if (found.gateway?.firewallControlUrl) return found.gateway
  if (g.gateway) return found.selected?.firewallControlUrl ? found.selected : null
  return found.devices.find((d) => d.firewallControlUrl) ?? null
}

/** Discovery (over IPv6 with --ipv6) for a device that opens pinholes, or the reason there is none. */
export async function needPinholeDevice(ctx: Context, g: Globals): Promise<{ found: Found; device: UPNPDevice }> {
  const found = await findGateways(ctx, g, 'first')
  const device = pinholeDevice(found, g)
  if (device) return { found, device }
  const gateway = found.gateway ?? found.selected
  if (!gateway) throw noGatewayError(found, g)
  throw new CliError(
    EXIT.NO_GATEWAY,
    'NO_PINHOLE_SERVICE',
    `the gateway ${hostOf(gateway.descriptionUrl)} (${modelText(gateway)}) does not offer IPv6 pinholes (no WANIPv6FirewallControl service)`,
    `Open the port in the router's IPv6 firewall settings by hand, or try PCP: ${runAs()} map <port> --ipv6 --keep --protocol pcp.`,
  )
}

/** Whether inbound IPv6 can be opened on this device, asked now. */
export async function ipv6Inbound(device: UPNPDevice | null): Promise<JsonIpv6Inbound | null> {
  if (!device) return null
  const hostAddress = hostIpv6Address()
  if (!device.firewallControlUrl) return { service: false, firewallEnabled: null, inboundPinholeAllowed: null, canOpen: false, hostAddress }
  const status = await device.getFirewallStatus()
  if (!status) {
    const error = device.lastError ? explainPinholeFailure(device.lastError) : undefined
    return { service: true, firewallEnabled: null, inboundPinholeAllowed: null, canOpen: false, hostAddress, ...(error ? { error } : {}) }
  }
  return { service: true, ...status, canOpen: !status.firewallEnabled || status.inboundPinholeAllowed, hostAddress }
}

/** One sentence for a person, and whether it is good news. */
export function ipv6InboundText(r: JsonIpv6Inbound): { text: string; ok: boolean } {
  // What the router would allow does not matter to a machine nothing beyond the LAN can address.
  if (r.hostAddress === null)
    return {
      text: 'this machine has no IPv6 address beyond link-local, so nothing outside the LAN can reach it over IPv6',
      ok: false,
    }
  if (!r.service) return { text: 'not offered by this router over UPnP (no IPv6 pinhole service)', ok: false }
  // The router's own words: shown (capped, escaped), as everywhere else.
  if (r.firewallEnabled === null)
    return { text: `could not ask the router: ${r.error ? shown(r.error.description) : 'no answer'}`, ok: false }
  if (!r.firewallEnabled) return { text: "open: the router's IPv6 firewall is off (every port reaches this machine)", ok: true }
  if (r.inboundPinholeAllowed) return { text: 'can be opened: the IPv6 firewall is on and lets programs open pinholes', ok: true }
  return { text: 'blocked: the IPv6 firewall is on and does not let programs open pinholes', ok: false }
}
