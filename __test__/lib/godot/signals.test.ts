// Issue 26: an AbortSignal on the Godot surface against the real miniupnpd. The router's
// answers are put 600 ms away (`lab.sh delay 600`: only router -> client frames are held), and
// each call is aborted as soon as miniupnpd has made the mapping (its DNAT rule, watched in the
// router's own namespace), i.e. while its answer is still on the cable: the call rejects with
// the signal's reason, and the mapping miniupnpd made is deleted again (nft, then `upnpc -l`
// from client2, which is not behind the slow cable). That the call settles at once, without
// waiting for the answer, is proved with a router stand-in that holds its replies for good:
// __test__/unit/signals.test.ts. PortMapper over PCP, NAT-PMP and for pinholes:
// __test__/lib/portmapper/signals.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PortMapper, UPNP, UPNPResult } from '../../../index.ts'
import { delayCtl, untilRouterRule, upnpcDelete, upnpcList } from '../../lab/lab.ts'

const PORT = 43900
const DELAY_MS = 600
const upnp = new UPNP()
const listed = async (port: number) => (await upnpcList({ ns: 'client2' })).filter((m) => m.externalPort === port)

beforeAll(async () => {
  expect(await upnp.discover({ untilGateway: true })).toBe(UPNPResult.SUCCESS)
  await delayCtl(DELAY_MS)
}, 60_000)

afterAll(async () => {
  await delayCtl('off')
  // upnpc, not the gateway above: its connections were on the cable that is gone now.
  await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
  await upnpcDelete({ externalPort: PORT + 1, protocol: 'TCP' })
}, 60_000)

describe(`aborted in flight, against miniupnpd whose answers take ${DELAY_MS} ms`, () => {
  it('addPortMapping rejects with the reason; the mapping miniupnpd made is deleted again', async () => {
    const gateway = upnp.getGateway()!
    gateway.requestTimeout = 20_000 // only the abort, not a timeout, can undo it within this test
    const controller = new AbortController()
    const adding = upnp.addPortMapping(PORT, 0, 'aborted', 'UDP', 0, { signal: controller.signal })
    await untilRouterRule('mapping', PORT, true)
    controller.abort(new Error('menu closed'))
    await expect(adding).rejects.toThrow('menu closed')
    expect(upnp.lastError).toBeNull()
    await untilRouterRule('mapping', PORT, false)
    expect(await listed(PORT)).toEqual([])
  })

  it('PortMapper.map() aborted the same way leaves nothing on the router either', async () => {
    const mapper = new PortMapper({ gateway: upnp.getGateway()!, watchAnnouncements: false, cleanupOnExit: false })
    const controller = new AbortController()
    const mapping = mapper.map({ internalPort: PORT + 1, protocol: 'TCP', signal: controller.signal })
    await untilRouterRule('mapping', PORT + 1, true)
    controller.abort()
    await expect(mapping).rejects.toMatchObject({ name: 'AbortError' })
    await untilRouterRule('mapping', PORT + 1, false)
    expect(await listed(PORT + 1)).toEqual([])
    expect(mapper.mappings).toEqual([])
    await mapper.close()
  })
})
