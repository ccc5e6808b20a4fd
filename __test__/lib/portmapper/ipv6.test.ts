// PortMapper's IPv6 pinholes (`map({ family: 'ipv6' })`) against miniupnpd, over PCP and over
// UPnP, with the lab's IPv6 WAN on: packets from the WAN host reach the client only while the
// pinhole is held; renewal, a router reboot (lost, restored), close and SIGTERM.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PortMapper, UPNPError, UPNPResult, type Mapping } from '../../../index.ts'
import * as native from '../../../lib/native/index.ts'
import { arrivalsFromWan } from '../../helpers/traffic.ts'
import { arrivesFromWan, ipv6WanCtl, LAB, pinholeRules, repoRoot, routerCtl, runIn } from '../../lab/lab.ts'

const ME = LAB.ip6.client
/** Packets (UDP datagrams, TCP connections) sent from the WAN host per check. */
const N = 3

const mappers: PortMapper[] = []
function mapper(options: ConstructorParameters<typeof PortMapper>[0] = {}): PortMapper {
  const m = new PortMapper({ cleanupOnExit: false, watchAnnouncements: false, ...options })
  m.on('error', () => undefined)
  mappers.push(m)
  return m
}

function next<T extends unknown[]>(m: PortMapper, event: 'renewed' | 'lost' | 'restored' | 'swept', timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs)
    m.once(event, (...args: unknown[]) => {
      clearTimeout(timer)
      resolve(args as T)
    })
  })
}

beforeAll(async () => {
  await ipv6WanCtl('on')
})
afterEach(async () => {
  await Promise.all(mappers.splice(0).map((m) => m.close().catch(() => undefined)))
})
afterAll(async () => {
  await ipv6WanCtl('off')
})

// PCP asks the IPv6 default route's gateway, the router's link-local fe80::1, from the
// client's address towards the Internet (else the system would send from, and pin, the
// client's link-local address).
const over = (via: 'upnp' | 'pcp') => ({ protocol: via })

describe.each([
  ['upnp', 47830],
  ['pcp', 47840],
] as const)('over %s', (via, port) => {
  it('a UDP and a TCP packet from the WAN reach the client only while the pinhole is held', async () => {
    const m = mapper(over(via))
    expect(await arrivalsFromWan('udp', ME, port, N)).toBe(0)
    expect(await arrivalsFromWan('tcp', ME, port, N)).toBe(0)

    const udp = await m.map({ internalPort: port, protocol: 'UDP', family: 'ipv6', lease: 600 })
    const tcp = await m.map({ internalPort: port, protocol: 'TCP', family: 'ipv6', lease: 600 })
    for (const h of [udp, tcp]) {
      expect(h).toMatchObject({ via, family: 'ipv6', externalAddress: ME, externalPort: port, internalClient: ME, internalPort: port })
    }
    expect(udp.lease).toBe(600)
    // The IPv4 external address is not the pinhole's.
    expect(m.externalAddress).toBe('')
    expect(await pinholeRules(port)).toHaveLength(2)
    expect(await arrivalsFromWan('udp', ME, port, N)).toBe(N)
    expect(await arrivalsFromWan('tcp', ME, port, N)).toBe(N)

    await udp.close()
    expect(await pinholeRules(port)).toHaveLength(1)
    expect(await arrivalsFromWan('udp', ME, port, N)).toBe(0)
    expect(await arrivalsFromWan('tcp', ME, port, N)).toBe(N)
    await m.close()
    expect(await pinholeRules(port)).toEqual([])
    expect(await arrivalsFromWan('udp', ME, port, N)).toBe(0)
    expect(await arrivalsFromWan('tcp', ME, port, N)).toBe(0)
  })

  it('a router reboot loses the pinhole: noticed at the next check, opened again', async () => {
    const m = mapper({ ...over(via), verifyInterval: 1000 })
    const h = await m.map({ internalPort: port + 1, protocol: 'UDP', family: 'ipv6', lease: 600 })
    expect(await arrivesFromWan('udp', ME, port + 1)).toBe(true)
    const lost = next<[Mapping, string]>(m, 'lost', 10_000)
    const restored = next<[Mapping, number]>(m, 'restored', 10_000)
    // Chains flushed, daemon restarted: its pinholes are gone (the mapper's next check, a
    // second later at most, may open it again before this line could look).
    await routerCtl('reboot')
    const [lostMapping, reason] = await lost
    expect(lostMapping).toBe(h)
    expect(reason).toMatch(via === 'pcp' ? /rebooted/ : /no longer has the pinhole/)
    await restored
    expect(h).toMatchObject({ family: 'ipv6', externalAddress: ME, externalPort: port + 1, closed: false })
    expect(await pinholeRules(port + 1)).toHaveLength(1)
    expect(await arrivesFromWan('udp', ME, port + 1)).toBe(true)
  })
})

