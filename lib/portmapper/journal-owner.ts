/**
 * Who wrote a journal section, and whether that process still runs. A pid alone says little:
 * pids are reused, soon after a reboot above all, and a live stranger with the dead owner's
 * pid would keep its leftovers from ever being swept. So an owner is its pid, its start time
 * and the machine's boot:
 * - Linux: the boot id (/proc/sys/kernel/random/boot_id) and the process's start in clock
 *   ticks since boot (/proc/PID/stat): both exact, so a reused pid is always told apart;
 * - elsewhere: the boot time (now - uptime) and the process's own start, in wall-clock ms. A
 *   different boot (more than BOOT_SLACK_MS apart) means the owner is gone; within one boot a
 *   live process with the owner's pid is taken to be it (its start cannot be read here).
 * Journals written before owners had a start (version 1) name only the pid: on Linux a
 * process with that pid that started after the journal was last written is not its owner.
 */
import fs from 'node:fs'
import os from 'node:os'

/** The process that wrote a journal section. */
export interface Owner {
  pid: number
  /** "linux:<ticks since boot>" or "wall:<ms>"; absent in version 1 journals. */
  start?: string
  /** "linux:<boot id>" or "uptime:<boot time in wall-clock ms>". */
  boot?: string
}

/** Two boot times computed from the wall clock closer than this are the same boot (the clock
 *  may have been adjusted between the two readings). */
const BOOT_SLACK_MS = 5 * 60_000
/** Linux's USER_HZ, the unit of /proc/PID/stat's start time (100 on every architecture). */
const TICKS_PER_S = 100

const LINUX = process.platform === 'linux'

const read = (file: string): string | null => {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** Ticks since boot when `pid` started (Linux), or null. */
function startTicks(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`)
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; field 22 is the start.
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields?.[19] ?? null
}

function bootNow(): string {
  const id = LINUX ? read('/proc/sys/kernel/random/boot_id')?.trim() : undefined
  return id ? `linux:${id}` : `uptime:${Math.round(Date.now() - os.uptime() * 1000)}`
}

/** The owner `pid` would be if it wrote a section now: exact on Linux; elsewhere only this
 *  process's own start is known. Null for another process that cannot be read. */
export function ownerOf(pid: number): Owner | null {
  const ticks = LINUX ? startTicks(pid) : null
  if (ticks) return { pid, start: `linux:${ticks}`, boot: bootNow() }
  return pid === process.pid ? { pid, start: `wall:${Math.round(performance.timeOrigin)}`, boot: bootNow() } : null
}

let self: Owner | null = null

/** This process. */
export function me(): Owner {
  self ??= ownerOf(process.pid) as Owner
  return self
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function sameBoot(a: string, b: string): boolean {
  const [kindA, valueA = ''] = a.split(/:(.*)/)
  const [kindB, valueB = ''] = b.split(/:(.*)/)
  if (kindA !== kindB) return true // written on another platform: cannot tell, keep it
  if (kindA === 'uptime') return Math.abs(Number(valueA) - Number(valueB)) <= BOOT_SLACK_MS
  return valueA === valueB
}

/** When `pid` started, in wall-clock ms (Linux), or null. */
function startedAt(pid: number): number | null {
  const ticks = startTicks(pid)
  const btime = /^btime (\d+)$/m.exec(read('/proc/stat') ?? '')?.[1]
  return ticks && btime ? Number(btime) * 1000 + (Number(ticks) * 1000) / TICKS_PER_S : null
}

/** Whether the process that wrote `owner`'s section still runs; `writtenAt`: when the journal
 *  file was last written (wall-clock ms), for owners that name no start. */
export function isRunning(owner: Owner, writtenAt: number): boolean {
  if (!pidAlive(owner.pid)) return false
  if (owner.boot && !sameBoot(owner.boot, bootNow())) return false
  if (owner.start?.startsWith('linux:')) {
    const ticks = startTicks(owner.pid)
    return ticks === null || `linux:${ticks}` === owner.start
  }
  if (!owner.start && LINUX) {
    // A second of slack: /proc/stat's boot time is whole seconds.
    const started = startedAt(owner.pid)
    return started === null || started <= writtenAt + 1000
  }
  return true
}
