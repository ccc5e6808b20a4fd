// A router reboot announced by the router itself, whatever protocol holds the mapping:
// miniupnpd multicasts a PCP ANNOUNCE (224.0.0.1:5350, epoch 0) and SSDP NOTIFYs with a new
// BOOTID when it starts. PortMapper hears them (watchAnnouncements) and checks at once, so a
// mapping over PCP or NAT-PMP is lost and restored within seconds, not at the next 2-minute
// verification. And announcements are hostile input: only the server's own count, and a storm
// costs one renewal per window. (issue 22, defect 2)
import { afterAll, describe, expect, it } from 'vitest'
import { invalidateProbe, type Mapping, PortMapper } from '../../../index.ts'
import { REBOOT_CHECK_INTERVAL_MS } from '../../../lib/portmapper/announcements.ts'
import { nextEvent, trackMappers } from '../../helpers/mappers.ts'
import { dnatRule, udpArrives } from '../../helpers/traffic.ts'
import { LAB, nftRules, routerCtl, runIn } from '../../lab/lab.ts'

const track = trackMappers(invalidateProbe)
afterAll(async () => {
  // Back to the default router (UPnP on) for the other test files.
  await routerCtl('stop')
  await routerCtl('start')
})

/** A verification interval no test waits for: only an announcement can make the check. */
const NEVER = 120_000

/** The epoch rules allow 2 s of clock slack: a router must have been up a few seconds for a
 *  restart to show in its epoch (see pxp.test.ts). */
let routerStartedAt = 0
async function routerUpForAWhile(): Promise<void> {
  const wait = 5000 - (Date.now() - routerStartedAt)
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}

/** Reboots the lab router and resolves with how long after the reboot began `lost` and then
 *  `restored` came, and why it was lost. */
async function rebootAndWatch(mapper: PortMapper): Promise<{ lostMs: number; restoredMs: number; reason: string }> {
  await routerUpForAWhile()
  const started = Date.now()
  const lost = nextEvent(mapper, 'lost', 20_000).then(([, reason]) => ({ at: Date.now(), reason: String(reason) }))
  const restored = nextEvent(mapper, 'restored', 20_000).then(() => Date.now())
  await routerCtl('reboot')
  routerStartedAt = Date.now()
  const [l, r] = await Promise.all([lost, restored])
  // The figures the closing note quotes (the reboot itself takes about a second of them).
  console.log(`${expect.getState().currentTestName}: lost after ${l.at - started} ms, restored after ${r - started} ms`)
  return { lostMs: l.at - started, restoredMs: r - started, reason: l.reason }
}

async function forwardsAgain(m: Mapping): Promise<void> {
  expect(dnatRule(await nftRules(), m.protocol, m.externalPort, m.internalPort)).toBe(true)
  expect(await udpArrives(m.externalPort, m.internalPort)).toBe(true)
}

describe('a router reboot, announced, with a 2-minute verification interval', () => {
  it('auto (PCP, the router also speaks UPnP): lost and restored at once, not 2 minutes later', async () => {
    await routerCtl('stop')
    await routerCtl('start')
    routerStartedAt = Date.now()
    const mapper = track(new PortMapper({ verifyInterval: NEVER, lease: 600 }))
    const m = await mapper.map({ internalPort: 33100 })
    expect(m.via).toBe('pcp')
    const t = await rebootAndWatch(mapper)
    // The router's own start takes about a second of this; far below the 120 s interval.
    expect(t.restoredMs).toBeLessThan(15_000)
    expect(t.reason).toMatch(/epoch/)
    await forwardsAgain(m)
  })

  it('PCP forced, a router without UPnP (only its PCP ANNOUNCE to hear)', async () => {
    await routerCtl('stop')
    await routerCtl('start', undefined, { noUpnp: true })
    routerStartedAt = Date.now()
    const mapper = track(new PortMapper({ protocol: 'pcp', verifyInterval: NEVER, lease: 600 }))
    const m = await mapper.map({ internalPort: 33101 })
    const t = await rebootAndWatch(mapper)
    expect(t.restoredMs).toBeLessThan(15_000)
    expect(t.reason).toMatch(/PCP epoch/)
    await forwardsAgain(m)
  })

  it("NAT-PMP forced: the server's PCP ANNOUNCE prompts the NAT-PMP renewal, whose epoch tells", async () => {
    const mapper = track(new PortMapper({ protocol: 'natpmp', verifyInterval: NEVER, lease: 600 }))
    const m = await mapper.map({ internalPort: 33102, protocol: 'TCP' })
    const t = await rebootAndWatch(mapper)
    expect(t.restoredMs).toBeLessThan(15_000)
    expect(t.reason).toMatch(/NAT-PMP epoch/)
    expect(dnatRule(await nftRules(), 'TCP', m.externalPort, 33102)).toBe(true)
  })

  it('without watchAnnouncements the same reboot waits for the next check (the control)', async () => {
    const mapper = track(new PortMapper({ protocol: 'pcp', verifyInterval: NEVER, lease: 600, watchAnnouncements: false }))
    const m = await mapper.map({ internalPort: 33103 })
    let restored = false
    mapper.on('restored', () => {
      restored = true
    })
    await routerUpForAWhile()
    await routerCtl('reboot')
    routerStartedAt = Date.now()
    await new Promise((r) => setTimeout(r, 3000))
    expect(restored).toBe(false)
    expect(dnatRule(await nftRules(), 'UDP', m.externalPort, 33103)).toBe(false)
  })
})

