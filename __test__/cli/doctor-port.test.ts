// `doctor --port P` where P is already mapped: a diagnostic never changes what it finds. The
// user's own `map`, a running app's mapping and one made by upnpc stay exactly as they were
// (client, internal port, description, lease) per `upnpc -l`; over NAT-PMP and PCP the
// holder's mapping is still forwarded afterwards. (issue 22, defect 1: doctor deleted them.)
import { afterAll, describe, expect, it } from 'vitest'
import { invalidateProbe, PortMapper } from '../../index.ts'
import { cli, json, onRouter, plain, releaseAfterAll } from '../helpers/cli-run.ts'
import { trackMappers } from '../helpers/mappers.ts'
import { dnatRule } from '../helpers/traffic.ts'
import { LAB, nftRules, routerCtl, upnpcAdd, upnpcList } from '../lab/lab.ts'

const P = { cliMap: 47320, app: 47321, upnpc: 47322, other: 47323, pmp: 47324, pcp: 47325 }
releaseAfterAll(P)
const track = trackMappers(invalidateProbe)
afterAll(async () => {
  // The pxp cases leave the router restarted without UPnP only if they failed half-way.
  await routerCtl('stop')
  await routerCtl('start')
})

/** The entry `upnpc -l` lists for this port, and how long doctor took, around `run`. */
async function unchangedAround(port: number, protocol: 'UDP' | 'TCP', run: () => Promise<void>): Promise<void> {
  const before = await onRouter(port, protocol)
  expect(before, 'mapped before doctor ran').toBeDefined()
  const started = Date.now()
  await run()
  const after = await onRouter(port, protocol)
  expect(after, 'still mapped after doctor').toBeDefined()
  const { leaseDuration: leaseBefore = 0, ...restBefore } = before!
  const { leaseDuration: leaseAfter = 0, ...restAfter } = after!
  expect(restAfter).toEqual(restBefore) // same client, internal port, description
  // The lease ran on; it was not renewed to doctor's 120 s nor re-added.
  const elapsed = Math.ceil((Date.now() - started) / 1000)
  expect(leaseAfter).toBeLessThanOrEqual(leaseBefore)
  expect(leaseAfter).toBeGreaterThanOrEqual(leaseBefore - elapsed - 2)
}

describe('doctor --port on a port already mapped (UPnP)', () => {
  it('the `map 25565 --tcp` of the help: doctor passes and leaves it exactly as it was', async () => {
    expect((await cli(['map', String(P.cliMap), '--tcp', '--lease', '2h'])).code).toBe(0)
    await unchangedAround(P.cliMap, 'TCP', async () => {
      const r = plain(await cli(['doctor', '--port', String(P.cliMap), '--tcp']))
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.stdout).toMatch(
        new RegExp(
          `✔ Test mapping +TCP ${P.cliMap} → ${LAB.client}:${P.cliMap} is already mapped to this machine \\("upnp-native", lease 1 h 59 min left\\)`,
        ),
      )
      expect(r.stdout).toContain('– Cleanup          nothing to delete: the existing mapping is left as it was')
    })
  })

  it("a running app's mapping (PortMapper over UPnP): untouched, and the app never sees it lost", async () => {
    const mapper = track(new PortMapper({ protocol: 'upnp', verifyInterval: 500 }))
    let lost = 0
    mapper.on('lost', () => lost++)
    await mapper.map({ internalPort: P.app, description: 'my game', lease: 3600 })
    await unchangedAround(P.app, 'UDP', async () => {
      const doc = json(await cli(['doctor', '--port', String(P.app), '--json']))
      expect(doc.verdict.code).toBe('ok')
      expect(doc.checks.find((c: { id: string }) => c.id === 'mapping')).toMatchObject({ status: 'pass' })
      expect(doc.checks.find((c: { id: string }) => c.id === 'cleanup')).toMatchObject({ status: 'skip' })
    })
    await new Promise((r) => setTimeout(r, 800)) // a check of the app's own
    expect(lost).toBe(0)
  })

  it('one made by upnpc on this machine: untouched', async () => {
    expect((await upnpcAdd({ internalPort: P.upnpc, protocol: 'UDP', description: 'by upnpc', duration: 3000 })).ok).toBe(true)
    await unchangedAround(P.upnpc, 'UDP', async () => {
      expect((await cli(['doctor', '--port', String(P.upnpc)])).code).toBe(0)
    })
  })

  it("another device's: the verdict says the port is taken; nothing is sent that could change it", async () => {
    expect((await upnpcAdd({ ns: 'client2', internalPort: P.other, protocol: 'UDP', description: 'theirs', duration: 3000 })).ok).toBe(true)
    await unchangedAround(P.other, 'UDP', async () => {
      const r = await cli(['doctor', '--port', String(P.other), '--json'])
      expect(r.code).toBe(1)
      expect(json(r).verdict).toMatchObject({ code: 'port-taken' })
      expect(json(r).verdict.summary).toContain(`already forwards to ${LAB.client2}, another device`)
    })
  })

  it('with no --port, the test port is one nothing holds (the table is read first)', async () => {
    const before = await upnpcList()
    const doc = json(await cli(['doctor', '--json']))
    expect(doc.verdict.code).toBe('ok')
    expect(await upnpcList()).toEqual(before.map((e) => ({ ...e, leaseDuration: expect.any(Number) })))
  })
})

describe('doctor --protocol pmp|pcp --port on a port a program holds', () => {
  it.each([
    ['natpmp', 'pmp', P.pmp],
    ['pcp', 'pcp', P.pcp],
  ] as const)("%s: the holder's mapping keeps forwarding; doctor warns the port is not available", async (via, flag, port) => {
    await routerCtl('stop')
    await routerCtl('start', undefined, { noUpnp: true })
    const mapper = track(new PortMapper({ protocol: via, verifyInterval: 120_000, lease: 600 }))
    const m = await mapper.map({ internalPort: port })
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, port)).toBe(true)
    const r = await cli(['doctor', '--protocol', flag, '--port', String(port), '--json'])
    const doc = json(r)
    expect(doc.checks.find((c: { id: string }) => c.id === 'cleanup')).toMatchObject({ status: 'pass' })
    expect(doc.verdict.code).toBe('port-unavailable')
    // The holder's rule is still there (doctor's test mapping had its own internal port).
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, port)).toBe(true)
    await mapper.close()
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, port)).toBe(false)
  })
})
