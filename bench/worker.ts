// One measurement of one JavaScript library in a fresh Node process, so that libraries never
// share a heap, a JIT, sockets or timers. Started by bench/bench.ts (inside the lab):
//
//   node --expose-gc --import tsx bench/worker.ts TASK LIB [args...]
//
//   discover  LIB MODE                       time to a usable gateway (one run)
//   pairs     LIB N CONC BUDGET_MS [WARMUP]  N add+delete pairs, CONC at once (after WARMUP pairs)
//   batch     LIB N [WARMUP]                 N adds at once, then (all done) N deletes at once
//   first     LIB PORT                       cold start to a first mapping: discover, map
//                                            (timed from the first call), then delete
//   extip     LIB N                          N external-address queries
//   eventloop LIB OPS CONC                   loop delay during discovery + OPS operations
//   idle      - MS                           loop delay of an idle process (the control)
//   memory    LIB WARMUP_OPS OPS CONC BLOCKS RSS after a warm-up and after each block of OPS operations
//
// Prints its result as one JSON line after RESULT_MARK.
import fs from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { assertInLab } from '../__test__/lab/lab.ts'
import { open, type Client, type DiscoverMode, type LibName } from './adapters.ts'
import { PORT_BASE, WARMUP_OFFSET } from './ports.ts'
import { routerSched } from './router-cpu.ts'
import { addCounts, percentile } from './stats.ts'
import { RESULT_MARK } from './worker-protocol.ts'

/** BENCH_TRACE=FILE: every operation's outcome appended to FILE (to chase a leftover). */
const TRACE: string[] | null = process.env.BENCH_TRACE ? [] : null
process.on('exit', () => {
  if (TRACE && process.env.BENCH_TRACE) fs.appendFileSync(process.env.BENCH_TRACE, TRACE.join('\n') + '\n')
})