/** Sends `datagram` (hex) `times` times to 224.0.0.1:5350 from `host`, from port 5351 of
 *  `from` (shared with miniupnpd's own socket there: both set SO_REUSEADDR). */
async function announceFrom(host: 'router' | 'client2', from: string, datagram: string, times = 1): Promise<void> {
  const script = `
const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
s.bind(5351, ${JSON.stringify(from)}, async () => {
  for (let i = 0; i < ${times}; i++) await new Promise((r) => s.send(Buffer.from(${JSON.stringify(datagram)}, 'hex'), 5350, '224.0.0.1', r))
  s.close()
})`
  const r = await runIn(host, process.execPath, ['-e', script])
  expect(r.code, r.stderr).toBe(0)
}

/** NAT-PMP's external address announcement (RFC 6886 3.2.1): epoch 3600, 11.22.33.44. */
const NATPMP_ADDRESS = '0080000000000e100b16212c'
/** PCP's unsolicited ANNOUNCE (RFC 6887 14.1.3): version 2, response to opcode 0, success,
 *  lifetime 0, epoch 3600, 12 reserved bytes. */
const PCP_ANNOUNCE = `028000000000000000000e10${'00'.repeat(12)}`

describe('announcements are hostile input', () => {
  /** Renewals of a mapping that nothing else would renew for minutes. */
  async function renewalsAfter(send: () => Promise<void>, via: 'natpmp' | 'pcp', port: number, waitMs: number): Promise<number> {
    const mapper = track(new PortMapper({ protocol: via, verifyInterval: NEVER, lease: 600 }))
    await mapper.map({ internalPort: port })
    let renewals = 0
    mapper.on('renewed', () => renewals++)
    await send()
    await new Promise((r) => setTimeout(r, waitMs))
    return renewals
  }

  it("the router's own NAT-PMP address announcement prompts one renewal at once", async () => {
    const started = Date.now()
    const mapper = track(new PortMapper({ protocol: 'natpmp', verifyInterval: NEVER, lease: 600 }))
    await mapper.map({ internalPort: 33110 })
    const renewed = nextEvent(mapper, 'renewed', 5000)
    await announceFrom('router', LAB.routerLan, NATPMP_ADDRESS)
    await renewed
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('the same from another host on the LAN is ignored', async () => {
    expect(await renewalsAfter(() => announceFrom('client2', LAB.client2, NATPMP_ADDRESS), 'natpmp', 33111, 1500)).toBe(0)
    expect(await renewalsAfter(() => announceFrom('client2', LAB.client2, PCP_ANNOUNCE), 'pcp', 33112, 1500)).toBe(0)
  })

  it('a storm of 200 announcements from the router costs one renewal per window', async () => {
    expect(REBOOT_CHECK_INTERVAL_MS).toBeGreaterThan(3000)
    expect(await renewalsAfter(() => announceFrom('router', LAB.routerLan, PCP_ANNOUNCE, 200), 'pcp', 33113, 2500)).toBe(1)
  })
})
