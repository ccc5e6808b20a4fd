// upnp-native against miniupnpc at a real router's latency: the lab's replies delayed 0, 2 and
// 20 ms (lab.sh delay, a userspace cable: this kernel has no netem), checked by timing TCP
// connects from the client. Per delay, interleaved round by round so that a burst of load on
// the machine hits both: sequential add+delete pairs, the 64-batch (64 adds at once, then 64
// deletes; miniupnpc with 1, 4 and 8 threads), router CPU per pair and the load average; then
// cold start to a first mapping, and upnp-native at 1..256 operations in flight (no collapse).
// Every run is checked with upnpc -l.
import net from 'node:net'
import os from 'node:os'
import { delayCtl, LAB } from '../__test__/lab/lab.ts'
import { PORT_BASE } from './ports.ts'
import { routerSched } from './router-cpu.ts'
import { checkRun, cleanRouter, type Tally } from './router-table.ts'
import { harness, harnessErrors, log, QUICK, sleep, worker, type HarnessRun } from './runner.ts'
import { addCounts, summarize, type Summary } from './stats.ts'
import type { PairsRun } from './worker.ts'

const DELAYS = [0, 2, 20] as const
type Delay = (typeof DELAYS)[number]
/** Sequential pairs per run (each run a few seconds) and rounds per delay. 0 ms has nine: its
 *  runs are the shortest (a 64-batch takes 0.13 s) and one round's ratio moved between 0.73
 *  and 1.08 in five-round samples, against targets 0.1 apart; the median of nine moves less. */
const PLAN: Record<Delay, { seq: number; rounds: number }> = QUICK
  ? { 0: { seq: 500, rounds: 2 }, 2: { seq: 100, rounds: 2 }, 20: { seq: 20, rounds: 1 } }
  : { 0: { seq: 1000, rounds: 9 }, 2: { seq: 200, rounds: 5 }, 20: { seq: 40, rounds: 3 } }
export const BATCH = 64
export const THREADS = [1, 4, 8] as const
const SWEEP = [1, 4, 16, 64, 256] as const
/** Rounds of the sweep (interleaved): one run per point moved by up to 10 % between runs on
 *  this VM (the first runs of a process are slower), which read as a trend that was not there. */
const SWEEP_ROUNDS = QUICK ? 1 : 3

export interface LatencyRow extends Tally {
  rate: Summary
  /** Router CPU per add+delete pair, microseconds (miniupnpd's /proc schedstat). */
  routerCpuUs: Summary
  /** Time the router waited for a CPU per pair, microseconds (absent in older saved runs). */
  routerWaitUs?: Summary
  failures: number
  errors: Record<string, number>
}

export interface SweepPoint extends Tally {
  inFlight: number
  /** Median over the rounds, pairs/s. */
  rate: number
  /** Each round's rate, pairs/s (absent in runs saved before the sweep had rounds). */
  rates?: number[]
  failures: number
}

export interface LatencyResult {
  delayMs: number
  /** TCP connect from the client to the router's HTTP port: the delay as the client sees it. */
  connectMs: Summary
  load: Summary
  rows: Record<string, LatencyRow>
  /** Per round: upnp-native / miniupnpc sequential, and upnp-native's batch / miniupnpc's
   *  batch in the same round with its best thread count (1, 4 or 8: the highest median). */
  ratios: { seq: Summary; batch: Summary }
  /** Cold start to a first mapping, ms. */
  first: Record<string, Summary>
  firstFailures: string[]
  sweep: SweepPoint[]
}

/** Label of a row, e.g. `miniupnpc batch 4t`. */
export const rowName = (lib: string, work: 'seq' | 'batch', threads?: number) => `${lib} ${work}${threads ? ` ${threads}t` : ''}`

/** miniupnpc's batch with its best thread count, the highest median over the rounds: what
 *  upnp-native's batch is compared with. (Not the best of the three runs in each round: the
 *  largest of three noisy samples is biased upwards, most where 1 and 4 threads are equally
 *  fast.) */
export function bestBatch(rows: Record<string, LatencyRow>): { threads: number; row: LatencyRow | undefined } {
  return THREADS.map((threads) => ({ threads, row: rows[rowName('miniupnpc', 'batch', threads)] })).sort(
    (a, b) => (b.row?.rate.median ?? 0) - (a.row?.rate.median ?? 0),
  )[0]!
}

