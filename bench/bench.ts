// upnp-native against miniupnpc (the C library Godot uses) and the npm peers, side by side
// on the lab's real router (miniupnpd) in one run.
//
//   npm run bench                 (lab.sh bench: lab up, build, this, lab down)
//   ... bench/bench.ts --quick    fewer repetitions, for development
//   ... --only pairs,memory       a subset of the phases (writes partial.json)
//   ... --render results.json     redraw the table and chart from a saved run (no network)
//
// Writes bench/out/results.json, results.md and chart.svg (or --out DIR). Refuses to run
// outside the lab's client namespace: it discovers, and so do the peers.
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { assertInLab, LAB } from '../__test__/lab/lab.ts'
import type { LibName } from './adapters.ts'
import { PORT_BASE } from './ports.ts'
import { measureLatency } from './latency.ts'
import { renderChart, renderMarkdown, type Results, type PairsCell } from './report.ts'
import { checkRun, cleanRouter, FAILED, leftovers, unexplained } from './router-table.ts'
import {
  args,
  harness,
  harnessErrors,
  HARNESS,
  log,
  ONLY,
  OUT,
  QUICK,
  REPO,
  run,
  sleep,
  worker,
  type HarnessRun,
  type Ran,
} from './runner.ts'
import { addCounts, round, summarize, type Summary } from './stats.ts'
import { targets } from './targets.ts'
import type { PairsRun } from './worker.ts'

/** What `require('upnp-native')` loads: the package's build (`npm run build`, which lab.sh runs). */
const PKG = path.join(REPO, 'dist')
const NATIVE_CJS = path.join(PKG, 'index.js')
const NATIVE_DIR = path.join(PKG, 'lib', 'native')

/** Repetitions and sizes. The whole run stays under ~6 minutes on 2 cores. */
const R = QUICK
  ? { floor: 5, until: 3, godot: 2, peerDiscover: 3, pairs: 2, peerPairs: 1, extip: 50, eventloop: 1, memory: 1, require: 3 }
  : { floor: 9, until: 7, godot: 5, peerDiscover: 7, pairs: 5, peerPairs: 3, extip: 200, eventloop: 3, memory: 3, require: 7 }

type Mode = 'seq' | 'c8' | 'c64'
const CONC: Record<Mode, number> = { seq: 1, c8: 8, c64: 64 }
/** Pairs per repetition, and a time budget (no new pair starts after it) for the slow peers. */
const PAIRS: Record<LibName | 'miniupnpc', Record<Mode, number>> = {
  miniupnpc: { seq: 1000, c8: 1000, c64: 300 },
  'upnp-native': { seq: 1000, c8: 1000, c64: 500 },
  'nat-port-mapper': { seq: 200, c8: 200, c64: 128 },
  'nat-api': { seq: 20, c8: 40, c64: 128 },
}
const BUDGET_MS: Record<LibName, number> = { 'upnp-native': 20000, 'nat-port-mapper': 10000, 'nat-api': 5000 }
const JS_LIBS: LibName[] = ['upnp-native', 'nat-port-mapper', 'nat-api']

// ------------------------------------------------------------------ measurements

/** The physical floor: a bare M-SEARCH from this namespace, time to the router's first reply. */
async function ssdpReplyMs(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, r))
  s.setMulticastTTL(2)
  const msg = Buffer.from(
    'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n' +
      'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nMAN: "ssdp:discover"\r\nMX: 1\r\n\r\n',
  )
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SSDP reply from the router within 3 s')), 3000)
      let t0 = 0
      s.once('message', () => {
        clearTimeout(timer)
        resolve(performance.now() - t0)
      })
      t0 = performance.now()
      s.send(msg, 1900, '239.255.255.250')
    })
  } finally {
    s.close()
  }
}

