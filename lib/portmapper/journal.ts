/**
 * The crash journal: a file recording the mappings a PortMapper holds, so that the next start
 * can delete what a crashed (SIGKILLed, power-cut) process left on the router.
 *
 * The file is input like any other (another program, a bad disk, a hand edit, another local
 * user): it is read defensively, a broken one is set aside instead of breaking every later
 * start, nothing is deleted unless it forwards to this machine, and it is written so that
 * nothing planted at the temporary path is followed.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { clientError, IGDStatus, type UPNPError, UPNPResult } from '../errors.ts'
import { UPNPDevice } from '../godot/device.ts'
import type { Protocol, Via } from '../types.ts'
import type { Granted, MappingParams, Serial } from './backend.ts'
import { isOwnAddress } from './owner.ts'
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

const VIAS: readonly string[] = ['upnp', 'natpmp', 'pcp']
const isPort = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max
const isAddress = (v: unknown): v is string => isText(v, 64) && net.isIP(v) !== 0

/** One entry as the journal should hold it, or null. */
function asEntry(v: unknown): JournalEntry | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const e = v as Record<string, unknown>
  const via = e.via ?? 'upnp' // journals from before NAT-PMP/PCP have no `via`
  if (typeof via !== 'string' || !VIAS.includes(via)) return null
  if (!isPort(e.internalPort) || !isPort(e.externalPort) || (e.protocol !== 'UDP' && e.protocol !== 'TCP')) return null
  if (!isAddress(e.internalClient)) return null
  for (const [key, max] of [
    ['controlUrl', 1024],
    ['serviceType', 256],
    ['nonce', 64],
  ] as const) {
    if (e[key] !== undefined && !isText(e[key], max)) return null
  }
  if (e.router !== undefined && e.router !== '' && !isAddress(e.router)) return null
  return { ...(e as unknown as JournalEntry), via: via as Via }
}

export class Journal {
  #usable = false

  constructor(
    readonly file: string,
    private readonly report: (error: UPNPError) => void,
  ) {}

  /**
   * Reads what the previous run left and takes the file over; null when another live process
   * owns it (then this mapper never writes it). A file that is not a journal is renamed
   * aside (`<file>.corrupt-<ms>`) with a warning, and a new journal starts.
   */
  takeOver(): JournalEntry[] | null {
    const previous = this.#read()
    if (previous.pid && previous.pid !== process.pid && processAlive(previous.pid)) {
      this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file} belongs to running process ${previous.pid}; not used`))
      return null
    }
    if (previous.skipped)
      this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file}: ${previous.skipped} unusable entries ignored`))
    this.#usable = true
    return previous.entries
  }

  #read(): { pid: number | null; entries: JournalEntry[]; skipped: number } {
    const none = { pid: null, entries: [], skipped: 0 }
    let doc: unknown
    try {
      doc = JSON.parse(fs.readFileSync(this.file, 'utf8'))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return none
      this.#setAside(error instanceof SyntaxError ? 'not JSON' : (error as Error).message)
      return none
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      this.#setAside('not a journal object')
      return none
    }
    const { pid, entries = [] } = doc as { pid?: unknown; entries?: unknown }
    if (!Array.isArray(entries)) {
      this.#setAside('"entries" is not a list')
      return none
    }
    const valid = entries.map(asEntry).filter((e): e is JournalEntry => e !== null)
    const owner = typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null
    return { pid: owner, entries: valid, skipped: entries.length - valid.length }
  }

  #setAside(why: string): void {
    const aside = `${this.file}.corrupt-${Date.now()}`
    let where: string
    try {
      fs.renameSync(this.file, aside)
      where = `set aside as ${aside}`
    } catch (error) {
      where = `could not be set aside (${(error as Error).message})`
    }
    this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file} is unreadable (${why}); ${where}, starting a new one`))
  }

  /** Writes atomically: a temporary file of a random name, created exclusively (an existing
   *  file or a planted symlink there fails instead of being followed) and readable by this
   *  user only, then renamed over the journal. */
  write(entries: JournalEntry[]): void {
    if (!this.#usable) return
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      const fd = fs.openSync(tmp, 'wx', 0o600)
      try {
        fs.writeFileSync(fd, JSON.stringify({ version: 1, pid: process.pid, entries }))
      } finally {
        fs.closeSync(fd)
      }
      fs.renameSync(tmp, this.file) // atomic: a crash never leaves half a journal
    } catch (error) {
      fs.rmSync(tmp, { force: true })
      this.report(clientError(UPNPResult.UNKNOWN_ERROR, `journal ${this.file}: ${(error as Error).message}`))
    }
  }
}

/** Deletes one leftover, only if it forwards to this machine (one of its addresses now,
 *  whatever the journal says) and the router still holds it for the same client and port. */
export async function sweepEntry(e: JournalEntry, o: { requestTimeout: number; pxpBudget: number; serial: Serial }): Promise<boolean> {
  if (!isOwnAddress(e.internalClient)) return false
  const params: MappingParams = { internalPort: e.internalPort, protocol: e.protocol, description: '', lease: 0 }
  const granted: Granted = { externalPort: e.externalPort, externalAddress: '', lease: 0, internalClient: e.internalClient }
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
  const local = e.via === 'pcp' && e.internalClient.includes(':') ? { localAddress: e.internalClient } : {}
  const backend = pxpBackend(e.via, { router: e.router ?? '', budgetMs: o.pxpBudget, serial: o.serial, ...local })
  if (e.nonce) granted.nonce = e.nonce
  await backend.remove(params, granted)
  return true
}
