/**
 * What a process that died without cleaning up left on the router, claimed from the journal
 * at this mapper's start. Each leftover is either taken over by a map() that asks for the
 * same thing (same protocol, internal port, description, router, to this machine): renewed in
 * place, so its external port, which the app may have published (a DHT record, a lobby, a
 * remote-access URL), survives the restart even where the router or a PCP server had assigned
 * it; or deleted `adoptWindow` ms after the start, at close(), or at once when adoption is off
 * (`adoptWindow: 0`). Nothing is deleted unless it forwards to this machine.
 */
import { IGDStatus, UPNPResult } from '../errors.ts'
import { UPNPDevice } from '../godot/device.ts'
import type { Family } from '../types.ts'
import type { Backend, Granted, MappingParams, Serial } from './backends/backend.ts'
import type { JournalEntry } from './journal.ts'
import { isOwnAddress } from './entry-owner.ts'
import { type CloseElsewhere, PcpPinholeBackend } from './backends/pcp-pinhole.ts'
import { pxpBackend } from './backends/pxp.ts'

/** What `Leftovers` needs of its mapper. */
export interface LeftoverOptions {
  serial: Serial
  requestTimeout: number
  pxpBudget: number
  /** How long after the start a leftover may be adopted (0: never; swept at once). */
  adoptWindow: number
  /** Some were deleted. */
  swept: (count: number) => void
  /** The list changed: the journal must say so. */
  changed: () => void
  /** Closes a PCP pinhole the router refuses to delete over PCP (`backends/pcp-pinhole.ts`). */
  closePinholeElsewhere?: CloseElsewhere
}

/** Where a mapping lives: UPnP's control URL, or the NAT-PMP/PCP router ("" = default). */
export interface Place {
  controlUrl?: string
  router?: string
}

const familyOf = (e: JournalEntry): Family => e.family ?? (e.internalClient.includes(':') ? 'ipv6' : 'ipv4')

/** What the router granted, as far as the journal knows (for a renewal in place). */
function grantedOf(e: JournalEntry): Granted {
  const g: Granted = { externalPort: e.externalPort, externalAddress: '', lease: 0, internalClient: e.internalClient }
  if (e.nonce) g.nonce = e.nonce
  return g
}

/** One mapper's claimed leftovers: adopted by a matching map(), else swept. */
export class Leftovers {
  #pending: JournalEntry[] = []
  #timer: NodeJS.Timeout | null = null

  constructor(private readonly o: LeftoverOptions) {}

  /** Entries still to adopt or delete (in the journal, marked `leftover`). */
  get entries(): JournalEntry[] {
    return this.#pending
  }

  /** Takes the journal's leftovers; when adoption is off the caller sweeps them at once. */
  claim(entries: JournalEntry[]): void {
    this.#pending.push(...entries.map((e) => ({ ...e, leftover: true })))
    if (this.o.adoptWindow > 0 && this.#pending.length && !this.#timer) {
      this.#timer = setTimeout(() => void this.sweepAll(), this.o.adoptWindow)
      this.#timer.unref() // an idle mapper never keeps the process alive
    }
  }

  /** A mapping this mapper could not delete: deleted with the leftovers (or by the next start). */
  keep(entry: JournalEntry): void {
    this.#pending.push({ ...entry, leftover: true })
    this.o.changed()
  }

  /**
   * Adds the mapping, or takes over a leftover that matches it: renewed in place (the
   * backend's renewal with the journal's port and PCP nonce). When the router no longer has
   * it, a plain add asks for its external port again.
   */
  async adoptOrAdd(backend: Backend, p: MappingParams, wanted: number, place: Place, signal?: AbortSignal): Promise<Granted> {
    const i = this.o.adoptWindow > 0 ? this.#pending.findIndex((e) => this.#adoptable(e, backend, p, place)) : -1
    if (i < 0) return backend.add(p, wanted, signal)
    const [leftover] = this.#pending.splice(i, 1) as [JournalEntry]
    try {
      const outcome = await backend.maintain(p, grantedOf(leftover), true).catch(() => null)
      const granted = outcome?.granted ?? (await backend.add(p, leftover.externalPort, signal))
      this.o.changed()
      return granted
    } catch (error) {
      this.#pending.push(leftover) // not ours after all: deleted with the rest
      throw error
    }
  }

  #adoptable(e: JournalEntry, backend: Backend, p: MappingParams, place: Place): boolean {
    const here = e.via === 'upnp' ? e.controlUrl === place.controlUrl : (e.router ?? '') === (place.router ?? '')
    return (
      here &&
      e.via === backend.via &&
      backend.family !== 'ipv6' &&
      familyOf(e) === 'ipv4' &&
      e.internalPort === p.internalPort &&
      e.protocol === p.protocol &&
      e.description === p.description &&
      isOwnAddress(e.internalClient)
    )
  }

  /** A mapping this mapper now holds on the same external port is no leftover any more. */
  covered(via: string, externalPort: number, protocol: string, family: Family): void {
    const before = this.#pending.length
    this.#pending = this.#pending.filter(
      (e) => !(e.via === via && e.externalPort === externalPort && e.protocol === protocol && familyOf(e) === family),
    )
    if (this.#pending.length !== before) this.o.changed()
  }

  /** Deletes every leftover not adopted. */
  async sweepAll(): Promise<void> {
    this.stop()
    const sweeping = this.#pending.splice(0)
    if (!sweeping.length) return
    let swept = 0
    for (const e of sweeping) {
      if (await sweepEntry(e, this.o).catch(() => false)) swept++
    }
    this.o.changed()
    if (swept) this.o.swept(swept)
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }
}

/** Deletes one leftover, only if it forwards to this machine (one of its addresses now,
 *  whatever the journal says) and the router still holds it for the same client and port. */
export async function sweepEntry(
  e: JournalEntry,
  o: { requestTimeout: number; pxpBudget: number; serial: Serial; closePinholeElsewhere?: CloseElsewhere },
): Promise<boolean> {
  if (!isOwnAddress(e.internalClient)) return false
  const params: MappingParams = { internalPort: e.internalPort, protocol: e.protocol, description: '', lease: 0 }
  if (e.via === 'upnp') {
    const device = new UPNPDevice()
    device.igdControlUrl = e.controlUrl ?? ''
    device.igdServiceType = e.serviceType ?? ''
    device.igdStatus = IGDStatus.OK
    device.requestTimeout = o.requestTimeout
    const entry = await o.serial(() => device.getPortMapping(e.externalPort, e.protocol))
    if (!entry || entry.internalClient !== e.internalClient || entry.internalPort !== e.internalPort) return false
    return (await o.serial(() => device.deletePortMapping(e.externalPort, e.protocol))) === UPNPResult.SUCCESS
  }
  // NAT-PMP and PCP deletes are scoped to this client (and, for PCP, the nonce) by the
  // protocol itself, so they cannot remove someone else's mapping. A PCP pinhole (IPv6) is
  // the request's source address's: the delete must come from that address too, which the
  // system would not pick towards a link-local router.
  const backend =
    e.via === 'pcp' && familyOf(e) === 'ipv6'
      ? new PcpPinholeBackend(e.router ?? '', e.internalClient, o.pxpBudget, o.serial, o.closePinholeElsewhere)
      : pxpBackend(e.via, { router: e.router ?? '', budgetMs: o.pxpBudget, serial: o.serial })
  await backend.remove(params, grantedOf(e))
  return true
}