async function measureDiscovery(res: Results): Promise<void> {
  log('1/5 time to a usable gateway')
  const v: Record<string, number[]> = {
    floor: [],
    nativeUntil: [],
    natpmGateway: [],
    natpmUsable: [],
    natapi: [],
    nativeGodot: [],
    miniupnpc: [],
    miniupnpcSearch: [],
  }
  const failures: string[] = []
  type D = { gatewayMs: number; usableMs: number; ok: boolean; detail: string }
  const record = (key: string, d: D, label: string) => {
    if (d.ok) v[key]!.push(d.usableMs)
    else failures.push(`${label}: ${d.detail}`)
  }
  // Interleaved, so that a burst of load on the machine hits every library alike.
  for (let i = 0; i < R.floor; i++) {
    v.floor!.push(await ssdpReplyMs())
    await sleep(50)
  }
  for (let i = 0; i < Math.max(R.until, R.peerDiscover); i++) {
    if (i < R.until) record('nativeUntil', await worker<D>('discover', 'upnp-native', 'until'), 'upnp-native untilGateway')
    if (i < R.peerDiscover) {
      const pm = await worker<D>('discover', 'nat-port-mapper')
      record('natpmUsable', pm, 'nat-port-mapper')
      if (pm.ok) v.natpmGateway!.push(pm.gatewayMs)
      record('natapi', await worker<D>('discover', 'nat-api'), 'nat-api')
    }
    v.floor!.push(await ssdpReplyMs())
  }
  for (let i = 0; i < R.godot; i++) {
    record('nativeGodot', await worker<D>('discover', 'upnp-native', 'godot'), 'upnp-native discover()')
    const m = await harness<{ discoverMs: number; totalMs: number; validIgd: number }>('discover', '2000')
    if (m.validIgd === 1) {
      v.miniupnpc!.push(m.totalMs)
      v.miniupnpcSearch!.push(m.discoverMs)
    } else failures.push(`miniupnpc: UPNP_GetValidIGD returned ${m.validIgd}`)
  }
  res.discovery = Object.fromEntries(Object.entries(v).map(([k, vals]) => [k, summarize(vals)])) as Results['discovery']
  res.discoveryFailures = failures
}

async function measureExtIp(res: Results): Promise<void> {
  log('   external address latency')
  const m = await harness<{ ms: number[]; failures: number }>('extip', LAB.routerDescUrl, String(R.extip))
  res.extip = { miniupnpc: summarize(m.ms) }
  for (const lib of JS_LIBS) {
    const n = lib === 'nat-api' ? Math.min(10, R.extip) : R.extip
    const r = await worker<{ ms: number[]; failures: number }>('extip', lib, n)
    res.extip[lib] = summarize(r.ms)
  }
}

