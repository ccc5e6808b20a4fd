// The router's CPU time, for the router's cost per add+delete pair. Read by the orchestrator
// around a miniupnpc run and by bench/worker.ts around its measured section only (a worker's
// discovery and warm-up also run on the router).
import fs from 'node:fs'
import { routerPid } from '../__test__/lab/lab.ts'

/** miniupnpd's time so far, microseconds, from one read of /proc/PID/schedstat (nanoseconds,
 *  exact, unlike the 10 ms ticks of /proc/PID/stat): `cpu` on a CPU, `wait` ready to run but
 *  waiting for one. In the lab the client and the router share this machine's two CPUs (a
 *  real router has its own), so a client that keeps both busy slows a router that is the
 *  limit. NaN when it cannot be read. */
export function routerSched(): { cpu: number; wait: number } {
  try {
    const pid = routerPid()
    const [cpu, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number)
    return { cpu: cpu! / 1000, wait: wait! / 1000 }
  } catch {
    return { cpu: Number.NaN, wait: Number.NaN }
  }
}
