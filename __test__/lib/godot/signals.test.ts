// Issue 26: an AbortSignal on the Godot surface against the real miniupnpd. The router is put
// 300 ms away (`lab.sh delay 300`), so an add can be aborted after it was sent and before the
// answer: the call settles at once with the signal's reason, and the mapping miniupnpd made
// meanwhile is deleted again (upnpc -l). The mechanics in detail, with a router stand-in
// that holds its replies: __test__/unit/signals.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PortMapper, UPNP, UPNPResult } from '../../../index.ts'
import { delayCtl, upnpcList } from '../../lab/lab.ts'

const PORT = 43900
const upnp = new UPNP()
const listed = async (port: number) => (await upnpcList()).filter((m) => m.externalPort === port)

async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

beforeAll(async () => {
  expect(await upnp.discover({ untilGateway: true })).toBe(UPNPResult.SUCCESS)
  await delayCtl(300)
}, 60_000)

afterAll(async () => {
  await delayCtl('off')
  await upnp.deletePortMapping(PORT, 'UDP')
  await upnp.deletePortMapping(PORT + 1, 'TCP')
}, 60_000)

describe('aborted in flight, against miniupnpd 300 ms away', () => {
  it('addPortMapping rejects at once with the reason; the mapping miniupnpd made is deleted again', async () => {
    const gateway = upnp.getGateway()!
    gateway.requestTimeout = 20_000 // only the abort, not a timeout, can undo it within this test
    const controller = new AbortController()
    const started = Date.now()
    const adding = upnp.addPortMapping(PORT, 0, 'aborted', 'UDP', 0, { signal: controller.signal })
    // The SYN and the request each cross the cable: sent by ~600 ms, answered after ~900 ms.
    setTimeout(() => controller.abort(new Error('menu closed')), 750)
    await expect(adding).rejects.toThrow('menu closed')
    expect(Date.now() - started).toBeLessThan(900 + 300) // settled on the abort, not on the answer
    // miniupnpd did make it (the request had arrived)... and the cleanup deletes it again.
    await until('the aborted add was undone on the router', async () => (await listed(PORT)).length === 0)
    expect(await listed(PORT)).toEqual([])
  })

  it('PortMapper.map() with a signal leaves nothing on the router either', async () => {
    const mapper = new PortMapper({ gateway: upnp.getGateway()!, watchAnnouncements: false, cleanupOnExit: false })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 750)
    await expect(mapper.map({ internalPort: PORT + 1, protocol: 'TCP', signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    })
    await until('the aborted map was undone on the router', async () => (await listed(PORT + 1)).length === 0)
    expect(mapper.mappings).toEqual([])
    await mapper.close()
  })
})
