// A private tmux server (its own socket file) for tests that need a real terminal: an
// interactive shell the test types into, the screen as a person sees it.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sleep } from './cli-run.ts'

export interface Terminal {
  /** Types `keys` (tmux key names: 'Enter', 'C-c', or text). */
  send(...keys: string[]): Promise<void>
  /** The visible screen, as text. */
  screen(): Promise<string>
  /** Waits until the screen matches `pattern`; resolves with it. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>
  /** Ends the server and removes its socket. */
  close(): Promise<void>
}

function tool(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('tmux', args, { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`tmux ${args[2]}: ${stderr}`)) : resolve(stdout),
    ),
  )
}

/** An interactive bash (no rc files, prompt "$ ") in `cwd`, with exactly the environment `env`. */
export async function interactiveShell(cwd: string, env: Record<string, string>): Promise<Terminal> {
  const socket = path.join(os.tmpdir(), `upnp-native-test-${process.pid}-${Date.now()}.tmux`)
  const tmux = (...args: string[]) => tool(['-S', socket, ...args])
  const assignments = Object.entries({ ...env, PS1: '$ ' }).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
  await tmux(
    'new-session',
    '-d',
    '-s',
    't',
    '-x',
    '150',
    '-y',
    '40',
    '-c',
    cwd,
    `env -i ${assignments.join(' ')} bash --norc --noprofile -i`,
  )
  const screen = () => tmux('capture-pane', '-p', '-t', 't')
  const waitFor = async (pattern: RegExp, ms = 15_000) => {
    const deadline = Date.now() + ms
    for (;;) {
      const text = await screen()
      if (pattern.test(text)) return text
      if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`)
      await sleep(50)
    }
  }
  await waitFor(/^\$ ?$/m)
  return {
    send: async (...keys) => void (await tmux('send-keys', '-t', 't', ...keys)),
    screen,
    waitFor,
    close: async () => {
      await tmux('kill-server').catch(() => undefined)
      fs.rmSync(socket, { force: true })
    },
  }
}
