// PortMapper over PCP and NAT-PMP against the real miniupnpd, the parallel probe and its
// cache, and the fallback order. (The wire-level NAT-PMP/PCP clients are tested in
// __test__/lib/native/pxp.test.ts; here is what an app sees.)
import { afterAll, describe, expect, it } from 'vitest'
import { invalidateProbe, PortMapper, PREFERENCE, probe, UPNPError, UPNPResult } from '../../../index.ts'
import { nextEvent, trackMappers } from '../../helpers/mappers.ts'
import { dnatRule, udpArrives } from '../../helpers/traffic.ts'
import { LAB, nftRules, routerCtl, runIn, upnpcList } from '../../lab/lab.ts'

const track = trackMappers(invalidateProbe)
afterAll(async () => {
  // Back to the default router (UPnP on) for the other test files.
  await routerCtl('stop')
  await routerCtl('start')
})

describe('probe', () => {
  it('finds all three protocols at once, best first, within a short budget', async () => {
    const report = await probe({ fresh: true })
    expect(report.available).toEqual(['pcp', 'natpmp', 'upnp'])
    expect(PREFERENCE).toEqual(['pcp', 'natpmp', 'upnp'])
    expect(report.gateway).toBe(LAB.routerLan)
    expect(report.localAddress).toBe(LAB.client)
    expect(report.natpmp.externalAddress).toBe(LAB.extIp)
    expect(report.upnp.device?.igdControlUrl).toBe(LAB.routerControlUrl)
    expect(report.pcp.epoch).toEqual(expect.any(Number))
    // Functional bound (the figure itself is measured in the closing note / bench): the
    // three probes ran in parallel inside the budget, not one after another.
    expect(report.elapsedMs).toBeLessThan(1000)
  })

  it('is cached, and re-probed when the default route changes', async () => {
    const first = await probe({ fresh: true })
    expect(await probe()).toBe(first)
    await runIn('client', 'ip', ['route', 'replace', 'default', 'via', LAB.fakeB])
    try {
      const moved = await probe()
      expect(moved).not.toBe(first)
      expect(moved.gateway).toBe(LAB.fakeB) // no NAT-PMP/PCP server there
      expect(moved.available).not.toContain('pcp')
      expect(moved.available).not.toContain('natpmp')
    } finally {
      await runIn('client', 'ip', ['route', 'replace', 'default', 'via', LAB.routerLan])
    }
    const back = await probe()
    expect(back.available).toEqual(['pcp', 'natpmp', 'upnp'])
  })
})

