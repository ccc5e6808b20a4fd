// NAT-PMP and PCP against the real thing: miniupnpd 2.3.1 with UPnP switched off, called
// through the native binding directly. Every mapping is cross-checked with the router's nft
// rules, with natpmpc (the reference client) and with a real packet from the WAN side;
// requests are counted on the router itself with an nft counter.
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as native from '../../../lib/native/index.ts'
import { dnatRule, udpArrives } from '../../helpers/traffic.ts'
import { LAB, nftRules, receiveOnce, routerCtl, runIn, sendFromWan } from '../../lab/lab.ts'

const UPNP_RESULT = { SUCCESS: 0, NOT_AUTHORIZED: 1, INVALID_GATEWAY: 16, NO_GATEWAY: 26 } as const
const hasIpv6 = Object.values(os.networkInterfaces())
  .flat()
  .some((a) => a?.address === LAB.ip6.client)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A success: an answer without a failure (the failure is shown if there is one). */
function ok<T extends native.NativePxpAnswer>(r: T | undefined): T {
  expect(r).toBeDefined()
  expect(r!.failure, JSON.stringify(r!.failure)).toBeUndefined()
  return r!
}

/** No answer of this protocol version came: no result code. */
function unanswered(r: native.NativePxpAnswer): native.NativePxpAnswer {
  expect(r.resultCode).toBeUndefined()
  return r
}