function emit(result: unknown): void {
  process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(result)}\n`)
}

export interface PairsRun {
  started: number
  completed: number
  elapsedMs: number
  addFailures: number
  deleteFailures: number
  errors: Record<string, number>
  /** Ports whose add or delete the library reported as failed (a mapping left there was
   *  announced; one left on any other port was not). */
  failedPorts: number[]
  addMs: { p50: number; p99: number; max: number }
  deleteMs: { p50: number; p99: number; max: number }
  /** The router's CPU over these pairs, microseconds (the `pairs` and `batch` tasks). */
  routerCpuUs?: number
  /** The router's wait for a CPU over these pairs, microseconds. */
  routerWaitUs?: number
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A spare connection left idle closes after 500 ms (crate/src/upnp/link/policy.rs): the
 *  router's side of that close belongs to the run. */
const SPARES_CLOSED_MS = 600

/** The router's CPU and wait for one from `start` until the run's idle spares are closed. */
async function routerSince(start: { cpu: number; wait: number }): Promise<{ routerCpuUs: number; routerWaitUs: number }> {
  await settle(SPARES_CLOSED_MS)
  const end = routerSched()
  return { routerCpuUs: end.cpu - start.cpu, routerWaitUs: end.wait - start.wait }
}

/** `n` add+delete pairs on ports port0.., `conc` pairs at a time (so `conc` operations in
 *  flight); no new pair starts after `budgetMs`. */
async function runPairs(client: Client, n: number, conc: number, port0: number, budgetMs = Infinity): Promise<PairsRun> {
  let next = 0
  let completed = 0
  let addFailures = 0
  let deleteFailures = 0
  const errors: Record<string, number> = {}
  const failedPorts: number[] = []
  const addMs: number[] = []
  const delMs: number[] = []
  const note = (e: string): void => {
    errors[e] = (errors[e] ?? 0) + 1
  }
  const t0 = performance.now()
  const deadline = t0 + budgetMs
  await Promise.all(
    Array.from({ length: Math.min(conc, n) }, async () => {
      while (next < n && performance.now() < deadline) {
        const port = port0 + next++
        const a = performance.now()
        const addError = await client.add(port)
        const b = performance.now()
        const delError = await client.del(port)
        delMs.push(performance.now() - b)
        if (TRACE)
          TRACE.push(
            `${process.pid} ${port} ${a.toFixed(3)} add=${addError ?? 'ok'} ${b.toFixed(3)} del=${delError ?? 'ok'} ${performance.now().toFixed(3)}`,
          )
        addMs.push(b - a)
        completed += 1
        if (addError !== undefined) {
          addFailures += 1
          note(`add: ${addError}`)
        }
        if (delError !== undefined) {
          deleteFailures += 1
          note(`delete: ${delError}`)
        }
        if (addError !== undefined || delError !== undefined) failedPorts.push(port)
      }
    }),
  )
  const elapsedMs = performance.now() - t0
  const lat = (v: number[]) => ({ p50: percentile(v, 50), p99: percentile(v, 99), max: v.length ? Math.max(...v) : Number.NaN })
  return {
    started: next,
    completed,
    elapsedMs,
    addFailures,
    deleteFailures,
    errors,
    failedPorts,
    addMs: lat(addMs),
    deleteMs: lat(delMs),
  }
}

const WARMUP_PAIRS: Record<LibName, number> = { 'upnp-native': 100, 'nat-port-mapper': 20, 'nat-api': 2 }

async function openOrDie(lib: LibName, mode: DiscoverMode = 'until'): Promise<Client> {
  const o = await open(lib, mode)
  if (!o.client || !o.ok) throw new Error(`${lib}: no usable gateway (${o.detail})`)
  return o.client
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) {
    g()
    g()
  }
}

async function main(): Promise<void> {
  assertInLab()
  const [task, lib, ...rest] = process.argv.slice(2) as [string, LibName, ...string[]]
  if (task !== 'idle' && !['upnp-native', 'nat-port-mapper', 'nat-api'].includes(lib)) throw new Error(`worker: unknown library ${lib}`)
  const num = (i: number): number => Number(rest[i])
  switch (task) {
    case 'discover': {
      const o = await open(lib, (rest[0] ?? 'until') as DiscoverMode)
      emit({ gatewayMs: o.gatewayMs, usableMs: o.usableMs, ok: o.ok, detail: o.detail })
      await o.client?.close()
      break
    }
    case 'pairs': {
      const client = await openOrDie(lib)
      const warmup = rest[3] !== undefined ? num(3) : WARMUP_PAIRS[lib]
      await runPairs(client, warmup, Math.min(num(1), warmup), PORT_BASE[lib] + WARMUP_OFFSET)
      const router0 = routerSched()
      const run = await runPairs(client, num(0), num(1), PORT_BASE[lib], num(2))
      emit({ ...run, ...(await routerSince(router0)) })
      await client.close()
      break
    }
    case 'batch': {
      // An app opening many ports at once: every add in flight, then every delete.
      const client = await openOrDie(lib)
      const warmup = rest[1] !== undefined ? num(1) : WARMUP_PAIRS[lib]
      await runPairs(client, warmup, 1, PORT_BASE[lib] + WARMUP_OFFSET)
      const ports = Array.from({ length: num(0) }, (_, i) => PORT_BASE[lib] + i)
      const router0 = routerSched()
      const t0 = performance.now()
      const added = await Promise.all(ports.map((p) => client.add(p)))
      const t1 = performance.now()
      const deleted = await Promise.all(ports.map((p) => client.del(p)))
      const elapsedMs = performance.now() - t0
      const errors: Record<string, number> = {}
      for (const [what, list] of [
        ['add', added],
        ['delete', deleted],
      ] as const)
        for (const e of list) if (e !== undefined) errors[`${what}: ${e}`] = (errors[`${what}: ${e}`] ?? 0) + 1
      emit({
        elapsedMs,
        ...(await routerSince(router0)),
        addPhaseMs: t1 - t0,
        addFailures: added.filter((e) => e !== undefined).length,
        deleteFailures: deleted.filter((e) => e !== undefined).length,
        errors,
        failedPorts: ports.filter((_, i) => added[i] !== undefined || deleted[i] !== undefined),
      })
      await client.close()
      break
    }
    case 'first': {
      // From the first call (which also starts the addon's runtime) to the mapping confirmed.
      const t0 = performance.now()
      const o = await open(lib, 'until')
      const error = o.client && o.ok ? await o.client.add(num(0)) : `no gateway: ${o.detail}`
      const ms = performance.now() - t0
      if (o.client) await o.client.del(num(0))
      emit({ ms, ok: error === undefined, detail: error ?? '' })
      await o.client?.close()
      break
    }
    case 'extip': {
      const client = await openOrDie(lib)
      await client.externalIp()
      const ms: number[] = []
      let failures = 0
      for (let i = 0; i < num(0); i++) {
        const t = performance.now()
        const ip = await client.externalIp()
        ms.push(performance.now() - t)
        if (ip !== '11.22.33.44') failures += 1
      }
      emit({ ms, failures })
      await client.close()
      break
    }
    case 'eventloop': {
      // From the call that starts discovery to the last operation: everything the library
      // does on this thread, first-call set-up included. Node records the interval between
      // 1 ms timer ticks, so an idle loop already reads ~1 ms.
      const whole = monitorEventLoopDelay({ resolution: 1 })
      const disc = monitorEventLoopDelay({ resolution: 1 })
      const ops = monitorEventLoopDelay({ resolution: 1 })
      whole.enable()
      disc.enable()
      const o = await open(lib, 'godot')
      disc.disable()
      if (!o.client || !o.ok) throw new Error(`${lib}: no usable gateway (${o.detail})`)
      ops.enable()
      const run = await runPairs(o.client, num(0) / 2, num(1), PORT_BASE[lib])
      ops.disable()
      whole.disable()
      emit({
        maxMs: whole.max / 1e6,
        p99Ms: whole.percentile(99) / 1e6,
        meanMs: whole.mean / 1e6,
        samples: whole.count,
        discoveryMaxMs: disc.max / 1e6,
        opsMaxMs: ops.max / 1e6,
        opsP99Ms: ops.percentile(99) / 1e6,
        discoveryMs: o.usableMs,
        ops: run.completed * 2,
        failures: run.addFailures + run.deleteFailures,
        elapsedMs: run.elapsedMs,
        failedPorts: run.failedPorts,
        errors: run.errors,
      })
      await o.client.close()
      break
    }
    case 'idle': {
      // The control for 'eventloop': the same process set-up, no library, as long as a run.
      const whole = monitorEventLoopDelay({ resolution: 1 })
      whole.enable()
      await settle(num(0))
      whole.disable()
      emit({ maxMs: whole.max / 1e6, p99Ms: whole.percentile(99) / 1e6, meanMs: whole.mean / 1e6, samples: whole.count })
      break
    }
    case 'memory': {
      // RSS after a warm-up, then after each block of OPS operations: a leak grows block
      // after block, allocator and JIT warm-up do not.
      const client = await openOrDie(lib)
      const warmup = num(0) / 2
      const pairs = num(1) / 2
      const conc = num(2)
      const blocks = Math.max(1, num(3) || 1)
      // Warm-up pairs stay inside the warm-up port range (its first 1000 ports).
      for (let done = 0; done < warmup; done += 500)
        await runPairs(client, Math.min(500, warmup - done), conc, PORT_BASE[lib] + WARMUP_OFFSET)
      gc()
      await settle(200)
      gc()
      const before = process.memoryUsage()
      const after: NodeJS.MemoryUsage[] = []
      let ops = 0
      let failures = 0
      let elapsedMs = 0
      const failedPorts: number[] = []
      const errors: Record<string, number> = {}
      for (let b = 0; b < blocks; b++) {
        const run = await runPairs(client, pairs, conc, PORT_BASE[lib])
        gc()
        await settle(200)
        gc()
        after.push(process.memoryUsage())
        ops += run.completed * 2
        failures += run.addFailures + run.deleteFailures
        elapsedMs += run.elapsedMs
        failedPorts.push(...run.failedPorts)
        addCounts(errors, run.errors)
      }
      emit({
        before,
        after: after[0],
        afterBlocks: after,
        ops: ops / blocks,
        failures,
        elapsedMs,
        gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
        failedPorts,
        errors,
      })
      await client.close()
      break
    }
    default:
      throw new Error(`worker: unknown task ${task}`)
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e)
    process.exit(1)
  },
)
