// miniupnpc's upnpc against the zoo device currently in the lab, with discovery (no -u): the
// reference a device is judged by. One round trip: status, add, list, delete.
import { runIn } from '../lab/lab.ts'

export interface UpnpcRun {
  /** upnpc found a valid connected IGD ("Found valid IGD"). */
  validIgd: boolean
  added: boolean
  listed: boolean
  deleted: boolean
  externalAddress: string
  summary: string
  output: string
}

const PORT = '40002'

/** The description upnpc is given instead of discovering (a device it cannot find anyway). */
export const UPNPC_DESCRIPTION = 'zoo reference'

/** Discovers once (the add, as a user would), then names the description it found (-u) for the
 *  list and the delete, which keeps the round trip to one discovery window. With
 *  `descriptionUrl` it is given the device and skips discovery altogether. */
export async function upnpcRoundTrip(client: string, descriptionUrl?: string): Promise<UpnpcRun> {
  const given = descriptionUrl ? ['-u', descriptionUrl] : []
  const add = await runIn('client', 'upnpc', [...given, '-e', UPNPC_DESCRIPTION, '-a', client, PORT, PORT, 'UDP'], 20_000)
  const desc = descriptionUrl ?? /^ desc: (\S+)/m.exec(add.stdout)?.[1]
  const target = desc ? ['-u', desc] : []
  const list = await runIn('client', 'upnpc', [...target, '-l'], 20_000)
  const del = await runIn('client', 'upnpc', [...target, '-d', PORT, 'UDP'], 20_000)
  const output = [add, list, del].map((r) => r.stdout + r.stderr).join('\n---\n')
  const validIgd = /Found valid IGD/.test(add.stdout)
  const added = /is redirected to internal/.test(add.stdout)
  const listed = new RegExp(`UDP\\s+${PORT}->`).test(list.stdout)
  const deleted = /UPNP_DeletePortMapping\(\) returned\s*:\s*0\b/.test(del.stdout)
  const externalAddress = /ExternalIPAddress = (\S+)/.exec(add.stdout)?.[1] ?? ''
  const why =
    /(No valid UPNP Internet Gateway Device found|No IGD UPnP Device found on the network|Found a \(not connected\?\) IGD|UPnP device found\. Is it an IGD \?|failed with code \d+ \([^)]*\))/.exec(
      add.stdout + add.stderr,
    )?.[1]
  const summary = validIgd
    ? `valid IGD, ip=${externalAddress} add=${added} list=${listed} delete=${deleted}`
    : `no valid IGD (${why ?? 'see output'})`
  return { validIgd, added, listed, deleted, externalAddress, summary, output }
}