async function measurePairs(res: Results): Promise<void> {
  log('2/5 add+delete pairs (sequential, 8 and 64 in flight), each phase checked with upnpc -l')
  type Acc = {
    rates: number[]
    pairs: number
    left: number
    leftAfterFailure: number
    leftLate: number
    failures: number
    errors: Record<string, number>
    addP50: number[]
    delP50: number[]
    elapsed: number[]
  }
  const cells = new Map<string, Acc>()
  const cell = (lib: string, mode: Mode) => {
    const key = `${lib}/${mode}`
    if (!cells.has(key))
      cells.set(key, {
        rates: [],
        pairs: 0,
        left: 0,
        leftAfterFailure: 0,
        leftLate: 0,
        failures: 0,
        errors: {},
        addP50: [],
        delP50: [],
        elapsed: [],
      })
    return cells.get(key)!
  }
  await cleanRouter()
  const modes: Mode[] = ['seq', 'c8', 'c64']
  for (let rep = 0; rep < R.pairs; rep++) {
    for (const mode of modes) {
      // miniupnpc: blocking calls, so "in flight" means that many threads.
      {
        const n = PAIRS.miniupnpc[mode]
        const m = await harness<HarnessRun & { addMedianMs: number; deleteMedianMs: number }>(
          'pairs',
          LAB.routerDescUrl,
          String(n),
          String(CONC[mode]),
          String(PORT_BASE.miniupnpc),
        )
        const c = cell('miniupnpc', mode)
        c.rates.push((n / m.elapsedMs) * 1000)
        c.pairs += n
        c.elapsed.push(m.elapsedMs)
        c.addP50.push(m.addMedianMs)
        c.delP50.push(m.deleteMedianMs)
        c.failures += m.addFailures + m.deleteFailures
        addCounts(c.errors, harnessErrors(m))
        await checkRun('miniupnpc', c, m.failedPorts)
      }
      for (const lib of JS_LIBS) {
        if (lib !== 'upnp-native' && rep >= R.peerPairs) continue
        const n = PAIRS[lib][mode]
        const r = await worker<PairsRun>('pairs', lib, n, CONC[mode], BUDGET_MS[lib])
        const c = cell(lib, mode)
        c.rates.push((r.completed / r.elapsedMs) * 1000)
        c.pairs += r.completed
        c.elapsed.push(r.elapsedMs)
        c.addP50.push(r.addMs.p50)
        c.delP50.push(r.deleteMs.p50)
        c.failures += r.addFailures + r.deleteFailures
        addCounts(c.errors, r.errors)
        await checkRun(lib, c, r.failedPorts)
      }
    }
    log(`   round ${rep + 1}/${R.pairs} done`)
  }
  res.pairs = {}
  for (const [key, c] of cells) {
    const [lib, mode] = key.split('/') as [string, Mode]
    const out: PairsCell = {
      rate: summarize(c.rates),
      pairs: c.pairs,
      leftBehind: c.left,
      leftAfterFailure: c.leftAfterFailure + c.leftLate,
      failures: c.failures,
      errors: c.errors,
      addMedianMs: summarize(c.addP50).median,
      deleteMedianMs: summarize(c.delP50).median,
      elapsedMs: summarize(c.elapsed),
      concurrency: CONC[mode],
    }
    ;(res.pairs[lib] ??= {})[mode] = out
  }
}

async function measureEventLoop(res: Results): Promise<void> {
  log('3/5 event-loop delay during discovery + 1,000 operations (8 in flight)')
  res.eventloop = {}
  const OPS: Record<LibName, number> = { 'upnp-native': 1000, 'nat-port-mapper': 1000, 'nat-api': 100 }
  type E = {
    maxMs: number
    p99Ms: number
    meanMs: number
    ops: number
    failures: number
    discoveryMs: number
    elapsedMs: number
    discoveryMaxMs?: number
    opsMaxMs?: number
    failedPorts?: number[]
  }
  const acc: Record<string, E[]> = {}
  const left: Record<string, number> = {}
  await cleanRouter()
  for (let rep = 0; rep < R.eventloop; rep++) {
    for (const lib of JS_LIBS) {
      const e = await worker<E>('eventloop', lib, OPS[lib], 8)
      ;(acc[lib] ??= []).push(e)
      for (const p of e.failedPorts ?? []) FAILED.add(`${lib}:${p}`)
      left[lib] = (left[lib] ?? 0) + (await leftovers(lib, FAILED)).silent
      await cleanRouter()
    }
    // Control: an idle process for as long as upnp-native's run; what the machine alone does.
    const idle = await worker<E>(
      'idle',
      'idle' as LibName,
      Math.round(acc['upnp-native']!.at(-1)!.discoveryMs + acc['upnp-native']!.at(-1)!.elapsedMs),
    )
    ;(acc.idle ??= []).push({ ...idle, ops: 0, failures: 0 })
  }
  for (const [lib, list] of Object.entries(acc)) {
    res.eventloop[lib] = {
      max: summarize(list.map((e) => e.maxMs)),
      p99: summarize(list.map((e) => e.p99Ms)),
      ops: list[0]!.ops,
      failures: list.reduce((a, e) => a + e.failures, 0),
      discoveryMax: summarize(list.map((e) => e.discoveryMaxMs ?? Number.NaN)),
      opsMax: summarize(list.map((e) => e.opsMaxMs ?? Number.NaN)),
      leftBehind: left[lib] ?? 0,
    }
  }
}