async function nft(...args: string[]): Promise<string> {
  const r = await runIn('router', 'nft', args)
  if (r.code !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Counts the datagrams that reach the router's UDP 5351 while `fn` runs (and `settleMs`
 *  after it, so a late retransmission would be seen). `drop` makes the router deaf. */
async function countRequests<T>(
  fn: () => Promise<T>,
  opts: { drop?: boolean; settleMs?: number } = {},
): Promise<{ value: T; packets: number }> {
  await nft('delete', 'table', 'inet', 'pmpcount').catch(() => undefined)
  await nft('add', 'table', 'inet', 'pmpcount')
  await nft('add', 'chain', 'inet', 'pmpcount', 'input', '{ type filter hook input priority -300; }')
  await nft('add', 'rule', 'inet', 'pmpcount', 'input', 'udp', 'dport', '5351', 'counter', ...(opts.drop ? ['drop'] : []))
  try {
    const value = await fn()
    await sleep(opts.settleMs ?? 600)
    const m = /counter packets (\d+)/.exec(await nft('list', 'table', 'inet', 'pmpcount'))
    return { value, packets: Number(m?.[1]) }
  } finally {
    await nft('delete', 'table', 'inet', 'pmpcount')
  }
}

async function natpmpc(...args: string[]): Promise<string> {
  const r = await runIn('client', 'natpmpc', ['-g', LAB.routerLan, ...args])
  return r.stdout + r.stderr
}

beforeAll(async () => {
  // A fresh router that speaks only NAT-PMP and PCP.
  await routerCtl('stop')
  await routerCtl('start', undefined, { noUpnp: true })
}, 30_000)

afterAll(async () => {
  await nft('delete', 'table', 'inet', 'pmpcount').catch(() => undefined)
  // Other files expect the default router (UPnP on).
  await routerCtl('stop')
  await routerCtl('start')
}, 30_000)

describe('default gateway', () => {
  it('is the lab router, with our address towards it (nothing sent)', async () => {
    const gw = await native.defaultGateway()
    expect(gw).toMatchObject({ gateway: LAB.routerLan, interface: 'lan0', localAddress: LAB.client })
    expect(gw.error).toBeUndefined()
    // The lab LAN has no IPv6 default route.
    expect(gw.gateway6).toBeUndefined()
    expect(native.localAddressFor(LAB.routerLan)).toBe(LAB.client)
    expect(native.localAddressFor('not an address')).toBe('')
  })
})

describe('probe, UPnP off', () => {
  it('NAT-PMP and PCP answer at once; UPnP costs the budget and no more', async () => {
    const r = await native.probePortMapping({ router6: '' })
    expect(r.router).toBe(LAB.routerLan)
    expect(ok(r.natpmp)).toMatchObject({ resultCode: 0, externalAddress: LAB.extIp, attempts: 1 })
    expect(ok(r.pcp)).toMatchObject({ resultCode: 0, attempts: 1 })
    expect(r.natpmp!.latencyMs).toBeLessThan(100)
    expect(r.pcp!.latencyMs).toBeLessThan(100)
    expect(r.natpmp!.epoch).toEqual(expect.any(Number))
    expect(r.upnp).toMatchObject({ answered: false, replies: 0 })
    expect(r.elapsedMs).toBeGreaterThanOrEqual(245)
    expect(r.elapsedMs).toBeLessThan(1000)
    expect(r.pcp6).toBeUndefined()
  })

  it('without UPnP it returns as soon as both have answered', async () => {
    const r = await native.probePortMapping({ upnp: false, router6: '', budgetMs: 2000 })
    expect(r.upnp).toBeUndefined()
    ok(r.natpmp)
    ok(r.pcp)
    expect(r.elapsedMs).toBeLessThan(200)
  })

  it.skipIf(!hasIpv6)('probes PCP over IPv6 too', async () => {
    const r = await native.probePortMapping({ upnp: false, router6: LAB.ip6.routerLan })
    expect(r.router6).toBe(LAB.ip6.routerLan)
    expect(ok(r.pcp6)).toMatchObject({ localAddress: LAB.ip6.client })
  })
})

describe('NAT-PMP against miniupnpd', () => {
  it('external address, as natpmpc sees it', async () => {
    const r = await native.natpmpExternalAddress({ router: LAB.routerLan })
    expect(ok(r)).toMatchObject({ resultCode: 0 })
    expect(r.externalAddress).toBe(LAB.extIp)
    expect(r.localAddress).toBe(LAB.client)
    expect(await natpmpc()).toContain(`Public IP address : ${r.externalAddress}`)
  })

  it('maps UDP: the granted mapping is in nft, natpmpc sees the same one, a WAN packet arrives', async () => {
    const r = await native.natpmpMap({ protocol: 'UDP', internalPort: 7781, externalPort: 7781, lifetime: 300 })
    expect(ok(r)).toMatchObject({ resultCode: 0, internalPort: 7781, lifetime: 300 })
    const ext = r.externalPort!
    expect(dnatRule(await nftRules(), 'UDP', ext, 7781)).toBe(true)
    // The reference client renewing the same internal port gets the same external port.
    expect(await natpmpc('-a', String(ext), '7781', 'udp', '300')).toContain(`Mapped public port ${ext} protocol UDP to local port 7781`)
    expect(await udpArrives(ext, 7781)).toBe(true)
  })

  it('maps TCP to another external port; a TCP connection from the WAN arrives', async () => {
    const r = await native.natpmpMap({ protocol: 'TCP', internalPort: 7782, externalPort: 7783, lifetime: 300 })
    expect(ok(r)).toMatchObject({ internalPort: 7782, externalPort: 7783 })
    expect(dnatRule(await nftRules(), 'TCP', 7783, 7782)).toBe(true)
    const rx = receiveOnce('tcp', 7782)
    await rx.ready
    await sendFromWan('tcp', 7783, 'hello over tcp')
    expect((await rx.result)?.payload).toBe('hello over tcp')
  })

  it('delete: exactly one request reaches the router, and the rule is gone', async () => {
    const { value: r, packets } = await countRequests(() => native.natpmpDelete({ protocol: 'UDP', internalPort: 7781 }))
    expect(ok(r)).toMatchObject({ attempts: 1, lifetime: 0, externalPort: 0 })
    expect(packets).toBe(1)
    expect(dnatRule(await nftRules(), 'UDP', 7781, 7781)).toBe(false)
    const tcp = await native.natpmpDelete({ protocol: 'TCP', internalPort: 7782 })
    ok(tcp)
    expect(dnatRule(await nftRules(), 'TCP', 7783, 7782)).toBe(false)
  })

  it('deletes a mapping the reference client made', async () => {
    expect(await natpmpc('-a', '7784', '7784', 'udp', '300')).toContain('Mapped public port 7784')
    expect(dnatRule(await nftRules(), 'UDP', 7784, 7784)).toBe(true)
    ok(await native.natpmpDelete({ protocol: 'UDP', internalPort: 7784 }))
    expect(dnatRule(await nftRules(), 'UDP', 7784, 7784)).toBe(false)
  })

  it('unanswered requests are retransmitted on the RFC schedule within the budget', async () => {
    const started = performance.now()
    const { value: r, packets } = await countRequests(() => native.natpmpDelete({ protocol: 'UDP', internalPort: 7781, budgetMs: 1000 }), {
      drop: true,
      settleMs: 300,
    })
    // Sends at 0, 250 and 750 ms; the next (1750) is past the budget.
    expect(unanswered(r)).toMatchObject({ attempts: 3, failure: { via: 'natpmp', meaning: 'TIMEOUT', result: UPNP_RESULT.NO_GATEWAY } })
    expect(packets).toBe(3)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000)
  })

  it('keeps the raw result code: a port the router forbids is NOT_AUTHORIZED (2)', async () => {
    const r = await native.natpmpMap({ protocol: 'TCP', internalPort: 80, lifetime: 60 })
    expect(r).toMatchObject({
      resultCode: 2,
      failure: { via: 'natpmp', code: 2, meaning: 'NOT_AUTHORIZED', result: UPNP_RESULT.NOT_AUTHORIZED },
    })
  })

  it('refuses an IPv6 gateway before sending anything (NAT-PMP is IPv4 only)', async () => {
    const r = await native.natpmpExternalAddress({ router: LAB.ip6.routerLan })
    expect(unanswered(r)).toMatchObject({
      attempts: 0,
      failure: { via: 'natpmp', meaning: 'INVALID_GATEWAY', result: UPNP_RESULT.INVALID_GATEWAY },
    })
  })
})