async function setDelay(delay: Delay): Promise<void> {
  await delayCtl(delay === 0 ? 'off' : delay)
  await sleep(300)
}

/** One TCP handshake with the router's HTTP port, ms. */
function connectMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const s = net.connect({ host: LAB.routerLan, port: 5000 }, () => {
      const ms = performance.now() - t0
      s.resetAndDestroy()
      resolve(ms)
    })
    s.once('error', reject)
    s.setTimeout(5000, () => s.destroy(new Error('connect timed out')))
  })
}

const emptyRow = () => ({
  rates: [] as number[],
  cpu: [] as number[],
  wait: [] as number[],
  failures: 0,
  errors: {} as Record<string, number>,
  left: 0,
  leftAfterFailure: 0,
  leftLate: 0,
})
type Acc = ReturnType<typeof emptyRow>

/** A miniupnpc run (`pairs` or `batch`), its rate and router CPU into `acc`. */
async function miniupnpc(mode: 'pairs' | 'batch', n: number, threads: number, acc: Acc): Promise<number> {
  const router0 = routerSched()
  const m = await harness<HarnessRun>(mode, LAB.routerDescUrl, String(n), String(threads), String(PORT_BASE.miniupnpc))
  const router1 = routerSched()
  acc.cpu.push((router1.cpu - router0.cpu) / n)
  acc.wait.push((router1.wait - router0.wait) / n)
  const rate = (n / m.elapsedMs) * 1000
  acc.rates.push(rate)
  acc.failures += m.addFailures + m.deleteFailures
  addCounts(acc.errors, harnessErrors(m))
  await checkRun('miniupnpc', acc, m.failedPorts)
  return rate
}

type NativeRun = Pick<
  PairsRun,
  'elapsedMs' | 'addFailures' | 'deleteFailures' | 'errors' | 'failedPorts' | 'routerCpuUs' | 'routerWaitUs'
> & {
  completed?: number
}

/** An upnp-native run in a fresh process, its rate and router CPU into `acc`. */
async function native(task: 'pairs' | 'batch', n: number, acc: Acc, extra: (string | number)[]): Promise<number> {
  const r = await worker<NativeRun>(task, 'upnp-native', n, ...extra)
  const done = r.completed ?? n
  // Read by the worker around its measured pairs only: its discovery and warm-up run on the
  // router too.
  acc.cpu.push((r.routerCpuUs ?? Number.NaN) / done)
  acc.wait.push((r.routerWaitUs ?? Number.NaN) / done)
  const rate = (done / r.elapsedMs) * 1000
  acc.rates.push(rate)
  acc.failures += r.addFailures + r.deleteFailures
  addCounts(acc.errors, r.errors)
  await checkRun('upnp-native', acc, r.failedPorts)
  return rate
}

