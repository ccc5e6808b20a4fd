/**
 * The crash journal: a file recording the mappings PortMappers hold, so that a later start
 * deletes (or takes over, `leftovers.ts`) what a process that died without cleaning up left
 * on the router (SIGKILL, a power cut, `process.exit()` from a signal handler).
 *
 * Several processes may share one journal: each mapper writes only its own section, named by
 * its process (pid, start time, boot: `journal-owner.ts`) and a random id, and a start claims only the
 * sections of processes that no longer run. Every read-change-write holds an exclusive lock
 * on `<journal>.lock` (the system's: a dead holder never keeps it), so two processes starting
 * at once never both claim the same leftovers nor lose each other's entries. Writes are
 * durable: the new journal is fsynced, renamed over the old one, and the directory fsynced.
 *
 * The file is input like any other (another program, a bad disk, a hand edit, another local
 * user): it is read defensively, nothing is deleted unless it forwards to this machine, and
 * the temporary file is created so that nothing planted there is followed. A path that is a
 * directory or anything but a regular file is an error naming it, never moved; only a regular
 * file that is not a journal is set aside (`<journal>.corrupt-<ms>`).
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { clientError, type UPNPError, UPNPResult } from '../errors.ts'
import { FileLock } from '../native/index.ts'
import type { Family, Protocol, Via } from '../types.ts'
import { isRunning, me, type Owner } from './journal-owner.ts'

/** One mapping as the journal records it: enough to find it on the router again. */
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
  /** What map() was asked for (adoption matches it); absent in older journals. */
  description?: string
  family?: Family
  /** Claimed from a process that no longer runs: to be adopted or deleted. */
  leftover?: boolean
}

interface Section {
  /** null: a version 1 journal that names no process (claimed by the next start). */
  owner: Owner | null
  /** The mapper's own id: several mappers of one process each have a section. */
  id: string
  entries: JournalEntry[]
}

/** What a read found: the sections, when the file was last written (wall-clock ms), and how
 *  many sections and entries were unusable. */
interface Read {
  sections: Section[]
  writtenAt: number
  skipped: number
}
const NOTHING: Read = { sections: [], writtenAt: 0, skipped: 0 }

/** How long a write waits for another process's (milliseconds-long) turn. */
const LOCK_WAIT_MS = 2000

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
    ['description', 1024],
  ] as const) {
    if (e[key] !== undefined && !isText(e[key], max)) return null
  }
  if (e.router !== undefined && e.router !== '' && !isAddress(e.router)) return null
  if (e.family !== undefined && e.family !== 'ipv4' && e.family !== 'ipv6') return null
  return { ...(e as unknown as JournalEntry), via: via as Via }
}

function asOwner(v: unknown): Owner | null {
  if (typeof v !== 'object' || v === null) return null
  const { pid, start, boot } = v as Record<string, unknown>
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null
  if ((start !== undefined && !isText(start, 128)) || (boot !== undefined && !isText(boot, 128))) return null
  return { pid, ...(start !== undefined ? { start } : {}), ...(boot !== undefined ? { boot } : {}) }
}

/** Why a journal cannot be used at all (its path is not a file it may replace). */
function unusable(file: string, what: string): UPNPError {
  return clientError(UPNPResult.INVALID_PARAM, `journal ${file} ${what}; give the path of a file (it is left as it is)`)
}

/** One mapper's view of a journal file: its own section in it, and the claim of dead ones'. */
export class Journal {
  /** This mapper's section. */
  readonly #id = crypto.randomBytes(6).toString('hex')
  #usable = false

  constructor(
    readonly file: string,
    private readonly report: (error: UPNPError) => void,
  ) {}

