// Threads and contexts, as in Electron's main and utility processes: the addon loaded in
// several worker_threads and the main thread at once, each making real calls against the
// lab's miniupnpd; workers terminated with calls in flight (the process lives on and keeps
// working); and processes that end with calls pending or after use (exit 0, promptly).
// The worker/child side is __test__/fixtures/threads.cjs.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterAll, describe, expect, it } from 'vitest'
import { UPNP, UPNPResult } from '../../index.ts'
import { LAB, repoRoot, upnpcDelete, upnpcList } from '../lab/lab.ts'

const FIXTURE = path.join(repoRoot(), '__test__/fixtures/threads.cjs')
const MAP_PORTS = [47201, 47202, 47203, 47204]
const MAIN_PORT = 47210
const INFLIGHT_PORTS = [47231, 47232, 47233, 47234]
const CHILD_PORT = 47220
const WORKERS_ONLY_PORT = 47240
const ALL_PORTS = [
  ...MAP_PORTS,
  MAIN_PORT,
  ...INFLIGHT_PORTS,
  CHILD_PORT,
  47298,
  47299,
  WORKERS_ONLY_PORT,
  WORKERS_ONLY_PORT + 1,
  WORKERS_ONLY_PORT + 2,
  WORKERS_ONLY_PORT + 3,
]

interface Message {
  step: string
  port: number
  added?: number
  deleted?: number
}

function startWorker(data: { mode: 'map' | 'inflight'; port: number }) {
  const worker = new Worker(FIXTURE, { workerData: data })
  const errors: Error[] = []
  worker.on('error', (e) => errors.push(e))
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  const next = (step: string) =>
    new Promise<Message>((resolve, reject) => {
      const onMessage = (m: Message) => {
        if (m.step !== step) return
        worker.off('message', onMessage)
        resolve(m)
      }
      worker.on('message', onMessage)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before "${step}"`)))
    })
  return { worker, errors, exited, next }
}

const labPorts = async (ports: number[]) =>
  (await upnpcList())
    .filter((m) => ports.includes(m.externalPort))
    .map((m) => m.externalPort)
    .sort()

/** One full round on the main thread: discover, map, check with upnpc, unmap. */
async function mainThreadRound(port: number): Promise<void> {
  const upnp = new UPNP()
  expect(await upnp.discover({ timeout: 5000, untilGateway: true })).toBe(UPNPResult.SUCCESS)
  expect(await upnp.addPortMapping(port, port, 'main thread', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
  expect(await labPorts([port])).toEqual([port])
  expect(await upnp.deletePortMapping(port, 'UDP')).toBe(UPNPResult.SUCCESS)
  expect(await labPorts([port])).toEqual([])
}

interface ChildRun {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  ms: number
}

function child(mode: string, port = 0, timeout = 20_000): Promise<ChildRun> {
  const started = performance.now()
  return new Promise((resolve) => {
    execFile(process.execPath, [FIXTURE, mode, String(port)], { timeout, env: process.env }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
        ms: performance.now() - started,
      })
    })
  })
}

afterAll(async () => {
  // Workers terminated mid-loop may leave a mapping behind: leave the router clean.
  for (const port of ALL_PORTS) await upnpcDelete({ externalPort: port, protocol: 'UDP' }).catch(() => {})
})

describe('several threads at once', () => {
  it('the main thread and four workers discover and map at the same time, then unmap', async () => {
    const workers = MAP_PORTS.map((port) => startWorker({ mode: 'map', port }))
    const main = new UPNP()
    const [found, ...added] = await Promise.all([
      main.discover({ timeout: 5000, untilGateway: true }),
      ...workers.map((w) => w.next('added')),
    ])
    expect(found).toBe(UPNPResult.SUCCESS)
    expect(await main.addPortMapping(MAIN_PORT, MAIN_PORT, 'main thread', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
    expect(added.map((m) => m.added)).toEqual(MAP_PORTS.map(() => UPNPResult.SUCCESS))
    const listed = (await upnpcList()).filter((m) => [...MAP_PORTS, MAIN_PORT].includes(m.externalPort))
    expect(listed.map((m) => m.externalPort).sort()).toEqual([...MAP_PORTS, MAIN_PORT].sort())
    expect(new Set(listed.map((m) => m.internalClient))).toEqual(new Set([LAB.client]))

    for (const w of workers) w.worker.postMessage('delete')
    const [deletedMain, ...deleted] = await Promise.all([
      main.deletePortMapping(MAIN_PORT, 'UDP'),
      ...workers.map((w) => w.next('deleted')),
    ])
    expect(deletedMain).toBe(UPNPResult.SUCCESS)
    expect(deleted.map((m) => m.deleted)).toEqual(MAP_PORTS.map(() => UPNPResult.SUCCESS))
    // Each worker ends on its own once its work is done (code 0), with no error.
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual(MAP_PORTS.map(() => 0))
    expect(workers.flatMap((w) => w.errors)).toEqual([])
    expect(await labPorts([...MAP_PORTS, MAIN_PORT])).toEqual([])
  })

  it('workers terminated with calls in flight: no crash, later calls work on every thread', async () => {
    for (let round = 0; round < 3; round++) {
      const workers = INFLIGHT_PORTS.map((port) => startWorker({ mode: 'inflight', port }))
      await Promise.all(workers.map((w) => w.next('inflight')))
      // terminate() resolves with the exit code of a forcibly stopped thread, 1.
      expect(await Promise.all(workers.map((w) => w.worker.terminate()))).toEqual(INFLIGHT_PORTS.map(() => 1))
      expect(workers.flatMap((w) => w.errors)).toEqual([])
    }
    // Past the in-flight calls' deadlines (1.5 s): their completions find their environments
    // gone and must be dropped without touching them.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await mainThreadRound(MAIN_PORT)
    const fresh = startWorker({ mode: 'map', port: MAP_PORTS[0]! })
    expect((await fresh.next('added')).added).toBe(UPNPResult.SUCCESS)
    fresh.worker.postMessage('delete')
    expect((await fresh.next('deleted')).deleted).toBe(UPNPResult.SUCCESS)
    expect(await fresh.exited).toBe(0)
  }, 30_000)
})

describe('process exit', () => {
  it('process.exit(0) with calls pending exits 0 at once, no crash', async () => {
    const r = await child('exit-pending')
    expect(r, r.stderr).toMatchObject({ code: 0, signal: null })
    expect(r.stdout).toContain('PENDING')
    // Loading tsx + the addon and one discovery take well under this; pending work adds nothing.
    expect(r.ms).toBeLessThan(5000)
  })

  it('after real use the process ends on its own, promptly', async () => {
    const r = await child('exit-after-use', CHILD_PORT)
    expect(r, r.stderr).toMatchObject({ code: 0, signal: null })
    const out = JSON.parse(r.stdout.trim())
    expect(out).toMatchObject({ added: UPNPResult.SUCCESS, deleted: UPNPResult.SUCCESS })
    // From the last result to the process being gone: no handle of the addon holds it open.
    expect(Date.now() - out.doneAt).toBeLessThan(1000)
  })

  it('the addon used only by workers that are terminated mid-call: the process lives on, a new worker works, exit 0', async () => {
    const r = await child('workers-only', WORKERS_ONLY_PORT, 30_000)
    expect(r, r.stderr).toMatchObject({ code: 0, signal: null })
    expect(JSON.parse(r.stdout.trim())).toEqual({
      terminated: [1, 1, 1],
      added: UPNPResult.SUCCESS,
      deleted: UPNPResult.SUCCESS,
      exitCode: 0,
    })
  }, 40_000)
})