async function measureDelay(delay: Delay): Promise<LatencyResult> {
  await setDelay(delay)
  const plan = PLAN[delay]
  const connects: number[] = []
  for (let i = 0; i < 15; i++) {
    connects.push(await connectMs())
    await sleep(20)
  }
  log(`   delay ${delay} ms: TCP connect ${summarize(connects).median.toFixed(2)} ms (median of 15)`)
  await cleanRouter()
  const acc = new Map<string, Acc>()
  const row = (name: string) => acc.get(name) ?? acc.set(name, emptyRow()).get(name)!
  const load: number[] = []
  const seqRatios: number[] = []
  // A few warm-up pairs, so that the link has measured its handshakes (as discovery does).
  const warmup = Math.min(20, plan.seq)
  for (let round = 0; round < plan.rounds; round++) {
    load.push(os.loadavg()[0]!)
    const mSeq = await miniupnpc('pairs', plan.seq, 1, row(rowName('miniupnpc', 'seq')))
    const nSeq = await native('pairs', plan.seq, row(rowName('upnp-native', 'seq')), [1, 60_000, warmup])
    seqRatios.push(nSeq / mSeq)
    const threaded: number[] = []
    for (const t of THREADS) threaded.push(await miniupnpc('batch', BATCH, t, row(rowName('miniupnpc', 'batch', t))))
    const nBatch = await native('batch', BATCH, row(rowName('upnp-native', 'batch')), [warmup])
    log(
      `   delay ${delay} ms, round ${round + 1}/${plan.rounds}: seq ${(nSeq / mSeq).toFixed(2)}x, batch ${nBatch.toFixed(0)} pairs/s (miniupnpc ${THREADS.map((t, i) => `${t}t ${threaded[i]!.toFixed(0)}`).join(', ')})`,
    )
  }
  const rows: Record<string, LatencyRow> = {}
  for (const [name, a] of acc) {
    rows[name] = {
      rate: summarize(a.rates),
      routerCpuUs: summarize(a.cpu),
      routerWaitUs: summarize(a.wait),
      failures: a.failures,
      errors: a.errors,
      left: a.left,
      leftAfterFailure: a.leftAfterFailure,
      leftLate: a.leftLate,
    }
  }
  // The batch against miniupnpc's best thread count, round by round.
  const bestRates = row(rowName('miniupnpc', 'batch', bestBatch(rows).threads)).rates
  const batchRatios = row(rowName('upnp-native', 'batch')).rates.map((n, i) => n / bestRates[i]!)
  // Cold start: miniupnpc with the shortest search that finds this router, and Godot's.
  const first: Record<string, number[]> = { 'miniupnpc 1000 ms search': [], 'miniupnpc 2000 ms search (Godot)': [], 'upnp-native': [] }
  const firstFailures: string[] = []
  const miniupnpcFirst = async (searchMs: number, row: string, port: number) => {
    const m = await harness<{ ms: number; ok: boolean; code: number }>('first', String(searchMs), String(port))
    if (m.ok) first[row]!.push(m.ms)
    else firstFailures.push(`miniupnpc ${searchMs} ms: code ${m.code}`)
  }
  const port = PORT_BASE['upnp-native'] + 4900
  for (let i = 0; i < (QUICK ? 2 : 5); i++) {
    const n = await worker<{ ms: number; ok: boolean; detail: string }>('first', 'upnp-native', port)
    if (n.ok) first['upnp-native']!.push(n.ms)
    else firstFailures.push(`upnp-native: ${n.detail}`)
    if (i < 2 || (!QUICK && i < 3 && delay === 0)) await miniupnpcFirst(1000, 'miniupnpc 1000 ms search', PORT_BASE.miniupnpc + 4900)
    if (i === 0) await miniupnpcFirst(2000, 'miniupnpc 2000 ms search (Godot)', PORT_BASE.miniupnpc + 4901)
  }
  await cleanRouter()
  // No collapse at any concurrency the API allows.
  const points = SWEEP.map((inFlight) => ({ inFlight, acc: emptyRow() }))
  for (let round = 0; round < SWEEP_ROUNDS; round++)
    for (const { inFlight, acc: a } of points) await native('pairs', Math.max(2 * inFlight, plan.seq), a, [inFlight, 120_000, warmup])
  const sweep: SweepPoint[] = points.map(({ inFlight, acc: a }) => ({
    inFlight,
    rate: summarize(a.rates).median,
    rates: a.rates,
    failures: a.failures,
    left: a.left,
    leftAfterFailure: a.leftAfterFailure,
    leftLate: a.leftLate,
  }))
  log(`   delay ${delay} ms, in flight ${SWEEP.join('/')}: ${sweep.map((p) => p.rate.toFixed(0)).join('/')} pairs/s`)
  return {
    delayMs: delay,
    connectMs: summarize(connects),
    load: summarize(load),
    rows,
    ratios: { seq: summarize(seqRatios), batch: summarize(batchRatios) },
    first: Object.fromEntries(Object.entries(first).map(([k, v]) => [k, summarize(v)])),
    firstFailures,
    sweep,
  }
}

export async function measureLatency(res: { latency?: LatencyResult[] }): Promise<void> {
  log(`0/5 at real router latency: ${DELAYS.join(', ')} ms (lab.sh delay), miniupnpc and upnp-native round by round`)
  res.latency = []
  try {
    for (const delay of DELAYS) res.latency.push(await measureDelay(delay))
  } finally {
    await setDelay(0)
  }
}