async function measureMemory(res: Results): Promise<void> {
  log('4/5 memory: RSS before/after sequential operations (after a warm-up, gc forced)')
  res.memory = {}
  // The peers get fewer: nat-port-mapper leaves every mapping on the router (whose every
  // operation gets slower as its table grows), nat-api runs at ~9 pairs/s.
  const OPS: Record<LibName, number> = { 'upnp-native': 10000, 'nat-port-mapper': 1000, 'nat-api': 200 }
  const WARMUP: Record<LibName, number> = { 'upnp-native': 2000, 'nat-port-mapper': 200, 'nat-api': 20 }
  type M = {
    before: NodeJS.MemoryUsage
    after: NodeJS.MemoryUsage
    afterBlocks: NodeJS.MemoryUsage[]
    ops: number
    failures: number
    elapsedMs: number
    gc: boolean
    failedPorts: number[]
  }
  await cleanRouter()
  const growth: Record<string, { rss: number[]; heap: number[]; second: number[]; ops: number; failures: number; left: number }> = {}
  for (let rep = 0; rep < R.memory; rep++) {
    for (const lib of JS_LIBS) {
      if (lib !== 'upnp-native' && rep > 0) continue
      // upnp-native: a second block of 10,000, to tell a leak (grows again) from warm-up.
      const m = await worker<M>('memory', lib, WARMUP[lib], OPS[lib], 1, lib === 'upnp-native' ? 2 : 1)
      const g = (growth[lib] ??= { rss: [], heap: [], second: [], ops: m.ops, failures: 0, left: 0 })
      g.rss.push((m.after.rss - m.before.rss) / 2 ** 20)
      if (m.afterBlocks[1]) g.second.push((m.afterBlocks[1].rss - m.afterBlocks[0]!.rss) / 2 ** 20)
      g.heap.push((m.after.heapUsed - m.before.heapUsed) / 2 ** 20)
      g.failures += m.failures
      for (const p of m.failedPorts) FAILED.add(`${lib}:${p}`)
      g.left += (await leftovers(lib, FAILED)).silent
      await cleanRouter()
    }
  }
  const c = await harness<{ rssBeforeKiB: number; rssAfterKiB: number; failures: number; ops: number }>(
    'memory',
    LAB.routerDescUrl,
    '2000',
    '10000',
    String(PORT_BASE.miniupnpc),
  )
  await cleanRouter()
  res.memory.miniupnpc = {
    rssGrowthMB: summarize([(c.rssAfterKiB - c.rssBeforeKiB) / 1024]),
    heapGrowthMB: summarize([]),
    ops: c.ops,
    failures: c.failures,
    rssBeforeMB: c.rssBeforeKiB / 1024,
  }
  for (const [lib, g] of Object.entries(growth)) {
    res.memory[lib] = {
      rssGrowthMB: summarize(g.rss),
      heapGrowthMB: summarize(g.heap),
      ops: g.ops,
      failures: g.failures,
      leftBehind: g.left,
      ...(g.second.length ? { rssGrowthNextMB: summarize(g.second) } : {}),
    }
  }
}

// ------------------------------------------------------------------ size and load time

function dirSize(dir: string, seen: Set<string>): number {
  let total = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) total += dirSize(p, seen)
    else if (entry.isFile() && !seen.has(p)) {
      seen.add(p)
      total += fs.statSync(p).size
    }
  }
  return total
}

/** Bytes on disk of a package and every production dependency it pulls in. */
function installSize(name: string): { bytes: number; packages: number } {
  const seen = new Set<string>()
  const pkgs = new Set<string>()
  const visit = (pkg: string, fromDir: string) => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', pkg)
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        if (pkgs.has(candidate)) return
        pkgs.add(candidate)
        const meta = JSON.parse(fs.readFileSync(path.join(candidate, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
        for (const dep of Object.keys(meta.dependencies ?? {})) visit(dep, candidate)
        return
      }
      if (path.dirname(dir) === dir) return
    }
  }
  visit(name, REPO)
  let bytes = 0
  for (const p of pkgs) bytes += dirSize(p, seen)
  return { bytes, packages: pkgs.size }
}

