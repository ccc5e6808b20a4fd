// Issue 26: owned entries. `PortMapper.prune()` and `upnp-native prune` delete this machine's
// entries of one owner and nothing else (another owner's, another machine's with the same
// description, the mapper's own live ones), checked with `upnpc -l` on miniupnpd; `unmap`
// refuses another machine's forward unless --force.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { PortMapper, UPNP, UPNPResult } from '../../index.ts'
import { appName, packageName } from '../../lib/portmapper/entry-owner.ts'
import { cli, json, onRouter, plain } from '../helpers/cli-run.ts'
import { LAB, upnpcAdd, upnpcDelete, upnpcList } from '../lab/lab.ts'

const P = { ours: 47330, other: 47331, theirs: 47332, held: 47333, leftover: 47334, foreign: 47335 }
const mine = async () => (await upnpcList()).filter((m) => m.externalPort >= P.ours && m.externalPort <= P.foreign)

describe('owned entries', () => {
  it("PortMapper's default description names the app: the nearest package.json's name", async () => {
    // The entry script here is vitest's own (node_modules/vitest/...): the app is "vitest".
    expect(appName()).toBe(packageName(path.dirname(fs.realpathSync(process.argv[1]!))))
    expect(appName()).toBe('vitest')
    const upnp = new UPNP()
    expect(await upnp.discover({ untilGateway: true })).toBe(UPNPResult.SUCCESS)
    const unnamed = new PortMapper({ gateway: upnp.getGateway()!, cleanupOnExit: false, watchAnnouncements: false })
    await unnamed.map({ internalPort: P.held, protocol: 'TCP' })
    expect((await onRouter(P.held, 'TCP'))?.description).toBe('vitest')
    await unnamed.close()
    const mapper = new PortMapper({ gateway: upnp.getGateway()!, description: 'h26 game', cleanupOnExit: false, watchAnnouncements: false })
    try {
      await mapper.map({ internalPort: P.held, protocol: 'UDP' })
      expect((await onRouter(P.held, 'UDP'))?.description).toBe('h26 game')
      // A leftover of the same app on this machine, another machine's entry with the same
      // description, and this machine's entry of another owner.
      await upnpcAdd({ internalPort: P.leftover, protocol: 'UDP', description: 'h26 game' })
      await upnpcAdd({ ns: 'client2', internalPort: P.foreign, protocol: 'UDP', description: 'h26 game' })
      await upnpcAdd({ internalPort: P.other, protocol: 'UDP', description: 'someone else' })
      const dry = await mapper.prune({ dryRun: true })
      expect(dry.matched.map((e) => e.externalPort)).toEqual([P.leftover])
      expect(dry.deleted).toEqual([])
      expect((await mine()).map((m) => m.externalPort).sort()).toEqual([P.other, P.held, P.leftover, P.foreign].sort())
      const done = await mapper.prune()
      expect(done.deleted.map((e) => e.externalPort)).toEqual([P.leftover])
      expect((await mine()).map((m) => `${m.externalPort} ${m.internalClient}`).sort()).toEqual(
        [`${P.other} ${LAB.client}`, `${P.held} ${LAB.client}`, `${P.foreign} ${LAB.client2}`].sort(),
      )
      // olderThan: the held one is fresh and would be spared even if it were not held.
      expect((await mapper.prune({ owner: 'someone else', olderThan: 60, dryRun: true })).matched).toEqual([])
    } finally {
      await mapper.close()
      await upnpcDelete({ externalPort: P.other, protocol: 'UDP' })
      await upnpcDelete({ ns: 'client2', externalPort: P.foreign, protocol: 'UDP' })
    }
    expect(await mine()).toEqual([])
  })

  it('upnp-native prune: --dry-run lists, then deletes only this machine\'s "upnp-native" entries', async () => {
    expect(plain(await cli(['map', String(P.ours)])).code).toBe(0)
    expect(plain(await cli(['map', String(P.other), '--description', 'keep me'])).code).toBe(0)
    await upnpcAdd({ ns: 'client2', internalPort: P.theirs, protocol: 'UDP', description: 'upnp-native' })
    try {
      const dry = plain(await cli(['prune', '--dry-run', '--timeout', '1']))
      expect(dry.code, dry.stderr).toBe(0)
      expect(dry.stdout).toBe(`Would delete UDP ${P.ours} → ${LAB.client}:${P.ours}\n`)
      expect(await onRouter(P.ours, 'UDP')).toBeDefined()
      const r = json(plain(await cli(['prune', '--json', '--timeout', '1'])))
      expect(r).toMatchObject({ command: 'prune', ok: true, exitCode: 0, owner: 'upnp-native', dryRun: false, failed: [] })
      expect(r.deleted.map((e: { externalPort: number }) => e.externalPort)).toEqual([P.ours])
      expect((await mine()).map((m) => `${m.externalPort} ${m.internalClient}`).sort()).toEqual(
        [`${P.other} ${LAB.client}`, `${P.theirs} ${LAB.client2}`].sort(),
      )
      const again = plain(await cli(['prune', '--timeout', '1']))
      expect(again.stdout).toBe('Nothing to prune: no entry of this machine is described "upnp-native".\n')
    } finally {
      await cli(['unmap', String(P.other)])
      await upnpcDelete({ ns: 'client2', externalPort: P.theirs, protocol: 'UDP' })
    }
  })

  it("unmap refuses another machine's forward unless --force (then the router decides)", async () => {
    await upnpcAdd({ ns: 'client2', internalPort: P.theirs, protocol: 'TCP', description: 'theirs' })
    try {
      const refused = plain(await cli(['unmap', String(P.theirs), '--tcp', '--json']))
      expect(refused.code).toBe(1)
      expect(json(refused)).toMatchObject({
        ok: false,
        error: {
          code: 'FORWARDS_ELSEWHERE',
          message: `TCP ${P.theirs} forwards to ${LAB.client2}:${P.theirs}, another machine; not deleted`,
        },
        results: [{ protocol: 'TCP', externalPort: P.theirs, wasMapped: true, deleted: false }],
      })
      expect(await onRouter(P.theirs, 'TCP')).toMatchObject({ internalClient: LAB.client2 })
      // With --force the delete is sent; miniupnpd (secure mode) refuses another client's: 606.
      const forced = plain(await cli(['unmap', String(P.theirs), '--tcp', '--force', '--json']))
      expect(json(forced)).toMatchObject({ ok: false, error: { code: 'DELETE_REFUSED', failure: { upnpCode: 606 } } })
    } finally {
      await upnpcDelete({ ns: 'client2', externalPort: P.theirs, protocol: 'TCP' })
    }
  })
})
