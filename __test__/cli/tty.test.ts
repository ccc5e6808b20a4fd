// The command line in a real pseudo-terminal, as a person sees it: script(1) records every
// byte (spinner frames with elapsed time, colours, the cursor hidden and restored, the line
// erased) and tmux shows the screen while searching and after Ctrl-C. See commands.test.ts.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BUILT_CLI, onRouter, releaseAfterAll } from '../helpers/cli-run.ts'
import { type PaneWatch, waitForScreen, watchPane } from '../helpers/tmux.ts'
import { LAB } from '../lab/lab.ts'

/** Ports this file maps (>= 1024: the lab's miniupnpd refuses lower ones with 606). */
const P = { tty: 47308 }
releaseAfterAll(P)

function tool(cmd: string, args: string[], timeout = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
// The built CLI: started through tsx it spends ~0.5 s of CPU before its first line, which
// on a loaded machine kept the screen empty past the waits below.
const cliLine = (args: string[]) => [process.execPath, BUILT_CLI, ...args].map(shellQuote).join(' ')

describe('in a real pseudo-terminal', () => {
  it('script(1): a spinner with elapsed time on stderr, colours, the cursor hidden then restored', async () => {
    // script gives the command a pty for stdin/stdout/stderr and copies every byte it writes.
    const r = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color NO_COLOR= FORCE_COLOR= ${cliLine(['status', '--timeout', '1.2'])}`,
      '/dev/null',
    ])
    expect(r.code).toBe(0)
    const raw = r.stdout
    expect(raw.startsWith('\x1b[?25l')).toBe(true) // cursor hidden while the spinner runs
    const frames = [
      ...raw.matchAll(/\r\x1b\[2K\x1b\[36m(.)\x1b\[39m Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \x1b\[2m(\d+\.\d)s\x1b\[22m/g),
    ]
    expect(frames.length).toBeGreaterThan(6) // 80 ms a frame over 1.2 s
    expect(new Set(frames.map((f) => f[1])).size).toBeGreaterThan(6) // it turns
    const elapsed = frames.map((f) => Number(f[2]))
    expect(elapsed[0]).toBe(0)
    expect(elapsed.at(-1)).toBeGreaterThanOrEqual(1.0)
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b))
    // The spinner line is erased and the cursor shown again before the result.
    const result = raw.slice(raw.indexOf('\r\x1b[2K\x1b[?25h') + '\r\x1b[2K\x1b[?25h'.length)
    expect(result).toMatch(/^\x1b\[1mFound in 1\.\d s:\x1b\[22m\r\n/)
    expect(result).toContain('\x1b[32mconnected\x1b[39m')
    expect(result).toContain(`\x1b[1mDouble NAT:\x1b[22m \x1b[32mno (${LAB.extIp} is a public address)\x1b[39m`)

    // --no-color: the spinner still turns, without colour; --json: nothing but the document.
    const noColor = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color ${cliLine(['status', '--timeout', '0.5', '--no-color'])}`,
      '/dev/null',
    ])
    expect(noColor.stdout).toMatch(/\r\x1b\[2K. Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \d\.\ds/)
    expect(noColor.stdout).not.toMatch(/\x1b\[(3\d|1|2|22)m/)
    const asJson = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color ${cliLine(['status', '--timeout', '0.5', '--json'])}`,
      '/dev/null',
    ])
    expect(asJson.stdout).not.toContain('\x1b')
    expect(JSON.parse(asJson.stdout.replace(/\r\n/g, '\n'))).toMatchObject({ command: 'status', ok: true })
  })

  describe('tmux: the screen a person sees', () => {
    // A private server on its own socket file, removed afterwards.
    const socket = path.join(os.tmpdir(), `upnp-native-cli-test-${process.pid}.tmux`)
    const tmux = (...args: string[]) => tool('tmux', ['-S', socket, ...args])
    const screen = async (colours = false) => (await tmux('capture-pane', '-p', ...(colours ? ['-e'] : []), '-t', 'cli')).stdout
    // The session of the test running now, watched for output (helpers/tmux.ts).
    let pane: PaneWatch | null = null
    const waitFor = (pattern: RegExp) => waitForScreen(screen, pane!, pattern)
    const cursorVisible = async () => (await tmux('display-message', '-p', '-t', 'cli', '#{cursor_flag}')).stdout.trim() === '1'
    async function start(args: string[]): Promise<void> {
      await tmux(
        'new-session',
        '-d',
        '-s',
        'cli',
        '-x',
        '132',
        '-y',
        '30',
        `env TERM=tmux-256color NO_COLOR= FORCE_COLOR= ${cliLine(args)}; echo "EXIT=$?"; sleep 60`,
      )
      pane?.close()
      pane = await watchPane(tmux, 'cli', `${socket}.out`)
    }

    afterAll(async () => {
      await tmux('kill-server').catch(() => undefined)
      pane?.close()
      fs.rmSync(socket, { force: true })
    })

    it('status: the spinner counts while searching, then only the result is left, in colour', async () => {
      await start(['status', '--timeout', '1.5'])
      const during = await waitFor(/Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… 0\.[3-9]s/)
      expect(during).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \d\.\ds/m)
      expect(await cursorVisible()).toBe(false) // hidden while the line animates
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain('EXIT=0')
      expect(await cursorVisible()).toBe(true)
      expect(after).not.toContain('Looking for')
      expect(after.trimEnd().split('\n').slice(0, 6)).toEqual([
        expect.stringMatching(/^Found in 1\.\d s:$/),
        expect.stringMatching(/^UPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected$/),
        expect.stringMatching(/^NAT-PMP +192\.168\.77\.1 +server .* +answers$/),
        expect.stringMatching(/^PCP +192\.168\.77\.1 +server .* +answers$/),
        `External address: ${LAB.extIp}`,
        `Double NAT: no (${LAB.extIp} is a public address)`,
      ])
      const coloured = await screen(true)
      expect(coloured).toMatch(/\x1b\[1mFound in/) // bold heading
      expect(coloured).toMatch(/\x1b\[32mconnected/) // green status
      await tmux('kill-session', '-t', 'cli')
    })

    it('Ctrl-C while searching: the line is cleared, the cursor comes back, "interrupted", exit 130', async () => {
      await start(['status', '--timeout', '10'])
      await waitFor(/Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… 0\.[3-9]s/)
      await tmux('send-keys', '-t', 'cli', 'C-c')
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain('upnp-native: interrupted')
      expect(after).toContain('EXIT=130')
      expect(after).not.toContain('Looking for')
      expect(await cursorVisible()).toBe(true)
      await tmux('kill-session', '-t', 'cli')
    })

    it('map --keep: Ctrl-C typed in the terminal deletes the mapping; exit 0', async () => {
      await start(['map', String(P.tty), '--tcp', '--keep'])
      const holding = await waitFor(/Press Ctrl-C/)
      expect(holding).toContain(`Holding TCP ${LAB.extIp}:${P.tty} → ${LAB.client}:${P.tty}  (lease 1 h, renewed every 30 min)`)
      expect(await onRouter(P.tty, 'TCP')).toMatchObject({ internalClient: LAB.client })
      await tmux('send-keys', '-t', 'cli', 'C-c')
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain(`Deleted TCP ${P.tty} from the router.`)
      expect(after).toContain('EXIT=0')
      expect(after).not.toContain('Deleting the mapping') // the spinner line was cleared
      expect(await onRouter(P.tty, 'TCP')).toBeUndefined()
      await tmux('kill-session', '-t', 'cli')
    })
  })
})