async function measureSizeAndLoad(res: Results): Promise<void> {
  log('5/5 addon size and require time')
  const nodeFile = fs
    .readdirSync(NATIVE_DIR)
    .filter((f) => f.endsWith('.node'))
    .map((f) => path.join(NATIVE_DIR, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
  if (!nodeFile) throw new Error('no .node file: run npm run build')
  const fileOut = (await run('file', ['-b', nodeFile]).catch(() => ({ stdout: '?' }) as Ran)).stdout.trim()
  const libSo = fs.realpathSync('/usr/lib/x86_64-linux-gnu/libminiupnpc.so')
  res.size = {
    nativeNode: {
      file: path.basename(nodeFile),
      bytes: fs.statSync(nodeFile).size,
      stripped: /\bstripped\b/.test(fileOut) && !/not stripped/.test(fileOut),
    },
    nativeJs: (fs.readdirSync(PKG, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.js'))
      .reduce((a, f) => a + fs.statSync(path.join(PKG, f)).size, 0),
    miniupnpcSo: { file: path.basename(libSo), bytes: fs.statSync(libSo).size },
    peers: { 'nat-port-mapper': installSize('@achingbrain/nat-port-mapper'), 'nat-api': installSize('@silentbot1/nat-api') },
  }
  const script: Record<string, string[]> = {
    'upnp-native': ['-e', `const t=performance.now();require(${JSON.stringify(NATIVE_CJS)});console.log(performance.now()-t)`],
    'upnp-native (addon only)': [
      '-e',
      `const t=performance.now();require(${JSON.stringify(path.join(NATIVE_DIR, 'binding.js'))});console.log(performance.now()-t)`,
    ],
    'nat-port-mapper': [
      '--input-type=module',
      '-e',
      `const t=performance.now();await import('@achingbrain/nat-port-mapper');console.log(performance.now()-t)`,
    ],
    'nat-api': [
      '--input-type=module',
      '-e',
      `const t=performance.now();await import('@silentbot1/nat-api');console.log(performance.now()-t)`,
    ],
  }
  const times: Record<string, number[]> = {}
  for (let i = 0; i < R.require; i++) {
    for (const [name, argv] of Object.entries(script)) {
      const r = await run(process.execPath, argv)
      if (r.code !== 0) throw new Error(`require ${name}: ${r.stderr}`)
      ;(times[name] ??= []).push(Number(r.stdout.trim()))
    }
  }
  res.require = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)]))
}

// ------------------------------------------------------------------ set-up

async function setUp(): Promise<Record<string, string>> {
  fs.mkdirSync(OUT, { recursive: true })
  log(`set-up: compiling the miniupnpc harness (gcc ... -lminiupnpc) into ${path.relative(REPO, OUT)}/`)
  const cc = await run('gcc', [
    '-O2',
    '-Wall',
    '-o',
    HARNESS,
    path.join(REPO, 'bench/harness/miniupnpc-bench.c'),
    '-lminiupnpc',
    '-lpthread',
  ])
  if (cc.code !== 0) throw new Error(`gcc failed (is libminiupnpc-dev installed?):\n${cc.stderr}`)
  const version = (p: string) =>
    (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version
  const miniupnpcVersion = /MINIUPNPC_VERSION\s+"([^"]+)"/.exec(fs.readFileSync('/usr/include/miniupnpc/miniupnpc.h', 'utf8'))?.[1] ?? '?'
  const routerVersion = await run('miniupnpd', ['--version']).catch(() => ({ stdout: '', stderr: '' }) as Ran)
  return {
    'upnp-native': (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version,
    miniupnpc: miniupnpcVersion,
    'nat-port-mapper': version('@achingbrain/nat-port-mapper'),
    'nat-api': version('@silentbot1/nat-api'),
    router:
      (routerVersion.stdout + routerVersion.stderr)
        .split('\n')
        .find((l) => /miniupnpd/i.test(l))
        ?.trim() ?? 'miniupnpd',
  }
}

