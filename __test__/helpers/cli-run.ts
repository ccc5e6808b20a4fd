// The `upnp-native` command as a child process (`node --import tsx cli/main.ts ...`), the way
// a person or a script runs it: shared by the unit tests (parsing, usage, help) and the lab's.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, expect } from 'vitest'
import { repoRoot, upnpcDelete, upnpcList } from '../lab/lab.ts'

const ROOT = repoRoot()
export const CLI = path.join(ROOT, 'cli/main.ts')
export const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

export interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the CLI to the end, stdout/stderr piped (not a terminal), colour variables cleared.
 *  `offline`: in a network namespace of its own (unshare(1), an unprivileged user namespace:
 *  no root needed) whose only interface is a loopback that is down, so nothing it does can
 *  reach any network; for tests outside the lab. */
export function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number; offline?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // As typed in a shell: not started by npm, although the test runner was (npx vitest), so
    // its hints say `upnp-native`, not `npx upnp-native` (cli/invocation.ts).
    const env = { ...process.env, NO_COLOR: '', FORCE_COLOR: '', npm_command: '', ...opts.env }
    const node = [process.execPath, '--import', 'tsx', CLI, ...args]
    const [file, ...argv] = opts.offline ? ['unshare', '--net', '--map-root-user', ...node] : node
    execFile(file!, argv, { cwd: ROOT, env, timeout: opts.timeout ?? 25_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number' && !err.signal) return reject(err)
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        signal: (err?.signal as NodeJS.Signals | undefined) ?? null,
        stdout,
        stderr,
      })
    })
  })
}

export const json = (r: Run): any => JSON.parse(r.stdout)

/** No stack trace, no escape codes (not a terminal), whatever happened. */
export function plain(r: Run): Run {
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+/)
  expect(r.stdout + r.stderr).not.toContain('\x1b')
  return r
}

/** A usage error as the CLI must give it: exit 2, nothing on stdout, one `upnp-native:` line
 *  saying what is wrong (`message`), and what to do (`fix`). */
export function expectUsageError(r: Run, message: RegExp, fix: RegExp): void {
  plain(r)
  expect(r.code, r.stderr).toBe(2)
  expect(r.stdout).toBe('')
  expect(r.stderr).toMatch(message)
  expect(r.stderr).toMatch(fix)
  expect(r.stderr.split('\n')[0]).toMatch(/^upnp-native: /)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Starts `map --keep` and resolves once it holds the mapping (its banner / first JSON line). */
export async function startKeep(args: string[]): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '', npm_command: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => {
    out += String(d)
  })
  child.stderr!.on('data', (d) => {
    out += String(d)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + 15_000
  // The whole banner: the Holding lines (stdout) and the Ctrl-C hint (stderr) come down two
  // pipes, so the first chunk of one may arrive before the rest.
  while (!/Press Ctrl-C|"keep":true/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`map --keep did not hold: ${out}`)
    await sleep(50)
  }
  return { child, output: () => out, exited }
}

/** The router's entry for this port as `upnpc -l` (miniupnpc) lists it, if any. */
export async function onRouter(port: number, protocol: 'UDP' | 'TCP' = 'UDP') {
  return (await upnpcList()).find((m) => m.externalPort === port && m.protocol === protocol)
}

/** After the file: whatever a failing test left on these ports goes, so the router is back
 *  to how the lab made it (from both LAN clients). */
export function releaseAfterAll(ports: Record<string, number>): void {
  afterAll(async () => {
    for (const port of Object.values(ports)) {
      for (const protocol of ['UDP', 'TCP'] as const) {
        await upnpcDelete({ externalPort: port, protocol })
        await upnpcDelete({ ns: 'client2', externalPort: port, protocol })
      }
    }
  })
}
