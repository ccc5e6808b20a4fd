// PortMapper's cleanup in an Electron app's main process, where beforeExit never fires
// (electron/electron#41119) and Electron quits on SIGINT/SIGTERM itself. The app runs in a
// child process made to look like Electron's main process (fixtures/electron-main.cjs: the
// `electron` module, app's quit sequence, the message loop) and maps a port on miniupnpd.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { repoRoot, routerPid, upnpcDelete, upnpcList } from '../../lab/lab.ts'

const PORTS = [47500, 47501, 47502, 47503, 47504]

interface Run {
  child: ChildProcess
  /** The JSON lines the app printed, as they come. */
  lines: Promise<Record<string, unknown>>[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; events: string[] }>
}

function startApp(mode: 'quit' | 'wait' | 'cancel', port: number, env: Record<string, string> = {}, requestTimeout = 3000): Run {
  const fixtures = path.join(repoRoot(), '__test__/fixtures')
  const child = spawn(
    process.execPath,
    [
      '--require',
      path.join(fixtures, 'electron-main.cjs'),
      '--import',
      'tsx',
      path.join(fixtures, 'electron-app.ts'),
      mode,
      String(port),
      String(requestTimeout),
    ],
    { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  )
  const resolvers: ((v: Record<string, unknown>) => void)[] = []
  const lines = [0, 1].map(() => new Promise<Record<string, unknown>>((resolve) => resolvers.push(resolve)))
  let out = ''
  let seen = 0
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    const complete = out.split('\n').slice(0, -1)
    while (seen < complete.length) resolvers[seen]?.(JSON.parse(complete[seen++] ?? '{}') as Record<string, unknown>)
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  let quitAt = 0
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; events: string[] }>((resolve) => {
    child.once('exit', (code, signal) => {
      const events = [...err.matchAll(/^electron-standin: (.+)$/gm)].map((m) => m[1] ?? '')
      resolve({ code, signal, ms: performance.now() - quitAt, events })
    })
  })
  child.stderr?.on('data', (d: Buffer) => {
    if (!quitAt && /electron-standin: (before-quit|SIG)/.test(d.toString())) quitAt = performance.now()
  })
  return { child, lines, exited }
}

const listed = async (port: number) => (await upnpcList()).some((m) => m.externalPort === port && m.protocol === 'UDP')

afterAll(async () => {
  for (const port of PORTS) await upnpcDelete({ externalPort: port, protocol: 'UDP' })
})

describe('PortMapper in an Electron main process', () => {
  it('app.quit(): the first will-quit is held until the mapping is deleted, then the app quits', async () => {
    const { lines, exited } = startApp('quit', PORTS[0]!)
    // No Node signal or beforeExit hooks (Electron's own quit on SIGINT/SIGTERM stays): one
    // will-quit listener instead.
    expect(await lines[0]).toEqual({ mapped: PORTS[0], sigint: 1, sigterm: 1, beforeExit: 0, willQuit: 1 })
    const exit = await exited
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(exit.events).toEqual(['before-quit', 'will-quit', 'will-quit prevented', 'before-quit', 'will-quit', 'quit'])
    // The process ended at 'quit', so the delete was done before.
    expect(await listed(PORTS[0]!)).toBe(false)
  })

  it('with windows open: will-quit comes after they close, and is held the same way', async () => {
    const { lines, exited } = startApp('quit', PORTS[1]!, { ELECTRON_STANDIN_WINDOWS: '2' })
    await lines[0]
    const exit = await exited
    expect(exit.code).toBe(0)
    expect(exit.events).toEqual(['before-quit', 'windows closed', 'will-quit', 'will-quit prevented', 'before-quit', 'will-quit', 'quit'])
    expect(await listed(PORTS[1]!)).toBe(false)
  })

  it('SIGTERM: Electron quits the app, the mapping is deleted, exit code 0', async () => {
    const { child, lines, exited } = startApp('wait', PORTS[2]!)
    await lines[0]
    expect(await listed(PORTS[2]!)).toBe(true)
    child.kill('SIGTERM')
    const exit = await exited
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(exit.events.slice(0, 4)).toEqual(['SIGTERM', 'before-quit', 'will-quit', 'will-quit prevented'])
    expect(await listed(PORTS[2]!)).toBe(false)
  })

  it('a router that does not answer holds the quit for the 3 s budget only', async () => {
    const { child, lines, exited } = startApp('wait', PORTS[3]!, {}, 20_000)
    await lines[0]
    const router = Number(routerPid())
    process.kill(router, 'SIGSTOP') // connections are accepted by the kernel, never answered
    try {
      child.kill('SIGTERM')
      const exit = await exited
      expect(exit.code).toBe(0)
      expect(exit.events.at(-1)).toBe('quit')
      // Held (the delete was waiting for the router) until the budget ran out, not longer.
      expect(exit.ms).toBeGreaterThan(2500)
      expect(exit.ms).toBeLessThan(6000)
    } finally {
      process.kill(router, 'SIGCONT')
    }
  })

  it('an app that cancels its quit keeps its mapping; its next quit cleans up', async () => {
    const { lines, exited } = startApp('cancel', PORTS[4]!)
    await lines[0]
    expect(await lines[1]).toEqual({ cancelled: 1, stillHeld: true })
    const exit = await exited
    expect(exit.code).toBe(0)
    expect(exit.events).toEqual([
      'before-quit',
      'will-quit',
      'will-quit prevented', // the app's own listener
      'before-quit',
      'will-quit',
      'will-quit prevented', // upnp-native holds it
      'before-quit',
      'will-quit',
      'quit',
    ])
    expect(await listed(PORTS[4]!)).toBe(false)
  })
})