// ------------------------------------------------------------------ noise

function cpuTimes(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = line[3]! + (line[4] ?? 0)
  const total = line.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

function watchLoad(): () => { loadAtStart: number; loadMean: number; loadMax: number; cpuBusyPct: number } {
  const samples: number[] = []
  const start = cpuTimes()
  const timer = setInterval(() => samples.push(os.loadavg()[0]!), 2000)
  timer.unref()
  samples.push(os.loadavg()[0]!)
  return () => {
    clearInterval(timer)
    const end = cpuTimes()
    return {
      loadAtStart: round(samples[0]!, 2),
      loadMean: round(samples.reduce((a, b) => a + b, 0) / samples.length, 2),
      loadMax: round(Math.max(...samples), 2),
      cpuBusyPct: round(((end.busy - start.busy) / Math.max(1, end.total - start.total)) * 100, 1),
    }
  }
}

// ------------------------------------------------------------------ main

/** --render FILE: rewrite results.md and chart.svg (into --out) from a saved results.json,
 *  judged against today's targets. */
function renderOnly(file: string): void {
  const res = JSON.parse(fs.readFileSync(file, 'utf8')) as Results
  res.targets = targets(res)
  fs.mkdirSync(OUT, { recursive: true })
  const md = renderMarkdown(res)
  fs.writeFileSync(path.join(OUT, 'results.md'), md)
  fs.writeFileSync(path.join(OUT, 'chart.svg'), renderChart(res))
  process.stdout.write(md)
}

async function main(): Promise<void> {
  const renderArg = args.indexOf('--render')
  if (renderArg >= 0) return renderOnly(path.resolve(args[renderArg + 1] ?? 'results.json'))
  assertInLab()
  const started = Date.now()
  const stopWatch = watchLoad()
  const versions = await setUp()
  const res = {
    meta: {
      date: new Date().toISOString(),
      quick: QUICK,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      kernel: os.release(),
      versions,
      reps: R,
      pairsPerRep: PAIRS,
    },
  } as unknown as Results
  res.meta.phaseS = {}
  const phases: [string, (r: Results) => Promise<void>][] = [
    ['latency', measureLatency],
    ['discovery', measureDiscovery],
    ['extip', measureExtIp],
    ['pairs', measurePairs],
    ['eventloop', measureEventLoop],
    ['memory', measureMemory],
    ['size', measureSizeAndLoad],
  ]
  for (const [name, measure] of phases) {
    if (ONLY && !ONLY.includes(name)) continue
    const t = Date.now()
    await measure(res)
    res.meta.phaseS[name] = Math.round((Date.now() - t) / 1000)
    log(`   ${name}: ${res.meta.phaseS[name]} s`)
  }
  res.unexplained = unexplained
  res.meta.durationS = Math.round((Date.now() - started) / 1000)
  res.meta.noise = stopWatch()
  res.targets = targets(res)

  if (ONLY) {
    fs.writeFileSync(path.join(OUT, 'partial.json'), `${JSON.stringify(res, null, 2)}\n`)
    log(`--only: wrote ${path.relative(REPO, path.join(OUT, 'partial.json'))} (no table without every phase)`)
    return
  }
  const md = renderMarkdown(res)
  fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(res, null, 2)}\n`)
  fs.writeFileSync(path.join(OUT, 'results.md'), md)
  fs.writeFileSync(path.join(OUT, 'chart.svg'), renderChart(res))
  process.stdout.write(`\n${md}\n`)
  log(
    `wrote ${['results.json', 'results.md', 'chart.svg'].map((f) => path.relative(REPO, path.join(OUT, f))).join(', ')} in ${res.meta.durationS} s`,
  )
  const missed = res.targets.filter((t) => !t.pass)
  if (missed.length) log(`MISSED ${missed.length} target(s): ${missed.map((t) => t.id).join(', ')} (see the table)`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e)
    process.exit(1)
  },
)

export type { Summary }
