/** PortMapper's events as `mapper` records (`../log/`): one sentence each, for people. */
import type { UPNPError } from '../errors.ts'
import type { LogRecord } from '../log/records.ts'
import type { PortMapperEvents } from './mapper.ts'
import type { Mapping } from './mapping.ts'

const VIA: Record<string, string> = { upnp: 'UPnP', natpmp: 'NAT-PMP', pcp: 'PCP' }

function mapping(m: Mapping): string {
  const lease = m.lease === 0 ? 'permanent' : `lease ${m.lease} s`
  return `${m.protocol} ${m.externalAddress}:${m.externalPort} → ${m.internalClient}:${m.internalPort} via ${VIA[m.via] ?? m.via} (${lease})`
}

/** The record of a PortMapper event (`mapper.<event>`): its message. */
export function mapperRecord<K extends keyof PortMapperEvents>(
  event: K,
  args: PortMapperEvents[K],
): Omit<LogRecord, 'section' | 'event' | 'time'> {
  const [first, second] = args as unknown[]
  switch (event) {
    case 'mapped':
      return { message: `mapped ${mapping(first as Mapping)}` }
    case 'renewed':
      return { message: `renewed ${mapping(first as Mapping)}` }
    case 'lost':
      return { message: `lost ${mapping(first as Mapping)}: ${String(second)}`, detail: String(second) }
    case 'restored':
      return { message: `restored ${mapping(first as Mapping)} (was external port ${String(second)})` }
    case 'externalAddressChanged':
      return { message: `the external address changed from ${String(second)} to ${String(first)}` }
    case 'swept':
      return { message: `deleted ${String(first)} leftover mapping(s) of a crashed run (journal)` }
    default: {
      const error = first as UPNPError
      const m = second as Mapping | null
      return { message: `background failure${m ? ` on ${mapping(m)}` : ''}: ${error.message}`, detail: error.message }
    }
  }
}
