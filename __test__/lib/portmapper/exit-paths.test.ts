// PortMapper's exit paths against miniupnpd, each app in a process of its own (exit-child.ts),
// what stays on the router read with upnpc -l (which lists PCP's and NAT-PMP's mappings too)
// and the router's nftables rules: SIGHUP (a closed terminal), SIGTERM while map() calls are in
// flight, and the common `process.on('SIGINT', () => process.exit(0))` that ends the process
// before any delete could be sent.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PortMapper } from '../../../index.ts'
import { startApp } from '../../helpers/app-child.ts'
import { nextEvent, trackMappers } from '../../helpers/mappers.ts'
import { nftRules, upnpcDelete, upnpcList } from '../../lab/lab.ts'

const track = trackMappers()
const used: number[] = []
const ports = (first: number, count: number) => {
  const list = Array.from({ length: count }, (_, i) => first + i)
  used.push(...list)
  return list
}

/** The mappings the router holds on `list` (UDP). */
async function onRouter(list: number[]): Promise<number[]> {
  return (await upnpcList()).filter((m) => m.protocol === 'UDP' && list.includes(m.externalPort)).map((m) => m.externalPort)
}

afterAll(async () => {
  // Whatever a failing test left: the router goes back to its default state.
  const left = await onRouter(used)
  for (const port of left) await upnpcDelete({ externalPort: port, protocol: 'UDP' })
})

describe('exit paths', () => {
  it('SIGHUP (a closed terminal): mappings deleted, and the process still dies of SIGHUP', async () => {
    const mine = ports(32000, 2)
    const app = startApp({ ports: mine, protocol: 'upnp' })
    await app.line(/^READY/)
    expect(await onRouter(mine)).toHaveLength(2)
    app.child.kill('SIGHUP')
    expect(await app.exited).toEqual({ code: null, signal: 'SIGHUP' })
    expect(await onRouter(mine)).toEqual([])
  })

  it('SIGTERM 5-90 ms after a burst of map() calls leaves nothing on the router (21 runs, UPnP, PCP and NAT-PMP)', async () => {
    // Each protocol gets the same seven delays, 5 ms to 90 ms.
    const vias = ['upnp', 'pcp', 'natpmp'] as const
    const runs = Array.from({ length: 21 }, (_, i) => ({
      protocol: vias[i % vias.length] as (typeof vias)[number],
      delayMs: 5 + Math.round((Math.floor(i / vias.length) * 85) / 6),
      ports: ports(32200 + i * 10, 8),
    }))
    const run = async (r: (typeof runs)[number]) => {
      const [first = 0, ...burst] = r.ports
      const app = startApp({ ports: [first], burst, protocol: r.protocol })
      await app.line(/^BURST/)
      await new Promise((resolve) => setTimeout(resolve, r.delayMs))
      app.child.kill('SIGTERM')
      const end = await app.exited
      // Burst calls that had settled before the signal came; the rest were in flight or queued.
      const done = app.lines().filter((l) => burst.some((p) => l.startsWith(`MAPPED ${p} `))).length
      return { end, inFlight: burst.length - done }
    }
    const ends: Array<Awaited<ReturnType<typeof run>>> = []
    // Four apps at a time keep the whole test short.
    for (let i = 0; i < runs.length; i += 4) ends.push(...(await Promise.all(runs.slice(i, i + 4).map(run))))
    const inFlight = (via: string) => ends.filter((_, i) => runs[i]?.protocol === via).map((e) => e.inFlight)
    console.log(`map() calls not settled when SIGTERM came (of 7), per run: ${vias.map((v) => `${v} ${inFlight(v).join(' ')}`).join('; ')}`)
    expect(ends.map((e) => e.end)).toEqual(runs.map(() => ({ code: null, signal: 'SIGTERM' })))
    const all = runs.flatMap((r) => r.ports)
    expect(await onRouter(all)).toEqual([])
    const rules = await nftRules()
    expect(all.filter((p) => rules.includes(`dport ${p} `))).toEqual([])
  }, 180_000)

  // Whichever handler runs first, the deletes cannot be awaited: one warning says what stays.
  it.each([
    ['before', 32100],
    ['after', 32110],
  ] as const)(
    "process.on('SIGINT', () => process.exit(0)) registered %s the mapper's: one warning naming what stays; the next start deletes it",
    async (order, first) => {
      const mine = ports(first, 2)
      const journal = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-exit-')), 'mappings.json')
      const app = startApp({ ports: mine, protocol: 'upnp', journal, mappers: 2, exitOnSigint: order })
      await app.line(/^READY/)
      app.child.kill('SIGINT')
      expect(await app.exited).toEqual({ code: 0, signal: null })
      const warnings = app.stderr().match(/UPNPWarning: upnp-native: the process exited with port mappings still on the router/g) ?? []
      expect(warnings).toHaveLength(1)
      expect(app.stderr()).toMatch(new RegExp(`\\(UDP ${mine[0]}, UDP ${mine[1]}\\): process\\.exit\\(\\) ran before`))
      expect((await onRouter(mine)).sort()).toEqual(mine) // what it says is so
      const mapper = track(new PortMapper({ journal, protocol: 'upnp', adoptWindow: 0 }))
      const swept = nextEvent(mapper, 'swept', 10_000)
      await mapper.map({ internalPort: first + 2 })
      used.push(first + 2)
      expect((await swept)[0]).toBe(2)
      expect(await onRouter(mine)).toEqual([])
    },
  )
})
