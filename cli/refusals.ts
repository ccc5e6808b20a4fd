/** A refused mapping, explained with what was asked, who holds a port on a conflict, and a
 *  refusal as the CLI's error. */
import net from 'node:net'
import { CliError, EXIT } from './command.ts'
import { arrow } from './format.ts'
import { type JsonMapping } from './json.ts'
import { type Style } from './output.ts'
import type { UPNPErrorInfo } from '../lib/errors.ts'
import { codeText, type Explanation, VIA_NAME, explainFailure } from '../lib/explain.ts'
import { type UPNPDevice } from '../lib/godot/device.ts'
import { type Protocol, type Via } from '../lib/types.ts'
import { runAs } from './invocation.ts'
import { shown } from './terminal.ts'

/** The ports a refused mapping asked for; `internalGiven`: the user chose the internal port
 *  (`--internal`), so advice to use --internal would repeat what they did. */
export interface AskedPorts {
  externalPort: number
  internalPort: number
  internalGiven?: boolean
}

/** 606 "not authorized", explained for the ports that were asked: routers commonly refuse
 *  ports below 1024, outside (the external port) or inside (the internal one). */
function notAuthorizedFix(asked: AskedPorts): string {
  const { externalPort: outside, internalPort: inside } = asked
  const settings = "or allow the port in the router's UPnP settings."
  if (outside < 1024 && inside < 1024 && !asked.internalGiven)
    return `Use an external port of 1024 or above and keep your program's own port with --internal (e.g. \`${runAs()} map 8080 --internal ${inside}\`), ${settings}`
  if (outside < 1024) return `Use an external port of 1024 or above (e.g. \`${runAs()} map 8080 --internal ${inside}\`), ${settings}`
  if (inside < 1024)
    return `The router may also refuse internal ports below 1024: let your program listen on ${outside} or another port of 1024 or above (--internal), ${settings}`
  return `Both ports are 1024 or above, so the router's policy refuses this one: allow it in the router's UPnP settings (some routers allow only some ports, or only some devices, or are set to read-only).`
}

/** A refused AddPortMapping, explained with what was asked: the generic sentence for 402 is
 *  about leases, which is wrong when the lease was already 0 or this machine is on IPv6; the
 *  one for 606 depends on which of the ports was below 1024. */
export function explainMapping(info: UPNPErrorInfo, gateway: UPNPDevice, lease: number, asked?: AskedPorts): Explanation {
  const failure = explainFailure(info)
  if (net.isIPv6(gateway.igdOurAddr) && failure.upnpCode !== 718 && failure.upnpCode !== 729) {
    return {
      ...failure,
      meaning: `UPnP port mappings forward the router's IPv4 address to an IPv4 address on the LAN, and over IPv6 this machine is ${gateway.igdOurAddr}, which the router cannot forward to.`,
      fix: "Leave out --ipv6: search over IPv4 so that the mapping points at this machine's IPv4 address (over IPv6 there is no NAT, only the router's firewall).",
    }
  }
  if (failure.upnpCode === 402 && lease === 0) {
    return {
      ...failure,
      meaning: "the router rejected the request's arguments.",
      fix: 'Try the same port inside and outside (no --internal) and a short plain --description; otherwise forward the port by hand.',
    }
  }
  if (failure.upnpCode === 606 && asked) return { ...failure, fix: notAuthorizedFix(asked) }
  return failure
}

/** On a conflict (718/729): who holds the port, as " (it already forwards to ...)", else "". */
export async function holderOf(gateway: UPNPDevice, port: number, protocol: Protocol, failure: Explanation): Promise<string> {
  if (failure.upnpCode !== 718 && failure.upnpCode !== 729) return ''
  const entry = await gateway.getPortMapping(port, protocol)
  if (!entry) return ''
  const mine = entry.internalClient === gateway.igdOurAddr ? ', this machine' : ''
  const what = entry.description ? `, "${shown(entry.description, 60)}"` : ''
  return ` (${protocol} ${port} already forwards to ${shown(entry.internalClient, 45)}:${entry.internalPort}${mine}${what})`
}

/** "UDP 11.22.33.44:7777 → 192.168.1.10:7777", plus " via NAT-PMP" when not UPnP; a
 *  pinhole: "UDP [2001:db8::10]:7777 open to inbound IPv6". */
export function mappingText(s: Style, m: JsonMapping): string {
  if (m.family === 'ipv6') {
    return `${m.protocol} [${m.externalAddress}]:${m.externalPort} open to inbound IPv6${m.via !== 'upnp' ? ` via ${VIA_NAME[m.via]}` : ''}`
  }
  return `${m.protocol} ${m.externalAddress || '?'}:${m.externalPort} ${arrow(s)} ${m.internalClient}:${m.internalPort}${m.via !== 'upnp' ? ` via ${VIA_NAME[m.via]}` : ''}`
}

/** What the router refused, as `error.code` in JSON. */
export type RefusalCode = 'MAPPING_REFUSED' | 'PINHOLE_REFUSED' | 'DELETE_REFUSED'

/** How a refusal is told beyond its action and failure. */
export interface RefusalDetails {
  /** The protocol it was asked over, named when not UPnP ("refused over PCP to ..."). */
  over?: Via
  /** Appended after the router's code: who holds the port, what was undone. */
  after?: string
  /** What to do, when the failure's own fix does not fit. */
  fix?: string
}

/** A refusal as the CLI's error (exit 1): "the router refused to <action>: <the router's code>",
 *  with what the failure means and what to do. Every command reports a refusal this way. */
export function refusalError(code: RefusalCode, action: string, failure: Explanation, details: RefusalDetails = {}): CliError {
  const over = details.over && details.over !== 'upnp' ? ` over ${VIA_NAME[details.over]}` : ''
  return new CliError(
    EXIT.FAILED,
    code,
    `the router refused${over} to ${action}: ${codeText(failure)}${details.after ?? ''}`,
    details.fix ?? failure.fix,
    failure,
  )
}