describe('PCP against miniupnpd', () => {
  it('ANNOUNCE answers with the epoch; no external address in PCP without a MAP', async () => {
    const r = await native.pcpAnnounce({ router: LAB.routerLan })
    expect(ok(r)).toMatchObject({ resultCode: 0, attempts: 1, lifetime: 0, localAddress: LAB.client })
    expect(r.externalAddress).toBeUndefined()
    expect(r.epoch).toEqual(expect.any(Number))
  })

  it('MAP, renew with the same nonce, WAN packet, one delete', async () => {
    const r = await native.pcpMap({ protocol: 'UDP', internalPort: 7785, externalPort: 7785, lifetime: 600 })
    expect(ok(r)).toMatchObject({ resultCode: 0, protocol: 17, internalPort: 7785, externalAddress: LAB.extIp })
    expect(r.nonce).toMatch(/^[0-9a-f]{24}$/)
    expect(r.lifetime).toBe(600)
    const ext = r.externalPort!
    expect(dnatRule(await nftRules(), 'UDP', ext, 7785)).toBe(true)
    expect(await udpArrives(ext, 7785)).toBe(true)

    const renewed = await native.pcpMap({ protocol: 'UDP', internalPort: 7785, externalPort: ext, lifetime: 600, nonce: r.nonce })
    expect(ok(renewed)).toMatchObject({ externalPort: ext, nonce: r.nonce })

    const { value: del, packets } = await countRequests(() => native.pcpDelete({ protocol: 'UDP', internalPort: 7785, nonce: r.nonce! }))
    expect(ok(del)).toMatchObject({ attempts: 1, lifetime: 0 })
    expect(packets).toBe(1)
    expect(dnatRule(await nftRules(), 'UDP', ext, 7785)).toBe(false)
    // miniupnpd answers a delete of a mapping it no longer has with NO_RESOURCES (8).
    const again = await native.pcpDelete({ protocol: 'UDP', internalPort: 7785, nonce: r.nonce! })
    expect(again).toMatchObject({ resultCode: 8, failure: { via: 'pcp', code: 8, meaning: 'NO_RESOURCES' } })
  })

  it('TCP, a suggested external port, lifetimes clamped by the router (120 s at least)', async () => {
    const r = await native.pcpMap({ protocol: 'TCP', internalPort: 7786, externalPort: 7787, lifetime: 30 })
    expect(ok(r)).toMatchObject({ protocol: 6, internalPort: 7786, externalPort: 7787, lifetime: 120 })
    expect(dnatRule(await nftRules(), 'TCP', 7787, 7786)).toBe(true)
    ok(await native.pcpDelete({ protocol: 'TCP', internalPort: 7786, nonce: r.nonce! }))
    expect(dnatRule(await nftRules(), 'TCP', 7787, 7786)).toBe(false)
  })

  it('a delete with another nonce is NOT_AUTHORIZED (2) and leaves the mapping', async () => {
    const r = await native.pcpMap({ protocol: 'UDP', internalPort: 7788, lifetime: 600 })
    ok(r)
    const wrong = await native.pcpDelete({ protocol: 'UDP', internalPort: 7788, nonce: '000000000000000000000000' })
    expect(wrong).toMatchObject({
      resultCode: 2,
      failure: { via: 'pcp', code: 2, meaning: 'NOT_AUTHORIZED', result: UPNP_RESULT.NOT_AUTHORIZED },
    })
    expect(dnatRule(await nftRules(), 'UDP', r.externalPort!, 7788)).toBe(true)
    ok(await native.pcpDelete({ protocol: 'UDP', internalPort: 7788, nonce: r.nonce! }))
  })

  it('keeps the raw result code for a forbidden port (NOT_AUTHORIZED)', async () => {
    const r = await native.pcpMap({ protocol: 'UDP', internalPort: 80, lifetime: 600 })
    expect(r).toMatchObject({ resultCode: 2, failure: { via: 'pcp', code: 2, meaning: 'NOT_AUTHORIZED' } })
  })

  it.skipIf(!hasIpv6)('over IPv6: ANNOUNCE and a MAP that opens a pinhole', async () => {
    const a = await native.pcpAnnounce({ router: LAB.ip6.routerLan })
    expect(ok(a)).toMatchObject({ router: LAB.ip6.routerLan, localAddress: LAB.ip6.client })
    const m = await native.pcpMap({ router: LAB.ip6.routerLan, protocol: 'UDP', internalPort: 7789, lifetime: 600 })
    expect(ok(m)).toMatchObject({ internalPort: 7789, externalPort: 7789, externalAddress: LAB.ip6.client })
    ok(await native.pcpDelete({ router: LAB.ip6.routerLan, protocol: 'UDP', internalPort: 7789, nonce: m.nonce! }))
  })

  it('rejects a malformed nonce before sending anything', async () => {
    const r = await native.pcpDelete({ protocol: 'UDP', internalPort: 1, nonce: 'xyz' })
    expect(unanswered(r)).toMatchObject({ attempts: 0, failure: { via: 'pcp', meaning: 'INVALID_ARGS' } })
  })
})

