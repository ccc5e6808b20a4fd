// PortMapper's `verify` hook and its repair against the real miniupnpd: a mapping the router
// keeps listing but no longer forwards (its forwarding rule removed behind miniupnpd's back,
// `lab.sh unforward`) is noticed by an app's dial-back from the WAN host, deleted and added
// again once, and forwards again; behind the lab's carrier-grade NAT no repair can help: one
// `unreachable` with the evidence, and no repair loop. `hardRefresh` renews by delete + add.
import { afterAll, describe, expect, it } from 'vitest'
import { invalidateProbe, type Mapping, PortMapper, type UnreachableEvidence } from '../../../index.ts'
import { nextEvent, trackMappers } from '../../helpers/mappers.ts'
import { arrivesFromWan, cgnatCtl, LAB, runIn, unforwardCtl, upnpcList } from '../../lab/lab.ts'

const track = trackMappers(invalidateProbe)
afterAll(async () => {
  await cgnatCtl('off')
})

/** A free-looking high port for this test's mapping. */
function testPort(): number {
  return 45_000 + Math.floor(Math.random() * 5000)
}

/** The app's own dial-back: a datagram from the WAN host to the router's public address and
 *  the mapping's external port reaches the app's port (internal = external here). */
function dialBack(m: Mapping): Promise<boolean> {
  return arrivesFromWan('udp', LAB.extIp, m.externalPort)
}

/** miniupnpd's DNAT rule for `port`, with its nft handle ("" when there is none). */
async function dnatHandle(port: number): Promise<string> {
  const r = await runIn('router', 'nft', ['-a', 'list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])
  return new RegExp(`dport ${port} dnat .*# handle (\\d+)`).exec(r.stdout)?.[1] ?? ''
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!condition()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('PortMapper verify', () => {
  it('listed but not forwarding: verify notices, a hard refresh repairs it, a WAN packet arrives again', async () => {
    const port = testPort()
    // The hook dials back only once armed, so the test's own packets never share its port.
    let armed = false
    const answers: boolean[] = []
    const mapper = track(
      new PortMapper({
        protocol: 'upnp',
        verifyInterval: 1000,
        verify: async (m) => {
          if (!armed) return true
          const ok = await dialBack(m)
          answers.push(ok)
          return ok
        },
      }),
    )
    const m = await mapper.map({ internalPort: port, protocol: 'UDP' })
    expect(await arrivesFromWan('udp', LAB.extIp, port)).toBe(true)
    await unforwardCtl('udp', port)
    expect((await upnpcList()).some((e) => e.externalPort === port)).toBe(true)
    expect(await arrivesFromWan('udp', LAB.extIp, port)).toBe(false)
    const lost = nextEvent(mapper, 'lost', 20_000)
    const restored = nextEvent(mapper, 'restored', 20_000)
    armed = true
    const [lostMapping, reason] = await lost
    expect(lostMapping).toBe(m)
    expect(reason).toMatch(/not reachable from outside \(verify\)/)
    await restored
    armed = false
    expect(answers.slice(0, 2)).toEqual([false, true])
    expect(await arrivesFromWan('udp', LAB.extIp, port)).toBe(true)
    expect(m.externalPort).toBe(port)
  })

  it('behind the carrier-grade NAT a repair cannot help: one unreachable with the evidence, no loop', async () => {
    await cgnatCtl('on')
    try {
      let asked = 0
      let lost = 0
      const mapper = track(
        new PortMapper({
          protocol: 'upnp',
          verifyInterval: 1000,
          verify: async (m) => {
            asked++
            return dialBack(m)
          },
        }),
      )
      mapper.on('lost', () => lost++)
      await mapper.map({ internalPort: testPort(), protocol: 'UDP' })
      const [, evidence] = (await nextEvent(mapper, 'unreachable', 20_000)) as [Mapping, UnreachableEvidence]
      expect(evidence.hardRefreshed).toBe(true)
      expect(evidence.answers).toEqual([false, false])
      expect(evidence.reason).toMatch(/still not reachable after a hard refresh/)
      // Later checks still ask, but never repair again.
      const after = asked
      await waitFor(() => asked >= after + 2, 20_000)
      expect(lost).toBe(1)
    } finally {
      await cgnatCtl('off')
    }
  })

  it('hardRefresh renews by deleting and adding again: a new rule, still forwarding', async () => {
    const port = testPort()
    const mapper = track(new PortMapper({ protocol: 'upnp', hardRefresh: true, lease: 4 }))
    await mapper.map({ internalPort: port, protocol: 'UDP' })
    const before = await dnatHandle(port)
    expect(before).not.toBe('')
    await nextEvent(mapper, 'renewed', 10_000)
    const after = await dnatHandle(port)
    expect(after).not.toBe('')
    expect(after).not.toBe(before)
    expect(await arrivesFromWan('udp', LAB.extIp, port)).toBe(true)
  })
})
