// PortMapper's journal against miniupnpd: shared by processes (each SIGKILLed in turn, two
// starting at once), owners told apart by pid, start and boot, a path that is no file, and
// leftovers adopted by the next start (same external port) instead of deleted. Apps run in
// processes of their own (exit-child.ts); the router is read with upnpc -l.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PortMapper, UPNPResult } from '../../../index.ts'
import { ownerOf } from '../../../lib/portmapper/journal-owner.ts'
import { type AppChild, startApp } from '../../helpers/app-child.ts'
import { nextEvent, trackMappers } from '../../helpers/mappers.ts'
import { LAB, repoRoot, upnpcAdd, upnpcDelete, upnpcList } from '../../lab/lab.ts'

const track = trackMappers()
const used = new Set<number>()
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-journal-'))
const started: AppChild[] = []
const app = (...args: Parameters<typeof startApp>) => {
  const a = startApp(...args)
  started.push(a)
  for (const p of [...args[0].ports, ...(args[0].burst ?? [])]) used.add(p)
  return a
}

/** The router's UDP mappings on `ports`: external port -> internal client:port. */
async function onRouter(...ports: number[]): Promise<Record<number, string>> {
  for (const p of ports) used.add(p)
  const all = await upnpcList()
  return Object.fromEntries(
    all
      .filter((m) => m.protocol === 'UDP' && ports.includes(m.externalPort))
      .map((m) => [m.externalPort, `${m.internalClient}:${m.internalPort}`]),
  )
}

async function kill9(a: AppChild): Promise<void> {
  a.child.kill('SIGKILL')
  await a.exited
}

interface Doc {
  sections: Array<{ owner: { pid: number }; entries: Array<{ externalPort: number; leftover?: boolean }> }>
}
const readJournal = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Doc
const ME = `${LAB.client}`

afterAll(async () => {
  for (const a of started) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL')
  const left = await upnpcList()
  for (const m of left) if (used.has(m.externalPort)) await upnpcDelete({ externalPort: m.externalPort, protocol: m.protocol })
})

describe('processes sharing one journal', () => {
  it("each SIGKILLed in turn: the dead one's mapping is swept, the live one's never touched, nothing left", async () => {
    const journal = path.join(tmp(), 'mappings.json')
    const a = app({ ports: [32500], protocol: 'upnp', journal })
    await a.line(/^READY/)
    const b = app({ ports: [32501], protocol: 'upnp', journal })
    await b.line(/^READY/)
    await kill9(a)
    expect(await onRouter(32500, 32501)).toEqual({ 32500: `${ME}:32500`, 32501: `${ME}:32501` })

    const c = track(new PortMapper({ journal, protocol: 'upnp', adoptWindow: 0 }))
    const sweptByC = nextEvent(c, 'swept', 10_000)
    await c.map({ internalPort: 32502 })
    expect((await sweptByC)[0]).toBe(1)
    expect(await onRouter(32500, 32501, 32502)).toEqual({ 32501: `${ME}:32501`, 32502: `${ME}:32502` })

    await kill9(b)
    const d = track(new PortMapper({ journal, protocol: 'upnp', adoptWindow: 0 }))
    const sweptByD = nextEvent(d, 'swept', 10_000)
    await d.map({ internalPort: 32503 })
    expect((await sweptByD)[0]).toBe(1)
    // c runs in this very process: alive, so its mapping stays.
    expect(await onRouter(32500, 32501, 32502, 32503)).toEqual({ 32502: `${ME}:32502`, 32503: `${ME}:32503` })
    // One section per live mapper (both in this process), each with its own entry.
    const sections = readJournal(journal).sections
    expect(sections.map((s) => [s.owner.pid, s.entries.map((e) => e.externalPort)])).toEqual([
      [process.pid, [32502]],
      [process.pid, [32503]],
    ])
    await c.close()
    await d.close()
    expect(await onRouter(32500, 32501, 32502, 32503)).toEqual({})
    expect(readJournal(journal).sections).toEqual([])
  })

  it("two starting at once after a crash: the leftover is claimed once, neither loses the other's entries", async () => {
    const journal = path.join(tmp(), 'mappings.json')
    const crashed = app({ ports: [32510], protocol: 'upnp', journal })
    await crashed.line(/^READY/)
    await kill9(crashed)
    const both = [32511, 32512].map((port) => app({ ports: [port], protocol: 'upnp', journal, adoptWindow: 0 }))
    await Promise.all(both.map((b) => b.line(/^READY/)))
    expect(await onRouter(32510, 32511, 32512)).toEqual({ 32511: `${ME}:32511`, 32512: `${ME}:32512` })
    for (const b of both) await kill9(b)
    const next = track(new PortMapper({ journal, protocol: 'upnp', adoptWindow: 0 }))
    const swept = nextEvent(next, 'swept', 10_000)
    await next.map({ internalPort: 32513 })
    // Both were in the journal: neither start overwrote the other's entry.
    expect((await swept)[0]).toBe(2)
    await next.close()
    expect(await onRouter(32510, 32511, 32512, 32513)).toEqual({})
  })
})

