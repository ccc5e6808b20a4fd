// The router's table between runs: every run is checked with `upnpc -l` (a mapping the
// library said it deleted, or one left after a failed operation, is counted) and the table is
// emptied before the next run.
import { LAB, upnpcList } from '../__test__/lab/lab.ts'
import { portOwner } from './ports.ts'
import { harness, log, sleep } from './runner.ts'

/** What a run left on the router: silently (deletes reported done), after a failure of
 *  its own, or late (created after another run was checked). */
export interface Tally {
  left: number
  leftAfterFailure: number
  leftLate: number
}

/** Every mapping a run left, however it was charged. */
export const leftTotal = (t: Tally): number => t.left + t.leftAfterFailure + t.leftLate

/** Deletes whatever is mapped until upnpc -l shows an empty table. A mapping that shows up
 *  after a clean was created late by the router (see `leftovers`): it goes to `onLate`. */
export async function cleanRouter(): Promise<number> {
  let deleted = 0
  for (let attempt = 0; attempt < 30; attempt++) {
    deleted += (await harness<{ deleted: number; failed: number }>('clean', LAB.routerDescUrl)).deleted
    const left = await upnpcList()
    if (left.length === 0) return deleted
    for (const m of left) onLate(m.externalPort)
    await sleep(200)
  }
  throw new Error('the router keeps listing mappings after 30 cleans')
}

/** lib:port of every operation any run reported as failed, for the whole bench, and the
 *  pairs cell (if any) whose run did it. */
export const FAILED = new Set<string>()
const FAILED_AT = new Map<string, Tally>()
export const unexplained: string[] = []

function onLate(port: number): void {
  const owner = portOwner(port)
  if (!owner || owner.warmup) return
  const key = `${owner.lib}:${port}`
  const cell = FAILED_AT.get(key)
  if (cell) cell.leftLate += 1
  else if (!FAILED.has(key)) unexplained.push(`${key} appeared after a clean with no failed operation on that port`)
  if (process.env.BENCH_TRACE) log(`   late mapping ${key}`)
}

/** What the router lists after a run (upnpc -l), charged by port range to the library that
 *  mapped it. `failed` holds every port on which an earlier or this run of a library reported
 *  a failed add or delete: a mapping there was announced (typically an add that timed out
 *  queued at the router, which the kernel kept retransmitting after the client closed the
 *  socket and the router carried out later, after the delete). Anywhere else the library said
 *  it had deleted the mapping: `silent`. */
export interface Leftovers {
  silent: number
  afterFailure: { lib: string; port: number }[]
}

export async function leftovers(lib: string, failed: Set<string>): Promise<Leftovers> {
  const out: Leftovers = { silent: 0, afterFailure: [] }
  // One mapping per protocol and external port, even if a listing repeats a row.
  const rows = new Map((await upnpcList()).map((m) => [`${m.protocol}/${m.externalPort}`, m]))
  for (const m of rows.values()) {
    const owner = portOwner(m.externalPort)
    if (!owner || owner.warmup) continue
    if (failed.has(`${owner.lib}:${m.externalPort}`)) out.afterFailure.push({ lib: owner.lib, port: m.externalPort })
    else if (owner.lib === lib) out.silent += 1
    else log(`   note: ${owner.lib} mapping ${m.externalPort} appeared without a failed operation there`)
  }
  return out
}

/** Charges what the router lists after `lib`'s run to `c` (or, for a mapping on a port an
 *  earlier run failed on, to that run), then empties the table. */
export async function checkRun(lib: string, c: Tally, failedPorts: number[]): Promise<void> {
  for (const p of failedPorts) {
    FAILED_AT.set(`${lib}:${p}`, c)
    FAILED.add(`${lib}:${p}`)
  }
  // Requests that timed out may still be on their way to the router (the kernel retransmits
  // them after the client closed the socket): give them a moment to land in this run's count
  // rather than in the next run's measurement.
  if (failedPorts.length > 0) await sleep(2000)
  const l = await leftovers(lib, FAILED)
  c.left += l.silent
  for (const f of l.afterFailure) {
    const owner = FAILED_AT.get(`${f.lib}:${f.port}`) ?? c
    if (owner === c) c.leftAfterFailure += 1
    else owner.leftLate += 1
    if (process.env.BENCH_TRACE) log(`   mapping ${f.port} (${f.lib}) left after a failed operation, seen after a ${lib} run`)
  }
  await cleanRouter()
}