describe('PortMapper picks the protocol', () => {
  it('auto with all three answering: PCP holds the mapping (documented preference)', async () => {
    const m = await track(new PortMapper()).map({ internalPort: 33000, lease: 600 })
    expect(m.via).toBe('pcp')
    expect(m).toMatchObject({ externalPort: 33000, externalAddress: LAB.extIp, internalClient: LAB.client })
    expect((await upnpcList()).find((e) => e.externalPort === 33000)?.description).toMatch(/^PCP MAP/)
    expect(await udpArrives(33000, 33000)).toBe(true)
  })

  it('falls back in order: every protocol is tried, and the error says what each said', async () => {
    const error = await track(new PortMapper())
      .map({ internalPort: 80, protocol: 'TCP', externalPort: 80 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UPNPError)
    expect((error as UPNPError).message).toMatch(/pcp: NOT_AUTHORIZED; natpmp: NOT_AUTHORIZED; upnp: NOT_AUTHORIZED/)
    expect(error).toMatchObject({ result: UPNPResult.NOT_AUTHORIZED, via: 'pcp', resultCode: 2 })
  })

  it('a router address without NAT-PMP/PCP: falls back to UPnP', async () => {
    const m = await track(new PortMapper({ router: LAB.fakeB, pmpBudget: 300 })).map({ internalPort: 33001 })
    expect(m.via).toBe('upnp')
    expect((await upnpcList()).find((e) => e.externalPort === 33001)).toMatchObject({ internalClient: LAB.client })
  })
})

/** RFC 6886/6887 allow 2 s of clock slack before an epoch counts as "went back", so a
 *  router must have been up a few seconds for its reboot to be provable (real routers
 *  have been up for days; the lab router was just restarted). */
let routerStartedAt = 0
async function routerUpForAWhile(): Promise<void> {
  const wait = 5000 - (Date.now() - routerStartedAt)
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}

describe('a router without UPnP (NAT-PMP and PCP only)', () => {
  it('auto maps via PCP: DNAT rule written, a packet from the WAN arrives, close removes it', async () => {
    await routerCtl('stop')
    await routerCtl('start', undefined, { noUpnp: true })
    routerStartedAt = Date.now()
    const report = await probe({ fresh: true })
    expect(report.available).toEqual(['pcp', 'natpmp'])
    const mapper = new PortMapper({ discoverTimeout: 300 })
    const m = await mapper.map({ internalPort: 33010, lease: 600 })
    expect(m.via).toBe('pcp')
    expect(m.lease).toBe(600)
    expect(dnatRule(await nftRules(), 'UDP', 33010, 33010)).toBe(true)
    expect(await udpArrives(33010, 33010)).toBe(true)
    await mapper.close()
    expect(dnatRule(await nftRules(), 'UDP', 33010, 33010)).toBe(false)
  })

  it('NAT-PMP when asked: TCP mapped, natpmpc sees the same external address', async () => {
    const mapper = track(new PortMapper({ protocol: 'natpmp' }))
    const m = await mapper.map({ internalPort: 33011, protocol: 'TCP', lease: 300 })
    expect(m.via).toBe('natpmp')
    expect(m.externalAddress).toBe(LAB.extIp)
    expect(dnatRule(await nftRules(), 'TCP', m.externalPort, 33011)).toBe(true)
    const natpmpc = await runIn('client', 'natpmpc', ['-g', LAB.routerLan])
    expect(natpmpc.stdout).toContain(`Public IP address : ${LAB.extIp}`)
  })

  it("issue 28's names: via and pxpBudget map as protocol and pmpBudget did; probe({ router }) as probe({ gateway })", async () => {
    const mapper = track(new PortMapper({ via: 'natpmp', router: LAB.routerLan, pxpBudget: 2000 }))
    const m = await mapper.map({ internalPort: 33016, lease: 300 })
    expect(m.via).toBe('natpmp')
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, 33016)).toBe(true)
    for (const report of [
      await probe({ router: LAB.routerLan, upnp: false, fresh: true }),
      await probe({ gateway: LAB.routerLan, upnp: false, fresh: true }),
    ]) {
      expect(report).toMatchObject({ router: LAB.routerLan, gateway: LAB.routerLan, available: ['pcp', 'natpmp'] })
    }
  })

  it('a permanent request is held as renewed 7200 s leases', async () => {
    const m = await track(new PortMapper({ protocol: 'pcp' })).map({ internalPort: 33012, lease: 0 })
    expect(m.requestedLease).toBe(0)
    expect(m.lease).toBe(7200)
  })

  it('router reboot: the PCP epoch drop is noticed and the mapping restored', async () => {
    const mapper = track(new PortMapper({ protocol: 'pcp', verifyInterval: 500, lease: 600 }))
    const m = await mapper.map({ internalPort: 33013 })
    await routerUpForAWhile()
    const lost = nextEvent(mapper, 'lost')
    const restored = nextEvent(mapper, 'restored')
    await routerCtl('reboot')
    routerStartedAt = Date.now()
    // No look at the rules here: a check 500 ms later may already have restored it. The lost
    // event's reason (the epoch went back) is what says the reboot forgot it.
    expect(String((await lost)[1])).toMatch(/epoch/)
    await restored
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, 33013)).toBe(true)
    expect(await udpArrives(m.externalPort, 33013)).toBe(true)
  })

  it('the same for NAT-PMP', async () => {
    const mapper = track(new PortMapper({ protocol: 'natpmp', verifyInterval: 500, lease: 600 }))
    const m = await mapper.map({ internalPort: 33014 })
    await routerUpForAWhile()
    const restored = nextEvent(mapper, 'restored')
    await routerCtl('reboot')
    routerStartedAt = Date.now()
    await restored
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, 33014)).toBe(true)
  })

  it('NAT-PMP notices a new external address on its next check, once', async () => {
    const mapper = track(new PortMapper({ protocol: 'natpmp', verifyInterval: 300, lease: 600 }))
    await mapper.map({ internalPort: 33015 })
    const changes: unknown[][] = []
    mapper.on('externalAddressChanged', (...args) => changes.push(args))
    await routerCtl('stop')
    await routerCtl('start', '11.22.33.56', { noUpnp: true })
    routerStartedAt = Date.now()
    await new Promise((r) => setTimeout(r, 2000)) // several checks
    expect(changes).toEqual([['11.22.33.56', LAB.extIp]])
    expect(mapper.mappings[0]?.externalAddress).toBe('11.22.33.56')
  })
})