describe('who owns a section', () => {
  const leftover = (port: number) => ({
    via: 'upnp',
    controlUrl: LAB.routerControlUrl,
    serviceType: LAB.routerServiceType,
    internalClient: LAB.client,
    internalPort: port,
    externalPort: port,
    protocol: 'UDP',
  })

  it("a live process with the owner's pid but another start or boot is not the owner: its leftovers are swept", async () => {
    for (const port of [32530, 32531, 32532, 32533]) expect((await upnpcAdd({ internalPort: port, protocol: 'UDP' })).ok).toBe(true)
    // A stranger that got the dead owners' pid: alive now, started later.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      const real = ownerOf(stranger.pid as number)
      expect(real?.start).toMatch(/^linux:\d+$/)
      const dir = tmp()
      const journal = path.join(dir, 'mappings.json')
      const owner = { ...real, pid: stranger.pid }
      fs.writeFileSync(
        journal,
        JSON.stringify({
          version: 2,
          sections: [
            { owner: { ...owner, start: 'linux:1' }, id: 'other-start', entries: [leftover(32530)] },
            { owner: { ...owner, boot: 'linux:00000000-0000-4000-8000-000000000000' }, id: 'other-boot', entries: [leftover(32531)] },
            { owner, id: 'the-real-one', entries: [leftover(32533)] },
          ],
        }),
      )
      const m = track(new PortMapper({ journal, protocol: 'upnp', adoptWindow: 0 }))
      const swept = nextEvent(m, 'swept', 10_000)
      await m.map({ internalPort: 32534 })
      expect((await swept)[0]).toBe(2)
      // The version 1 journal names only a pid: one that started after the file was written is not its writer.
      const v1 = path.join(dir, 'v1.json')
      fs.writeFileSync(v1, JSON.stringify({ version: 1, pid: stranger.pid, entries: [leftover(32532)] }))
      const hourAgo = new Date(Date.now() - 3600_000)
      fs.utimesSync(v1, hourAgo, hourAgo)
      const m1 = track(new PortMapper({ journal: v1, protocol: 'upnp', adoptWindow: 0 }))
      const swept1 = nextEvent(m1, 'swept', 10_000)
      await m1.map({ internalPort: 32535 })
      expect((await swept1)[0]).toBe(1)
      expect(await onRouter(32530, 32531, 32532, 32533)).toEqual({ 32533: `${ME}:32533` })
    } finally {
      stranger.kill('SIGKILL')
      await upnpcDelete({ externalPort: 32533, protocol: 'UDP' })
    }
  })
})

describe('a journal path that is not a file', () => {
  it('a directory: an error naming it (EISDIR), the directory untouched, nothing mapped', async () => {
    const dir = tmp()
    const journal = path.join(dir, 'journal-dir')
    fs.mkdirSync(journal)
    fs.writeFileSync(path.join(journal, 'keep.txt'), 'mine')
    const before = fs.statSync(journal).ino
    const error = await track(new PortMapper({ journal, protocol: 'upnp' }))
      .map({ internalPort: 32520 })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ result: UPNPResult.INVALID_PARAM })
    expect((error as Error).message).toContain(`journal ${journal} is a directory (EISDIR)`)
    expect(fs.statSync(journal).ino).toBe(before)
    expect(fs.readFileSync(path.join(journal, 'keep.txt'), 'utf8')).toBe('mine')
    expect(fs.readdirSync(dir).sort()).toEqual(['journal-dir'])
    expect(await onRouter(32520)).toEqual({})
  })

  it('a FIFO: an error naming it, never read (that would block) nor moved', async () => {
    const journal = path.join(tmp(), 'journal.fifo')
    expect(spawnSync('mkfifo', [journal]).status).toBe(0)
    const error = await track(new PortMapper({ journal, protocol: 'upnp' }))
      .map({ internalPort: 32521 })
      .catch((e: unknown) => e)
    expect((error as Error).message).toContain(`journal ${journal} is not a regular file (a FIFO)`)
    expect(fs.lstatSync(journal).isFIFO()).toBe(true)
    expect(await onRouter(32521)).toEqual({})
  })
})