describe('a reboot announced over IPv6', () => {
  // miniupnpd multicasts a PCP ANNOUNCE to [ff02::1]:5350 from its link-local address when it
  // starts: a PCP pinhole is checked at once, not at the next (2-minute) verification. (issue 22)
  it("PCP: the router's ANNOUNCE to ff02::1 gets the pinhole lost and opened again at once", async () => {
    const m = mapper({ protocol: 'pcp', watchAnnouncements: true, verifyInterval: 120_000 })
    const h = await m.map({ internalPort: 47850, protocol: 'UDP', family: 'ipv6', lease: 600 })
    // The epoch rule allows 2 s of clock slack: let the router be up a while first.
    await new Promise((r) => setTimeout(r, 4000))
    const lost = next<[Mapping, string]>(m, 'lost', 15_000)
    const restored = next<[Mapping, number]>(m, 'restored', 15_000)
    await routerCtl('reboot')
    expect((await lost)[1]).toMatch(/PCP epoch/)
    await restored
    expect(h.closed).toBe(false)
    expect(await pinholeRules(47850)).toHaveLength(1)
    expect(await arrivesFromWan('udp', ME, 47850)).toBe(true)
  })
})

describe('choosing the way', () => {
  it("auto: PCP when it answers over IPv6 (at the default route's link-local gateway)", async () => {
    const m = mapper()
    const h = await m.map({ internalPort: 47850, family: 'ipv6', lease: 600 })
    expect(h.via).toBe('pcp')
    expect(h.externalAddress).toBe(ME)
    expect(await arrivesFromWan('udp', ME, 47850)).toBe(true)
  })

  it('no IPv6 route beyond the LAN and a link-local router: not PCP (it would pin the link-local address), UPnP', async () => {
    // Without a default route there is no address "towards the Internet" to send from.
    await runIn('client', 'ip', ['-6', 'route', 'del', 'default'])
    try {
      const m = mapper({ router6: `${LAB.wan6.routerLinkLocal}%lan0` })
      const h = await m.map({ internalPort: 47856, family: 'ipv6', lease: 600 })
      expect(h).toMatchObject({ via: 'upnp', externalAddress: ME })
      const forced = await mapper({ protocol: 'pcp', router6: `${LAB.wan6.routerLinkLocal}%lan0` })
        .map({ internalPort: 47857, family: 'ipv6' })
        .catch((x: unknown) => x)
      expect(forced).toMatchObject({ result: UPNPResult.INVALID_GATEWAY, via: 'pcp' })
      expect((forced as Error).message).toMatch(/fe80::1%lan0 .*link-local .*give router6/)
      expect(await pinholeRules(47857)).toEqual([])
    } finally {
      await ipv6WanCtl('on')
    }
    expect(await arrivesFromWan('udp', ME, 47856)).toBe(true)
  })

  it('gateway as a description URL: opened without a search; over IPv4 refused with the reason', async () => {
    const m = mapper({ gateway: LAB.routerDescUrl6 })
    const h = await m.map({ internalPort: 47860, family: 'ipv6', lease: 600 })
    expect(h).toMatchObject({ via: 'upnp', externalAddress: ME, externalPort: 47860 })
    expect(await arrivalsFromWan('udp', ME, 47860, N)).toBe(N)
    await m.close()
    expect(await arrivalsFromWan('udp', ME, 47860, N)).toBe(0)
    const over4 = await mapper({ gateway: LAB.routerDescUrl })
      .map({ internalPort: 47861, family: 'ipv6' })
      .catch((x: unknown) => x)
    expect(over4).toMatchObject({ result: UPNPResult.INVALID_ARGS, via: 'upnp' })
    expect((over4 as Error).message).toMatch(/reached over IPv4 \(192\.168\.77\.10\).*reach it over IPv6/)
    const none = await mapper({ gateway: `http://${LAB.fakeA}:1/none.xml` })
      .map({ internalPort: 47862, family: 'ipv6' })
      .catch((x: unknown) => x)
    expect(none).toMatchObject({ result: UPNPResult.INVALID_GATEWAY, via: 'upnp' })
    expect((none as Error).message).toMatch(/has no IPv6 firewall service/)
    expect(await pinholeRules(47861)).toEqual([])
  })

  describe('a LAN with a global prefix beside the ULA (lab.sh ipv6-wan global)', () => {
    const GLOBAL = LAB.global6.client
    beforeAll(async () => {
      await ipv6WanCtl('global')
    })
    afterAll(async () => {
      await ipv6WanCtl('on')
    })

    // miniupnp#731: the pinhole used to be for the address the router was reached from, which
    // the WAN cannot reach (here the WAN host has no route to the ULA at all).
    it.each([
      ['unique-local', LAB.routerDescUrl6, 47870],
      ['link-local', `http://[${LAB.wan6.routerLinkLocal}%25lan0]:5000/rootDesc.xml`, 47872],
    ])('UPnP opens the pinhole for the global address, also with the router reached on its %s one', async (_kind, url, port) => {
      const m = mapper({ gateway: url })
      const h = await m.map({ internalPort: port, protocol: 'UDP', family: 'ipv6', lease: 600 })
      expect(h).toMatchObject({ via: 'upnp', externalAddress: GLOBAL, internalClient: GLOBAL, externalPort: port })
      expect(m.mappings[0]?.externalAddress).toBe(GLOBAL)
      expect((await pinholeRules(port)).join('\n')).toContain('0x20010db8007700000000000000000010') // 2001:db8:77::10
      expect(await arrivesFromWan('udp', GLOBAL, port)).toBe(true)
      // Its other actions come from the same address, or the router would refuse them (606).
      await h.close()
      expect(await pinholeRules(port)).toEqual([])
      expect(await arrivesFromWan('udp', GLOBAL, port)).toBe(false)
    })
  })

  it('auto: UPnP when no PCP server answers over IPv6 (router6 points at a host without one)', async () => {
    const m = mapper({ router6: LAB.ip6.fakeA })
    const h = await m.map({ internalPort: 47851, family: 'ipv6', lease: 600 })
    expect(h.via).toBe('upnp')
    expect(m.gateway).toBeNull() // the IPv4 gateway was never needed
    expect(await arrivesFromWan('udp', ME, 47851)).toBe(true)
  })

  it('a short UPnP lease is renewed before it ends', async () => {
    const m = mapper({ protocol: 'upnp' })
    const h = await m.map({ internalPort: 47852, family: 'ipv6', lease: 4 })
    expect(h.lease).toBe(4)
    const [renewed] = await next<[Mapping]>(m, 'renewed', 5000)
    expect(renewed).toBe(h)
    expect(await pinholeRules(47852)).toHaveLength(1)
    // Past the first lease: still open because it was renewed.
    await new Promise((r) => setTimeout(r, 2500))
    expect(await arrivesFromWan('udp', ME, 47852)).toBe(true)
  })

  it('refuses what IPv6 pinholes cannot be', async () => {
    await expect(mapper({ protocol: 'natpmp' }).map({ internalPort: 47853, family: 'ipv6' })).rejects.toMatchObject({
      result: UPNPResult.INVALID_PARAM,
    })
    const e = await mapper()
      .map({ internalPort: 47853, externalPort: 47854, family: 'ipv6' })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UPNPError)
    expect((e as UPNPError).result).toBe(UPNPResult.INVALID_PORT)
    await expect(mapper().map({ internalPort: 47853, family: 'ipv5' as 'ipv6' })).rejects.toMatchObject({
      result: UPNPResult.INVALID_PARAM,
    })
    expect(await pinholeRules(47853)).toEqual([])
  })

  /** A separate app holding an IPv6 pinhole (auto: PCP in the lab), with a journal if given. */
  async function startChild(port: number, journal?: string) {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot(), '__test__/fixtures/portmapper-child.ts'),
        'busy',
        String(port),
        ...(journal ? [journal] : []),
      ],
      {
        cwd: repoRoot(),
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, CHILD_FAMILY: 'ipv6' },
      },
    )
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('MAPPED')) resolve()
      })
      child.once('exit', () => reject(new Error(`child exited before mapping: ${out}`)))
    })
    return { child, exited }
  }

  it('SIGTERM closes the pinhole like a mapping', async () => {
    const { child, exited } = await startChild(47855)
    expect(await pinholeRules(47855)).toHaveLength(1)
    expect(await arrivesFromWan('udp', ME, 47855)).toBe(true)
    child.kill('SIGTERM')
    expect(await exited).toBe('SIGTERM')
    expect(await pinholeRules(47855)).toEqual([])
    expect(await arrivesFromWan('udp', ME, 47855)).toBe(false)
  })

  it('SIGKILL leaves a PCP pinhole; the next start sweeps it from the journal (sent from its address)', async () => {
    const journal = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-journal-')), 'mappings.json')
    const { child, exited } = await startChild(47858, journal)
    child.kill('SIGKILL')
    await exited
    const left = JSON.parse(fs.readFileSync(journal, 'utf8')) as { sections: Array<{ entries: Array<Record<string, unknown>> }> }
    expect(left.sections.flatMap((s) => s.entries)).toMatchObject([{ via: 'pcp', internalClient: ME, internalPort: 47858 }])
    expect(await pinholeRules(47858)).toHaveLength(1) // the crash left it
    expect(await arrivalsFromWan('udp', ME, 47858, N)).toBe(N)
    const m = mapper({ journal, adoptWindow: 0 })
    const swept = next<[number]>(m, 'swept', 8000)
    await m.map({ internalPort: 47859, family: 'ipv6', lease: 600 })
    expect((await swept)[0]).toBe(1)
    expect(await pinholeRules(47858)).toEqual([])
    expect(await arrivalsFromWan('udp', ME, 47858, N)).toBe(0)
  })

  it('SIGKILL leaves a PCP pinhole the router had renewed (it then refuses the PCP delete); the next start closes it over UPnP', async () => {
    const journal = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-journal-')), 'mappings.json')
    const { child, exited } = await startChild(47863, journal)
    child.kill('SIGKILL')
    await exited
    const left = JSON.parse(fs.readFileSync(journal, 'utf8')) as { sections: Array<{ entries: Array<{ router: string; nonce: string }> }> }
    const [entry] = left.sections.flatMap((s) => s.entries)
    // A renewal with the pinhole's nonce, as the app's next one (or a MAP retransmitted to a
    // slow router) would be: miniupnpd 2.3.1 forgets the nonce then, and refuses its delete.
    // Typed, so that a misnamed field is a type error, not a request to another router.
    const renewal: native.PcpMapArgs = {
      router: entry!.router,
      budgetMs: 2000,
      protocol: 'UDP',
      internalPort: 47863,
      nonce: entry!.nonce,
      localAddress: ME,
    }
    expect((await native.pcpMap({ ...renewal, externalPort: 47863, lifetime: 600 })).resultCode).toBe(0)
    expect(await pinholeRules(47863)).toHaveLength(1)
    const m = mapper({ journal, adoptWindow: 0 })
    const swept = next<[number]>(m, 'swept', 8000)
    await m.map({ internalPort: 47864, family: 'ipv6', lease: 600 })
    expect((await swept)[0]).toBe(1)
    expect(await pinholeRules(47863)).toEqual([])
    expect(await arrivalsFromWan('udp', ME, 47863, N)).toBe(0)
  })
})
