/**
 * The crash journal: a file recording the mappings a PortMapper holds, so that the next start
 * can delete what a crashed (SIGKILLed, power-cut) process left on the router.
 */
import fs from 'node:fs'
import path from 'node:path'
import { clientError, IGDStatus, type UPNPError, UPNPResult } from '../errors.ts'
import { UPNPDevice } from '../godot/device.ts'
import type { Protocol, Via } from '../types.ts'
import type { Granted, MappingParams, Serial } from './backend.ts'
import { pxpBackend } from './pxp-backend.ts'

export interface JournalEntry {
  via: Via
  /** UPnP: where to delete. */
  controlUrl?: string
  serviceType?: string
  /** NAT-PMP/PCP: which router, and PCP's nonce. */
  router?: string
  nonce?: string
  internalClient: string
  internalPort: number
  externalPort: number
  protocol: Protocol
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class Journal {
  #usable = false

  constructor(
    readonly file: string,
    private readonly report: (error: UPNPError) => void,
  ) {}

  /**
   * Reads what the previous run left and takes the file over; null when another live process
   * owns it (then this mapper never writes it).
   */
  takeOver(): JournalEntry[] | null {
    let previous: { pid?: number; entries?: JournalEntry[] } = {}
    try {
      previous = JSON.parse(fs.readFileSync(this.file, 'utf8')) as typeof previous
    } catch {
      previous = {}
    }
    if (previous.pid && previous.pid !== process.pid && processAlive(previous.pid)) {
      this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file} belongs to running process ${previous.pid}; not used`))
      return null
    }
    this.#usable = true
    return previous.entries ?? []
  }

  write(entries: JournalEntry[]): void {
    if (!this.#usable) return
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      const tmp = `${this.file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, JSON.stringify({ version: 1, pid: process.pid, entries }))
      fs.renameSync(tmp, this.file) // atomic: a crash never leaves half a journal
    } catch (error) {
      this.report(clientError(UPNPResult.UNKNOWN_ERROR, `journal ${this.file}: ${(error as Error).message}`))
    }
  }
}

/** Deletes one leftover, only if it still forwards to the same client and port. */
export async function sweepEntry(e: JournalEntry, o: { requestTimeout: number; pxpBudget: number; serial: Serial }): Promise<boolean> {
  const params: MappingParams = { internalPort: e.internalPort, protocol: e.protocol, description: '', lease: 0 }
  const granted: Granted = { externalPort: e.externalPort, externalAddress: '', lease: 0, internalClient: e.internalClient }
  if (e.via === 'upnp' || e.via === undefined) {
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
  // protocol itself, so they cannot remove someone else's mapping.
  const backend = pxpBackend(e.via, { router: e.router ?? '', budgetMs: o.pxpBudget, serial: o.serial })
  if (e.nonce) granted.nonce = e.nonce
  await backend.remove(params, granted)
  return true
}