describe('router stopped, then rebooted', () => {
  it('a stopped router refuses at once (ICMP port unreachable), no waiting for the budget', async () => {
    await routerCtl('stop')
    try {
      const started = performance.now()
      const [pmp, pcp] = await Promise.all([native.natpmpExternalAddress({ budgetMs: 5000 }), native.pcpAnnounce({ budgetMs: 5000 })])
      expect(unanswered(pmp)).toMatchObject({ attempts: 1, failure: { via: 'natpmp', meaning: 'REFUSED' } })
      expect(unanswered(pcp)).toMatchObject({ attempts: 1, failure: { via: 'pcp', meaning: 'REFUSED' } })
      expect(performance.now() - started).toBeLessThan(1000)
    } finally {
      await routerCtl('start', undefined, { noUpnp: true })
    }
  })

  it('an epoch that goes backwards is reported as a reboot, once, for each protocol', async () => {
    // The stop/start above was a reboot too, as clients see it: let its first answers go.
    await native.natpmpExternalAddress({})
    await native.pcpAnnounce({})
    // Let the router's epoch grow enough for a drop to be told from clock noise (the RFC
    // rules allow 2 s of slack).
    let before = await native.natpmpExternalAddress({})
    for (let i = 0; i < 40 && (before.epoch ?? 0) < 4; i++) {
      await sleep(250)
      before = await native.natpmpExternalAddress({})
    }
    expect(before.epoch).toBeGreaterThanOrEqual(4)
    const pcpBefore = await native.pcpAnnounce({})
    expect(pcpBefore.rebooted).toBe(false)
    const mapped = await native.natpmpMap({ protocol: 'UDP', internalPort: 7790, lifetime: 600 })
    expect(dnatRule(await nftRules(), 'UDP', mapped.externalPort!, 7790)).toBe(true)

    await routerCtl('reboot')
    // The mapping is gone with the router's state...
    expect(dnatRule(await nftRules(), 'UDP', mapped.externalPort!, 7790)).toBe(false)
    // ... and the next answer of each protocol says so.
    const after = await native.natpmpExternalAddress({})
    ok(after)
    expect(after.epoch).toBeLessThan(before.epoch!)
    expect(after).toMatchObject({ rebooted: true, resets: before.resets + 1 })
    const pcpAfter = await native.pcpAnnounce({})
    expect(ok(pcpAfter)).toMatchObject({ rebooted: true, resets: pcpBefore.resets + 1 })
    // Only the first answer after the reboot reports it; `resets` stays raised.
    const later = await native.natpmpMap({ protocol: 'UDP', internalPort: 7790, lifetime: 600 })
    expect(ok(later)).toMatchObject({ rebooted: false, resets: after.resets })
    // Restored.
    expect(dnatRule(await nftRules(), 'UDP', later.externalPort!, 7790)).toBe(true)
    ok(await native.natpmpDelete({ protocol: 'UDP', internalPort: 7790 }))
  })
})

