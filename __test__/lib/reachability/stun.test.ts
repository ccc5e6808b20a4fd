// The view from outside against a real STUN server (coturn, RFC 5780, in the lab's WAN
// namespace): the public address and NAT behaviour, cross-checked with coturn's own client
// (turnutils_natdiscovery), and checkReachability() through UPnP and PCP mappings of the real
// miniupnpd, behind the lab's carrier-grade NAT and behind a NAT that does not filter. After
// every check the router holds nothing (upnpc -l, nft).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { CHECK_DESCRIPTION, checkNat, checkReachability, invalidateProbe, probe, UPNPError, UPNPResult } from '../../../index.ts'
import { cgnatCtl, filteringCtl, LAB, nftRules, runIn, upnpcList } from '../../lab/lab.ts'

const STUN = [LAB.stun.primary]

afterEach(async () => {
  invalidateProbe()
})
afterAll(async () => {
  await cgnatCtl('off')
  await filteringCtl('strict')
})

/** Nothing of a probe mapping is left on the router: not listed, no rule for its port. */
async function nothingLeft(port: number): Promise<void> {
  expect((await upnpcList()).filter((m) => m.description === CHECK_DESCRIPTION || m.externalPort === port)).toEqual([])
  expect((await nftRules()).split('\n').filter((l) => new RegExp(`dport ${port}\\b`).test(l))).toEqual([])
}

/** coturn's own client's verdicts ("NAT with Endpoint Independent Mapping!" ...). */
async function natdiscovery(): Promise<{ mapping: string; filtering: string }> {
  const r = await runIn('client', 'turnutils_natdiscovery', ['-m', '-f', LAB.stun.primary], 20_000)
  const words = (kind: string): string => {
    const m = new RegExp(`NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) ${kind}`).exec(r.stdout)
    return m?.[1] ? m[1].toLowerCase().replaceAll(' ', '-') : 'unknown'
  }
  return { mapping: words('Mapping'), filtering: words('Filtering') }
}

