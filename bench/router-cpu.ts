// The router's CPU time, for the router's cost per add+delete pair. Read by the orchestrator
// around a miniupnpc run and by bench/worker.ts around its measured section only (a worker's
// discovery and warm-up also run on the router).
import fs from 'node:fs'
import { routerPid } from '../__test__/lab/lab.ts'

/** miniupnpd's /proc/PID/schedstat in microseconds: time on a CPU (nanoseconds, exact, unlike
 *  the 10 ms ticks of /proc/PID/stat) and time it was ready to run but waited for one. NaN
 *  when it cannot be read. */
function schedstat(): { cpu: number; wait: number } {
  try {
    const pid = routerPid()
    const [cpu, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number)
    return { cpu: cpu! / 1000, wait: wait! / 1000 }
  } catch {
    return { cpu: Number.NaN, wait: Number.NaN }
  }
}

/** CPU time miniupnpd has used so far, in microseconds. */
export const routerCpuUs = (): number => schedstat().cpu

/** Time miniupnpd has waited for a CPU so far, in microseconds. In the lab the client and the
 *  router share this machine's two CPUs (a real router has its own), so a client that keeps
 *  both busy slows a router that is the limit. */
export const routerWaitUs = (): number => schedstat().wait