  /**
   * At the mapper's start: claims the sections of processes that no longer run into this
   * mapper's own (marked `leftover`) and returns their entries. Throws a UPNPError when the
   * path is a directory or another non-regular file, or cannot be read.
   */
  takeOver(): JournalEntry[] {
    const claimed: JournalEntry[] = []
    let skipped = 0
    this.#transact((read) => {
      skipped = read.skipped
      const kept = read.sections.filter((s) => {
        if (s.id === this.#id || (s.owner && isRunning(s.owner, read.writtenAt))) return true
        claimed.push(...s.entries.map((e) => ({ ...e, leftover: true })))
        return false
      })
      return claimed.length ? [...kept, { owner: me(), id: this.#id, entries: claimed }] : kept
    })
    if (skipped) this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file}: ${skipped} unusable entries ignored`))
    this.#usable = true
    return claimed
  }

  /** Replaces this mapper's section with `entries` (removed when empty). Failures are
   *  reported, never thrown: the mapping itself stands. */
  write(entries: JournalEntry[]): void {
    if (!this.#usable) return
    try {
      this.#transact(({ sections }) => {
        const others = sections.filter((s) => s.id !== this.#id)
        return entries.length ? [...others, { owner: me(), id: this.#id, entries }] : others
      })
    } catch (error) {
      this.report(error as UPNPError)
    }
  }

  /** Read, change and write the sections under the lock. */
  #transact(change: (read: Read) => Section[]): void {
    let lock: FileLock
    try {
      this.#checkPath()
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      lock = FileLock.acquire(`${this.file}.lock`, LOCK_WAIT_MS)
    } catch (error) {
      throw this.#failure(error)
    }
    try {
      this.#write(change(this.#read()))
    } catch (error) {
      throw this.#failure(error)
    } finally {
      lock.release()
    }
  }

  #failure(error: unknown): UPNPError {
    if (typeof error === 'object' && error !== null && 'result' in error) return error as UPNPError
    return clientError(UPNPResult.UNKNOWN_ERROR, `journal ${this.file}: ${(error as Error).message}`)
  }

  /** Nothing, or a regular file: anything else is never read, moved or replaced. */
  #checkPath(): void {
    let stat: fs.Stats
    try {
      stat = fs.lstatSync(this.file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw unusable(this.file, `cannot be examined (${(error as Error).message})`)
    }
    if (stat.isDirectory()) throw unusable(this.file, 'is a directory (EISDIR)')
    if (!stat.isFile()) {
      const kind = stat.isSymbolicLink() ? 'a symbolic link' : stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : 'a device'
      throw unusable(this.file, `is not a regular file (${kind})`)
    }
  }

  /** The sections the file holds (none when it does not exist or is set aside). */
  #read(): Read {
    let text: string
    let writtenAt: number
    try {
      text = fs.readFileSync(this.file, 'utf8')
      writtenAt = fs.statSync(this.file).mtimeMs
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return NOTHING
      throw unusable(this.file, `cannot be read (${(error as Error).message})`)
    }
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      return this.#setAside('not JSON')
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return this.#setAside('not a journal object')
    const { sections: listed, pid, entries } = doc as { sections?: unknown; pid?: unknown; entries?: unknown }
    if (listed === undefined) {
      // Version 1: one process's entries beside its pid (none: anyone's to claim).
      if (entries !== undefined && !Array.isArray(entries)) return this.#setAside('"entries" is not a list')
      const valid = (entries ?? []).map(asEntry).filter((e): e is JournalEntry => e !== null)
      const owner = asOwner({ pid })
      return { sections: [{ owner, id: 'version-1', entries: valid }], writtenAt, skipped: (entries ?? []).length - valid.length }
    }
    if (!Array.isArray(listed)) return this.#setAside('"sections" is not a list')
    let skipped = 0
    const sections: Section[] = []
    for (const s of listed as Array<Record<string, unknown> | null>) {
      const owner = s?.owner === null ? null : asOwner(s?.owner)
      if (!s || (owner === null && s.owner !== null) || typeof s.id !== 'string' || s.id.length > 64 || !Array.isArray(s.entries)) {
        skipped++
        continue
      }
      const valid = s.entries.map(asEntry).filter((e): e is JournalEntry => e !== null)
      skipped += s.entries.length - valid.length
      sections.push({ owner, id: s.id, entries: valid })
    }
    return { sections, writtenAt, skipped }
  }

  /** A regular file that is not a journal: renamed aside, reported, and a new journal begun. */
  #setAside(why: string): Read {
    const aside = `${this.file}.corrupt-${Date.now()}`
    let where: string
    try {
      fs.renameSync(this.file, aside)
      where = `set aside as ${aside}`
    } catch (error) {
      throw unusable(this.file, `is not a journal (${why}) and could not be set aside (${(error as Error).message})`)
    }
    this.report(clientError(UPNPResult.INVALID_PARAM, `journal ${this.file} is not a journal (${why}); ${where}, starting a new one`))
    return NOTHING
  }

  /** Writes durably and atomically: a temporary file of a random name, created exclusively
   *  (an existing file or a planted symlink there fails instead of being followed) and
   *  readable by this user only, fsynced, renamed over the journal, and the directory fsynced
   *  so that the rename itself survives a power cut. */
  #write(sections: Section[]): void {
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`
    try {
      const fd = fs.openSync(tmp, 'wx', 0o600)
      try {
        fs.writeFileSync(fd, JSON.stringify({ version: 2, sections }))
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      this.#checkPath() // the path may have become something else meanwhile: never replaced
      fs.renameSync(tmp, this.file)
    } catch (error) {
      fs.rmSync(tmp, { force: true })
      throw error
    }
    syncDirectory(path.dirname(this.file))
  }
}

/** fsync of a directory: makes a rename in it durable. Windows cannot open directories (its
 *  renames are journaled by NTFS itself). */
function syncDirectory(dir: string): void {
  if (process.platform === 'win32') return
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
