// `npx upnp-native map --keep` in a real terminal (tmux, an interactive shell), the way the
// "Through npx" paragraph of docs/cli.md describes it (issue 22, defect 7). npm runs the command
// through `sh -c '...'` (Debian's dash, which does not exec it); that shell, not upnp-native,
// is npm's child, which decides what npx's exit code is and which signals reach upnp-native.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onRouter, releaseAfterAll, sleep } from '../helpers/cli-run.ts'
import { interactiveShell, type Terminal } from '../helpers/tmux.ts'
import { repoRoot } from '../lab/lab.ts'

const P = { ctrlC: 47340, term: 47341, int: 47342 }
releaseAfterAll(P)

let project: string
let terminal: Terminal

beforeAll(async () => {
  // A project with upnp-native as npm links an installed bin (node_modules/.bin), running the
  // build; npx finds it there and never asks a registry (--offline, and the lab has none).
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-native-npx-'))
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  fs.mkdirSync(path.join(project, 'node_modules/.bin'), { recursive: true })
  const bin = path.join(project, 'node_modules/.bin/upnp-native')
  fs.writeFileSync(bin, `#!/bin/sh\nexec '${process.execPath}' '${path.join(repoRoot(), 'dist/cli/main.js')}' "$@"\n`)
  fs.chmodSync(bin, 0o755)
  terminal = await interactiveShell(project, {
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: os.homedir(),
    TERM: 'xterm-256color',
    NO_COLOR: '1',
  })
}, 30_000)

afterAll(async () => {
  await terminal?.close()
  fs.rmSync(project, { recursive: true, force: true })
})

/** The pid of the process whose command line contains `text` (pgrep -f), or null. */
function pidOf(text: string): number | null {
  try {
    return Number(execFileSync('pgrep', ['-f', '-o', text]).toString().trim())
  } catch {
    return null
  }
}

async function holding(port: number): Promise<{ npm: number; cli: number }> {
  await terminal.send('clear', 'Enter')
  await terminal.send(`npx --offline upnp-native map ${port} --keep`, 'Enter')
  await terminal.waitFor(new RegExp(`Holding UDP .*:${port}[\\s\\S]*Press Ctrl-C`))
  expect(await onRouter(port)).toBeDefined()
  const npm = pidOf(`npm exec upnp-native map ${port}`)
  const cli = pidOf(`main.js map ${port} --keep`)
  expect(npm).toBeGreaterThan(0)
  expect(cli).toBeGreaterThan(0)
  return { npm: npm!, cli: cli! }
}

async function gone(port: number, pid: number, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms
  while ((await onRouter(port)) || pidOf(`main.js map ${port} --keep`) === pid) {
    if (Date.now() > deadline) throw new Error(`upnp-native ${pid} still holds ${port}`)
    await sleep(200)
  }
}

let asked = 0
/** The shell's $? for the command it ran last (typed ahead: the shell reads it once its job
 *  is done; an orphaned upnp-native may have written over its prompt). */
async function lastExitCode(): Promise<number> {
  const marker = `EXIT${++asked}`
  await terminal.send(`echo ${marker}=$?`, 'Enter')
  return Number(new RegExp(`^${marker}=(\\d+)`, 'm').exec(await terminal.waitFor(new RegExp(`^${marker}=\\d+`, 'm')))![1])
}

describe('npx upnp-native map --keep, in a terminal', () => {
  it('Ctrl-C: the mapping is deleted before npx returns; npx itself exits 130', async () => {
    const { cli } = await holding(P.ctrlC)
    await terminal.send('C-c')
    // upnp-native says it deleted the mapping, then the prompt comes back.
    await terminal.waitFor(new RegExp(`Deleted UDP ${P.ctrlC} from the router\\.\\n\\n?\\$`))
    await gone(P.ctrlC, cli)
    // The shell npm ran saw the Ctrl-C too and ends itself by SIGINT once upnp-native is
    // done; npm then does the same (130): upnp-native's own exit code (0) is not npx's.
    expect(await lastExitCode()).toBe(130)
  })

  it('SIGTERM to npm alone (a process manager): upnp-native notices and deletes (before: held forever)', async () => {
    const { npm, cli } = await holding(P.term)
    process.kill(npm, 'SIGTERM')
    // npm forwards it to `sh -c`, which dies of it: upnp-native is orphaned, never signalled.
    await gone(P.term, cli)
    expect(await lastExitCode()).toBe(143)
  })

  it("SIGINT to npm alone is not forwarded (the shell holds it); the job's process group gets it through", async () => {
    const { npm, cli } = await holding(P.int)
    process.kill(npm, 'SIGINT')
    await sleep(2000)
    expect(await onRouter(P.int)).toBeDefined()
    expect(pidOf(`main.js map ${P.int} --keep`)).toBe(cli)
    // What a terminal's Ctrl-C does, and what docs/cli.md says to do: signal the whole group.
    const group = Number(
      execFileSync('ps', ['-o', 'pgid=', '-p', String(npm)])
        .toString()
        .trim(),
    )
    process.kill(-group, 'SIGINT')
    await gone(P.int, cli)
    expect(await lastExitCode()).toBe(130)
  })
})
