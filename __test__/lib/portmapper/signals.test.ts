// PortMapper.map({ signal }) aborted while its request is in flight, over PCP and NAT-PMP and
// for IPv6 pinholes (UPnP and PCP), against miniupnpd whose answers are held 600 ms on the
// lab's slow cable (`lab.sh delay 600`: only router -> client frames wait). Each call is
// aborted the moment miniupnpd has carried it out (its nft rule, watched in the router's own
// namespace), so the router's answer is still on the cable: map() rejects with the signal's
// reason, and by then the mapping the router made is deleted (docs/api.md, "API conventions":
// map() aborted after the router made its mapping deletes it before it rejects), which nft,
// `upnpc -l` and `natpmpc` from client2 (not behind the cable) confirm. UPnP:
// __test__/lib/godot/signals.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PortMapper, type PortMapperOptions } from '../../../index.ts'
import { trackMappers } from '../../helpers/mappers.ts'
import { delayCtl, ipv6WanCtl, LAB, nftRules, pinholeRules, routerCtl, runIn, untilRouterRule, upnpcList } from '../../lab/lab.ts'

const DELAY_MS = 600
const P = { pcp: 43920, natpmp: 43921, pinholeUpnp: 43930, pinholePcp: 43931 }
const track = trackMappers()

/** A mapper whose UPnP requests outlive a test (only the abort ends them), and whose search for
 *  the UPnP gateway has time for the cable's round trips; a NAT-PMP or PCP exchange may take
 *  `pxpBudget`, 2 s, well beyond them. */
const mapper = (options: PortMapperOptions) =>
  track(new PortMapper({ cleanupOnExit: false, watchAnnouncements: false, requestTimeout: 20_000, discoverTimeout: 5_000, ...options }))

/** Whether miniupnpd holds a mapping on external `port`: its DNAT rule, and `upnpc -l` from client2. */
async function mappedOnRouter(port: number): Promise<{ rule: boolean; listed: boolean }> {
  const rule = (await nftRules()).includes(`dport ${port} `)
  const listed = (await upnpcList({ ns: 'client2' })).some((m) => m.externalPort === port)
  return { rule, listed }
}

/** natpmpc from client2 asks for external `port`: miniupnpd grants exactly that port only when
 *  no one holds it (else another), then the cross-check's own mapping is deleted again. */
async function freeForNatpmpc(port: number, protocol: 'udp' | 'tcp'): Promise<boolean> {
  const natpmpc = (...args: string[]) => runIn('client2', 'natpmpc', ['-g', LAB.routerLan, '-a', ...args])
  const r = await natpmpc(String(port), String(port), protocol, '60')
  await natpmpc(String(port), String(port), protocol, '0')
  return r.stdout.includes(`Mapped public port ${port} protocol ${protocol.toUpperCase()} to local port ${port}`)
}

beforeAll(async () => {
  await delayCtl(DELAY_MS)
}, 60_000)
afterAll(async () => {
  await delayCtl('off')
  // What a failing run left (a PCP or NAT-PMP mapping has no UPnP delete): the router starts
  // afresh. After the cable is gone: lab.sh checks the restarted router through it.
  const rules = await nftRules()
  const left = (port: number) => rules.includes(`dport ${port} `) || rules.includes(`th dport ${port} @nh,192,128`)
  if (Object.values(P).some(left)) await routerCtl('reboot')
}, 60_000)

describe.each([
  // `protocol` is `via`'s old name: both must reach the same code.
  ['PCP (via)', { via: 'pcp' }, P.pcp, 'udp'],
  ['NAT-PMP (protocol, the old name)', { protocol: 'natpmp' }, P.natpmp, 'tcp'],
] as const)(`map() over %s aborted in flight, answers ${DELAY_MS} ms away`, (_name, options, port, protocol) => {
  it('rejects with the reason; the mapping miniupnpd made is deleted before it rejects', async () => {
    const m = mapper(options)
    const controller = new AbortController()
    const mapping = m.map({ internalPort: port, protocol: protocol === 'udp' ? 'UDP' : 'TCP', signal: controller.signal })
    await untilRouterRule('mapping', port, true)
    const reason = new Error('match cancelled')
    controller.abort(reason)
    await expect(mapping).rejects.toBe(reason)
    expect(m.mappings).toEqual([])
    expect(await mappedOnRouter(port)).toEqual({ rule: false, listed: false })
    expect(await freeForNatpmpc(port, protocol)).toBe(true)
  })
})

describe(`map({ family: 'ipv6' }) aborted in flight, answers ${DELAY_MS} ms away (lab IPv6 WAN on)`, () => {
  beforeAll(async () => {
    // After the cable: `lab.sh delay` refuses to replace lan0 while the IPv6 WAN pins it.
    await ipv6WanCtl('on')
  }, 60_000)
  afterAll(async () => {
    await ipv6WanCtl('off') // before the file's `delay off`, which refuses while it is on
  }, 60_000)

  it.each([
    // UPnP: the router's IPv6 description URL (no search behind the slow cable).
    ['UPnP', { gateway: LAB.routerDescUrl6 }, P.pinholeUpnp],
    // PCP: at the IPv6 default route's gateway, fe80::1.
    ['PCP', { via: 'pcp' }, P.pinholePcp],
  ] as const)(
    'over %s: rejects with the reason; the pinhole miniupnpd opened is closed before it rejects',
    async (_name, options, port) => {
      const m = mapper(options)
      const controller = new AbortController()
      const pinhole = m.map({ internalPort: port, protocol: 'UDP', family: 'ipv6', signal: controller.signal })
      await untilRouterRule('pinhole', port, true)
      const reason = new Error('lobby closed')
      controller.abort(reason)
      await expect(pinhole).rejects.toBe(reason)
      expect(m.mappings).toEqual([])
      expect(await pinholeRules(port)).toEqual([])
    },
  )
})