describe('probe, all three protocols', () => {
  it('with the default router, UPnP, NAT-PMP and PCP all answer well within 250 ms', async () => {
    await routerCtl('stop')
    await routerCtl('start')
    const runs: number[] = []
    let last: native.ProbeResult | undefined
    for (let i = 0; i < 5; i++) {
      last = await native.probePortMapping({ router6: '' })
      runs.push(last.elapsedMs)
    }
    expect(last?.upnp).toMatchObject({ answered: true })
    expect(last?.upnp?.device?.igdControlUrl).toBe(LAB.routerControlUrl)
    expect(last?.upnp?.device?.externalAddress).toBe(LAB.extIp)
    expect(ok(last?.natpmp)).toMatchObject({ externalAddress: LAB.extIp })
    ok(last?.pcp)
    // Every run ends when the last protocol answered, never at the budget.
    for (const ms of runs) expect(ms).toBeLessThan(245)
    console.log(
      `probe (UPnP+NAT-PMP+PCP) in the lab: ${runs.map((ms) => ms.toFixed(1)).join(', ')} ms; ` +
        `NAT-PMP ${last!.natpmp!.latencyMs.toFixed(2)} ms, PCP ${last!.pcp!.latencyMs.toFixed(2)} ms, ` +
        `UPnP ${last!.upnp!.latencyMs.toFixed(1)} ms`,
    )
  })
})