describe('checkNat and probe({ stun })', () => {
  it('sees the router’s own address from outside, and the NAT behaviour coturn’s client sees', async () => {
    const nat = await checkNat({ stun: STUN })
    expect(nat.publicAddress).toBe(LAB.extIp)
    expect(nat.routerAddress).toBe(LAB.extIp)
    expect(nat.relation).toBe('same')
    expect(nat.serverAddress).toBe(`${LAB.stun.primary}:3478`)
    expect(nat.servers[0]?.otherAddress).toBe(`${LAB.stun.other}:3479`)
    // Linux conntrack: endpoint-independent mapping, address-and-port-dependent filtering.
    expect([nat.mapping, nat.filtering]).toEqual(['endpoint-independent', 'address-and-port-dependent'])
    // The reference client agrees.
    const reference = await natdiscovery()
    expect([reference.mapping, reference.filtering]).toEqual([nat.mapping, nat.filtering])
  })

  it('probe({ stun }) carries the same view; without stun nothing is asked', async () => {
    const report = await probe({ fresh: true, stun: STUN })
    expect(report.nat?.publicAddress).toBe(LAB.extIp)
    expect(report.nat?.relation).toBe('same')
    expect((await probe({ fresh: true })).nat).toBeUndefined()
  })

  it('refuses a missing or malformed server list before sending anything', async () => {
    for (const stun of [[], [''], 'x', [1], ['a', 'b', 'c', 'd', 'e']]) {
      const e = await checkNat({ stun } as never).catch((error: unknown) => error)
      expect(e).toBeInstanceOf(UPNPError)
      expect((e as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
    }
  })

  it('a server that does not answer: no public address, said why; the next server is asked', async () => {
    // 11.22.33.9 is routed to the WAN host, where nothing listens.
    const nat = await checkNat({ stun: ['11.22.33.9', ...STUN] })
    expect(nat.servers.map((s) => s.failure?.meaning ?? 'ok')).toEqual(['TIMEOUT', 'ok'])
    expect(nat.publicAddress).toBe(LAB.extIp)
    const silent = await checkNat({ stun: ['11.22.33.9'] })
    expect([silent.publicAddress, silent.relation]).toEqual(['', 'unknown'])
  })
})

describe('checkReachability', () => {
  it('through a UPnP mapping: reachable because of the mapping, and nothing left behind', async () => {
    const r = await checkReachability({ stun: STUN, protocol: 'upnp' })
    expect(r.verdict).toBe('reachable')
    expect(r.via).toBe('upnp')
    expect([r.probe.reached, r.control.reached, r.repaired]).toEqual([true, false, false])
    expect(r.publicAddress).toBe(LAB.extIp)
    expect(r.otherAddress).toBe(`${LAB.stun.other}:3479`)
    await nothingLeft(r.mapping.externalPort)
  })

  it('through a PCP mapping, with the event loop free while it waits', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    const r = await checkReachability({ stun: STUN, protocol: 'pcp' })
    delay.disable()
    expect(r.verdict).toBe('reachable')
    expect(r.via).toBe('pcp')
    // The check waits seconds on the network (an unmapped socket's answer never comes); the
    // JS thread stays free: a generous bound, not a timing target.
    expect(r.elapsedMs).toBeGreaterThan(1000)
    expect(delay.max / 1e6).toBeLessThan(250)
    await nothingLeft(r.mapping.externalPort)
  })

  it('behind the carrier-grade NAT: not reachable, and says the router’s address is not the public one', async () => {
    await cgnatCtl('on')
    try {
      const r = await checkReachability({ stun: STUN, protocol: 'upnp' })
      expect(r.verdict).toBe('not-reachable')
      expect(r.relation).toBe('upstream-nat')
      expect(r.publicAddress).toBe(LAB.stun.cgnOutside)
      expect(r.mapping.externalAddress).toBe(LAB.extIp)
      expect(r.reason).toContain(`leaves from ${LAB.stun.cgnOutside}, not from the router's ${LAB.extIp}`)
      expect(r.fix).toMatch(/public IPv4 address/)
      // No hard refresh: the addresses already say why.
      expect(r.repaired).toBe(false)
      await nothingLeft(r.mapping.externalPort)
    } finally {
      await cgnatCtl('off')
    }
  })

  it('a NAT that does not filter: reachable anyway (the unmapped socket is answered too)', async () => {
    await filteringCtl('open')
    try {
      const nat = await checkNat({ stun: STUN })
      expect(nat.filtering).toBe('endpoint-independent')
      expect((await natdiscovery()).filtering).toBe('endpoint-independent')
      const r = await checkReachability({ stun: STUN, protocol: 'upnp' })
      expect(r.verdict).toBe('reachable-anyway')
      expect(r.control.reached).toBe(true)
      await nothingLeft(r.mapping.externalPort)
    } finally {
      await filteringCtl('strict')
    }
  })

  it('a mapping that does not forward at first: deleted and added again once, then reachable', async () => {
    // The router drops the first 240 bytes of new inbound UDP it forwards: both answers of
    // the first check (sent at 0 and 500 ms within a 1 s budget, 120 bytes each), whatever
    // the port; the hard refresh's check then gets through (the control socket's answers are
    // never forwarded, so they do not count).
    const rule = ['inet', 'filter', 'forward', 'iifname', 'wan0', 'meta', 'l4proto', 'udp', 'ct', 'state', 'new']
    await runIn('router', 'nft', ['insert', 'rule', ...rule, 'quota', 'until', '300', 'bytes', 'drop', 'comment', '"first-drop"'])
    try {
      const r = await checkReachability({ stun: STUN, protocol: 'upnp', budgetMs: 1000 })
      expect(r.verdict).toBe('reachable')
      expect(r.repaired).toBe(true)
      expect(r.reason).toMatch(/only after the mapping was deleted and added again/)
      expect(r.fix).toMatch(/hardRefresh: true/)
      await nothingLeft(r.mapping.externalPort)
    } finally {
      const listed = await runIn('router', 'nft', ['-a', 'list', 'chain', 'inet', 'filter', 'forward'])
      const handle = /"first-drop".*# handle (\d+)/.exec(listed.stdout)?.[1]
      if (handle) await runIn('router', 'nft', ['delete', 'rule', 'inet', 'filter', 'forward', 'handle', handle])
    }
  })

  it('a server that cannot answer from another address: cannot tell, mapping deleted', async () => {
    const r = await checkReachability({ stun: ['11.22.33.9'], protocol: 'upnp', budgetMs: 600 })
    expect(r.verdict).toBe('cannot-tell')
    expect(r.probe.failure?.meaning).toBe('TIMEOUT')
    await nothingLeft(r.mapping.externalPort)
  })
})