describe('durable writes', () => {
  it('each write is fsynced before its rename over the journal, and the directory after it (strace)', () => {
    const dir = tmp()
    const journal = path.join(dir, 'mappings.json')
    const trace = path.join(dir, 'trace')
    const fixture = path.join(repoRoot(), '__test__/fixtures/journal-write.ts')
    const calls = 'trace=openat,fsync,fdatasync,rename,renameat,renameat2'
    const run = spawnSync('strace', ['-f', '-e', calls, '-o', trace, process.execPath, '--import', 'tsx', fixture, journal], {
      cwd: repoRoot(),
    })
    expect(run.status, String(run.stderr)).toBe(0)
    // What happened to the journal's files, in order, from lines like `PID  fsync(36) = 0`.
    const fds = new Map<string, string>()
    const steps: string[] = []
    for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
      const open = /openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)$/.exec(line)
      if (open) fds.set(open[2] as string, open[1] === dir ? 'directory' : open[1]!.endsWith('.tmp') ? 'new journal' : 'other')
      const sync = /f(?:data)?sync\((\d+)\)\s+= 0$/.exec(line)
      if (sync && fds.get(sync[1] as string) !== 'other') steps.push(`fsync ${fds.get(sync[1] as string)}`)
      const rename = /rename(?:at2?)?\(.*"([^"]+\.tmp)", .*"([^"]+)"(?:, \d+)?\)\s+= 0$/.exec(line)
      if (rename && rename[2] === journal) steps.push('rename over the journal')
    }
    const write = ['fsync new journal', 'rename over the journal', 'fsync directory']
    expect(steps).toEqual([...write, ...write])
  })
})

describe('adopting instead of sweeping', () => {
  /** An app that mapped `port` while client2 held it (the router gave another external port),
   *  then died (SIGKILL); client2 lets go of the port: the wanted one is free again. */
  async function crashedWhileMoved(port: number, protocol: 'pcp' | 'upnp', journal: string): Promise<number> {
    expect((await upnpcAdd({ ns: 'client2', internalPort: port, protocol: 'UDP' })).ok).toBe(true)
    const crashed = app({ ports: [port], protocol, journal, description: 'game server', portRange: [port + 1, port + 1] })
    const external = Number((await crashed.line(/^MAPPED \d+ (\d+)/))[1])
    await kill9(crashed)
    expect(external).not.toBe(port)
    expect((await upnpcDelete({ ns: 'client2', externalPort: port, protocol: 'UDP' })).ok).toBe(true)
    expect(await onRouter(port, external)).toEqual({ [external]: `${ME}:${port}` })
    return external
  }

  it.each([
    ['PCP', 'pcp', 32540],
    ['UPnP', 'upnp', 32550],
  ] as const)('%s: the restarted app keeps the external port the router had assigned', async (_name, protocol, port) => {
    const journal = path.join(tmp(), 'mappings.json')
    const assigned = await crashedWhileMoved(port, protocol, journal)
    const m = track(new PortMapper({ journal, protocol }))
    let swept = 0
    m.on('swept', (n) => (swept += n))
    const again = await m.map({ internalPort: port, protocol: 'UDP', description: 'game server' })
    expect(again.externalPort).toBe(assigned)
    expect(await onRouter(port, assigned)).toEqual({ [assigned]: `${ME}:${port}` })
    expect(readJournal(journal).sections.flatMap((s) => s.entries)).toMatchObject([{ externalPort: assigned }])
    expect(readJournal(journal).sections.flatMap((s) => s.entries)[0]?.leftover).toBeUndefined()
    await m.close()
    expect(swept).toBe(0)
    expect(await onRouter(port, assigned)).toEqual({})
  })

  it('adoptWindow: 0 turns it off: the leftover is deleted first, and the port changes', async () => {
    const journal = path.join(tmp(), 'mappings.json')
    const assigned = await crashedWhileMoved(32560, 'pcp', journal)
    const m = track(new PortMapper({ journal, protocol: 'pcp', adoptWindow: 0 }))
    const swept = nextEvent(m, 'swept', 10_000)
    const again = await m.map({ internalPort: 32560, protocol: 'UDP', description: 'game server' })
    expect((await swept)[0]).toBe(1)
    expect(again.externalPort).toBe(32560)
    expect(await onRouter(32560, assigned)).toEqual({ 32560: `${ME}:32560` })
  })

  it('a leftover nothing takes over is deleted when the window ends (or at close())', async () => {
    const journal = path.join(tmp(), 'mappings.json')
    const crashed = app({ ports: [32570], protocol: 'pcp', journal, description: 'old' })
    await crashed.line(/^READY/)
    await kill9(crashed)
    const m = track(new PortMapper({ journal, protocol: 'pcp', adoptWindow: 1000 }))
    const swept = nextEvent(m, 'swept', 10_000)
    // Another description: not the same thing asked for, so not adopted.
    await m.map({ internalPort: 32571, protocol: 'UDP', description: 'new' })
    expect(await onRouter(32570)).toEqual({ 32570: `${ME}:32570` })
    expect((await swept)[0]).toBe(1)
    expect(await onRouter(32570, 32571)).toEqual({ 32571: `${ME}:32571` })
  })
})
