// A private tmux server (its own socket file) for tests that need a real terminal: an
// interactive shell the test types into, the screen as a person sees it.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

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
  const pane = await watchPane(tmux, 't', `${socket}.out`)
  const waitFor = (pattern: RegExp, ms?: number) => waitForScreen(screen, pane, pattern, ms)
  await waitFor(/^\$ ?$/m)
  return {
    send: async (...keys) => void (await tmux('send-keys', '-t', 't', ...keys)),
    screen,
    waitFor,
    close: async () => {
      await tmux('kill-server').catch(() => undefined)
      pane.close()
      fs.rmSync(socket, { force: true })
    },
  }
}

/** A pane's output as it is written: tmux copies it into `file` (pipe-pane), watched. */
export interface PaneWatch {
  /** Resolves when the pane writes something, or after `ms` at the latest. */
  changed(ms: number): Promise<void>
  /** Stops watching and removes the file. */
  close(): void
}

/** Watches pane `target` of the server `tmux` talks to (see PaneWatch). */
export async function watchPane(tmux: (...args: string[]) => Promise<unknown>, target: string, file: string): Promise<PaneWatch> {
  fs.writeFileSync(file, '')
  let wake: (() => void) | null = null
  const watcher = fs.watch(file, () => wake?.())
  await tmux('pipe-pane', '-o', '-t', target, `cat >> '${file}'`)
  return {
    changed: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms)
        function done() {
          clearTimeout(timer)
          if (wake === done) wake = null
          resolve()
        }
        wake = done
      }),
    close: () => {
      watcher.close()
      fs.rmSync(file, { force: true })
    },
  }
}

/** Waits until `screen()` matches `pattern` (or throws after `ms`); resolves with that screen.
 *  It looks again when the pane writes (and once a second), never in a tight loop: reading
 *  the screen costs a tmux process, and 25 a second took a core's sixth from the program
 *  under test, which on a loaded machine then printed nothing for 15 s. */
export async function waitForScreen(screen: () => Promise<string>, pane: PaneWatch, pattern: RegExp, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    // Armed before reading: output written while the screen is read still wakes the next look.
    const changed = pane.changed(1000)
    const text = await screen()
    if (pattern.test(text)) return text
    if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`)
    await changed
  }
}
