// The router's CPU time, for the router's cost per add+delete pair. Read by the orchestrator
// around a miniupnpc run and by bench/worker.ts around its measured section only (a worker's
// discovery and warm-up also run on the router).
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../__test__/lab/lab.ts'

/** CPU time miniupnpd has used so far, in microseconds (/proc/PID/schedstat: nanoseconds on
 *  CPU, exact, unlike the 10 ms ticks of /proc/PID/stat). NaN when it cannot be read. */
export function routerCpuUs(): number {
  try {
    const prefix = process.env.UNL_PREFIX || 'unl'
    const pid = fs.readFileSync(path.join(repoRoot(), '.lab', prefix, 'miniupnpd.pid'), 'utf8').trim()
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
  } catch {
    return Number.NaN
  }
}
