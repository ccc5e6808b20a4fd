/** PortMapper's events: what each carries, and each as a `mapper` record (`../log/`), one
 *  sentence for people. */
import type { UPNPError } from '../errors.ts'
import { VIA_NAME } from '../explain.ts'
import type { LogRecord } from '../log/records.ts'
import type { Mapping } from './mapping.ts'
import type { UnreachableEvidence } from './reachability.ts'

/** The events a PortMapper emits, with their arguments (`mapper.on(name, listener)`). */
export interface PortMapperEvents {
  /** A mapping was created on the router (by `map()`). */
  mapped: [mapping: Mapping]
  /** A mapping's lease was renewed. */
  renewed: [mapping: Mapping]
  /** A mapping is gone from the router (reboot, expiry, taken over); it is being restored. */
  lost: [mapping: Mapping, reason: string]
  /** A lost mapping is back, possibly on another external port. */
  restored: [mapping: Mapping, previousExternalPort: number]
  /** The router's external address changed (emitted once per change). */
  externalAddressChanged: [address: string, previous: string]
  /** `verify` said the mapping is not reached from outside, and a hard refresh did not help. */
  unreachable: [mapping: Mapping, evidence: UnreachableEvidence]
  /** Leftovers of a crashed run deleted from the journal at start. */
  swept: [count: number]
  /** Something went wrong in the background (renewal, check, restore). Without a listener
   *  it becomes a process warning: a background failure never crashes the app. */
  error: [error: UPNPError, mapping: Mapping | null]
}

function mapping(m: Mapping): string {
  const lease = m.lease === 0 ? 'permanent' : `lease ${m.lease} s`
  return `${m.protocol} ${m.externalAddress}:${m.externalPort} → ${m.internalClient}:${m.internalPort} via ${VIA_NAME[m.via] ?? m.via} (${lease})`
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
