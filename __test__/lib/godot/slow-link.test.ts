// A router 2 ms away, as home routers are: `lab.sh delay 2` puts a userspace cable between the
// client and the LAN that holds every frame from the router for 2 ms. miniupnpd serves HTTP
// from one loop behind a listen backlog of 5; the link must never have more connections
// established than its accept queue holds (6), however many calls are in flight, or a
// handshake is dropped and a call waits out TCP's 1 s retransmission. The router's own count
// of those drops (TcpExtListenOverflows) is the judge, the client's own count of its
// connections the measure, and `upnpc -l` says that nothing is left.
//
// Not a sample of the kernel's tables: on a busy machine (the failure this replaced, 7 > 6,
// came from the lab under parallel builds) they counted connections the client never held at
// once. The router's table lags (its kernel handles the client's resets late) and keeps
// half-open connections whose reset `lab.sh delay` lost when it swapped the client's link
// (signals.test.ts and this file switch it); a read of the client's table is no snapshot (the
// reader can be preempted mid-walk while connections close and open). Measured with the
// client pinned to one busy CPU: the router's table showed 7-11, single reads of the client's
// 6-8, the client's own count never more than 5, and the router dropped nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UPNP, UPNPResult } from '../../../index.ts'
import * as native from '../../../lib/native/index.ts'
import { delayCtl, LAB, routerListenOverflows, upnpcList } from '../../lab/lab.ts'

const PORTS = 43000
const upnp = new UPNP()

/** `count` add+delete pairs from `port0`, `inFlight` at a time; the codes that were not SUCCESS. */
async function pairs(port0: number, count: number, inFlight: number): Promise<string[]> {
  const failed: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const port = port0 + next++
        const add = await upnp.addPortMapping(port, port, 'slow link', 'UDP', 0)
        if (add !== UPNPResult.SUCCESS) failed.push(`add ${port}: ${UPNPResult[add]}`)
        const del = await upnp.deletePortMapping(port, 'UDP')
        if (del !== UPNPResult.SUCCESS) failed.push(`delete ${port}: ${UPNPResult[del]}`)
      }
    }),
  )
  return failed
}

/** miniupnpd's accept queue: listen backlog 5, and Linux queues backlog + 1. */
const ACCEPT_QUEUE = 6

/** Runs `fn`, then checks the router coped: more than one connection was open at once, never
 *  more than its accept queue holds (the client's count), none refused by a full queue (the
 *  router's count), and no mapping of this file is left. */
async function expectWithinAcceptQueue(fn: () => Promise<void>): Promise<void> {
  const before = await routerListenOverflows()
  native.__linkForTests(LAB.routerLan) // the most open at once counts from here
  await fn()
  const { mostOpen, slowLink } = native.__linkForTests(LAB.routerLan)
  expect(slowLink).toBe(false)
  expect(mostOpen).toBeGreaterThan(1)
  expect(mostOpen).toBeLessThanOrEqual(ACCEPT_QUEUE)
  expect(await routerListenOverflows()).toBe(before)
  expect((await upnpcList()).filter((m) => m.externalPort >= PORTS && m.externalPort < PORTS + 3000)).toEqual([])
}

beforeAll(async () => {
  await delayCtl(2)
  expect(await upnp.discover({ untilGateway: true })).toBe(UPNPResult.SUCCESS)
  expect(upnp.getGateway()?.externalAddress).toBe(LAB.extIp)
  // Sequential calls first, answered promptly: before the fix they earned the link extra
  // connections that a burst then spent at once.
  expect(await pairs(PORTS, 20, 1)).toEqual([])
}, 60_000)

afterAll(async () => {
  await delayCtl('off')
}, 60_000)

describe('a router 2 ms away', () => {
  it('64-batches (64 adds at once, then 64 deletes), three: every call lands and the accept queue never overflows', async () => {
    await expectWithinAcceptQueue(async () => {
      for (const round of [0, 1, 2]) {
        const ports = Array.from({ length: 64 }, (_, i) => PORTS + 100 + round * 64 + i)
        const added = await Promise.all(ports.map((p) => upnp.addPortMapping(p, p, 'slow link', 'UDP', 0)))
        expect(added.filter((r) => r !== UPNPResult.SUCCESS)).toEqual([])
        expect((await upnpcList()).filter((m) => ports.includes(m.externalPort))).toHaveLength(64)
        const deleted = await Promise.all(ports.map((p) => upnp.deletePortMapping(p, 'UDP')))
        expect(deleted.filter((r) => r !== UPNPResult.SUCCESS)).toEqual([])
      }
    })
  }, 60_000)

  it('256 pairs in flight, four times: every call lands, the accept queue never overflows, nothing is left', async () => {
    await expectWithinAcceptQueue(async () => {
      for (const round of [0, 1, 2, 3]) expect(await pairs(PORTS + 400 + round * 512, 512, 256)).toEqual([])
    })
  }, 60_000)
})
