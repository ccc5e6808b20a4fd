// stop-package-daemon.sh (run by lab.sh after installing packages, and by .ci/run): it
// stops the daemon Debian's package started on the host's network, by its pid file, and
// never another router named miniupnpd (the way `pkill -x miniupnpd` did, which stopped every
// lab's router on the machine). Stand-ins are copies of sleep(1) named miniupnpd. The script
// judges "the package's" by its own network namespace (the host's when lab.sh or .ci/run
// runs it); here it runs in the client namespace, so the package's stand-in is started here
// and the ones it must leave alone in other namespaces (the router's, client2's).
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LAB, repoRoot, routerPid } from './lab.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-stop-package-'))
const standIn = path.join(dir, 'miniupnpd')
fs.copyFileSync('/bin/sleep', standIn)
fs.chmodSync(standIn, 0o755)
const started: ChildProcess[] = []

/** A stand-in daemon: in this namespace (the package's, as the script sees it), or in another
 *  lab namespace (`ip netns exec` execs it, so the child is the stand-in). */
function startStandIn(netns?: string): ChildProcess {
  const child = netns
    ? spawn('ip', ['netns', 'exec', netns, standIn, '60'], { stdio: 'ignore' })
    : spawn(standIn, ['60'], { stdio: 'ignore' })
  started.push(child)
  return child
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The pid of `child` once it runs as miniupnpd. */
async function daemonPid(child: ChildProcess): Promise<number> {
  for (let i = 0; i < 100; i++) {
    if (fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'miniupnpd') return child.pid as number
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('the stand-in never became miniupnpd')
}

function stopScript(pidFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(repoRoot(), '__test__/lab/stop-package-daemon.sh'), 'miniupnpd'],
      { env: { ...process.env, UNL_PACKAGE_PIDFILE: pidFile } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)),
    )
  })
}

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('stopping the package-started miniupnpd', () => {
  it("stops the daemon of the package's pid file, and no lab's router", async () => {
    const router = Number(routerPid())
    const packaged = startStandIn()
    const pid = await daemonPid(packaged)
    const pidFile = path.join(dir, 'miniupnpd.pid')
    fs.writeFileSync(pidFile, `${pid}\n`)
    const exited = new Promise((resolve) => packaged.once('exit', (_code, signal) => resolve(signal)))
    expect(await stopScript(pidFile)).toMatch(new RegExp(`stopping the package's miniupnpd \\(pid ${pid},`))
    expect(await exited).toBe('SIGTERM')
    expect(alive(router)).toBe(true)
  })

  it('a pid file naming a miniupnpd in another namespace (a stale file, a reused number) stops nothing', async () => {
    const inLab = startStandIn(LAB.ns.client2)
    const pid = await daemonPid(inLab)
    const pidFile = path.join(dir, 'stale.pid')
    fs.writeFileSync(pidFile, `${pid}\n`)
    expect(await stopScript(pidFile)).toBe('')
    fs.writeFileSync(pidFile, `${routerPid()}\n`)
    expect(await stopScript(pidFile)).toBe('')
    expect(alive(pid)).toBe(true)
    expect(alive(Number(routerPid()))).toBe(true)
  })
})
