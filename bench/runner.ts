// What every phase of the bench shares: where things are, the command line, and how a
// measurement runs in another process (the miniupnpc harness, or bench/worker.ts in a fresh
// Node process).
import { execFile, spawn } from 'node:child_process'
import path from 'node:path'
import { repoRoot } from '../__test__/lab/lab.ts'
import type { LibName } from './adapters.ts'
import { RESULT_MARK } from './worker-protocol.ts'

export const REPO = repoRoot()
export const args = process.argv.slice(2)
export const QUICK = args.includes('--quick')
const outArg = args.indexOf('--out')
export const OUT = outArg >= 0 && args[outArg + 1] ? path.resolve(args[outArg + 1]!) : path.join(REPO, 'bench/out')
export const HARNESS = path.join(OUT, 'miniupnpc-bench')
const onlyArg = args.indexOf('--only')
/** --only latency,discovery,...: a subset of the phases, for development (targets need all). */
export const ONLY = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',') : null

export const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface Ran {
  code: number
  stdout: string
  stderr: string
}

export function run(cmd: string, argv: string[], timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { cwd: REPO, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`${cmd} ${argv.join(' ')}: ${err.message}\n${stderr}`))
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
}

/** What the harness's `pairs` and `batch` modes print (besides their own timings). */
export interface HarnessRun {
  elapsedMs: number
  addFailures: number
  deleteFailures: number
  lastAddCode: number
  lastDeleteCode: number
  failedPorts: number[]
}

/** A harness run's failures, counted under miniupnpc's last error code. */
export function harnessErrors(m: HarnessRun): Record<string, number> {
  const errors: Record<string, number> = {}
  if (m.addFailures) errors[`add: miniupnpc code ${m.lastAddCode}`] = m.addFailures
  if (m.deleteFailures) errors[`delete: miniupnpc code ${m.lastDeleteCode}`] = m.deleteFailures
  return errors
}

/** One mode of the miniupnpc harness; its last line of JSON. */
export async function harness<T>(...argv: string[]): Promise<T> {
  const r = await run(HARNESS, argv)
  const line = r.stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(line) as T
  } catch {
    throw new Error(`miniupnpc-bench ${argv.join(' ')} (exit ${r.code}): ${r.stdout}${r.stderr}`)
  }
}

/** One task of bench/worker.ts in a fresh Node process. */
export function worker<T>(task: string, lib: LibName, ...rest: (string | number)[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/worker.ts', task, lib, ...rest.map(String)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      const at = out.lastIndexOf(RESULT_MARK)
      if (code !== 0 || at < 0)
        return reject(new Error(`worker ${task} ${lib} ${rest.join(' ')} failed (exit ${code}):\n${err.slice(-2000)}`))
      resolve(JSON.parse(out.slice(at + RESULT_MARK.length).split('\n')[0]!) as T)
    })
  })
}
