// The command line and IPv6 inbound, with the lab's IPv6 WAN on: `map --ipv6` / `unmap
// --ipv6` open and close pinholes (packets from the WAN host get through only meanwhile),
// `map --ipv6 --keep` holds one over UPnP or PCP, `status` and `doctor` say whether inbound
// IPv6 can be opened, and a router whose firewall refuses pinholes (the fake gateway).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, json, plain, startKeep } from '../helpers/cli-run.ts'
import { useFakeGateway } from '../lab/fake-fixture.ts'
import { arrivesFromWan, ipv6WanCtl, LAB, pinholeRules, runIn } from '../lab/lab.ts'

const ME = LAB.ip6.client
const P = { map: 47401, json: 47402, keep: 47403, pcp: 47404, doctor: 47405, mine: 47406 }

beforeAll(async () => {
  await ipv6WanCtl('on')
})
afterAll(async () => {
  await ipv6WanCtl('off')
})

describe('map --ipv6 / unmap --ipv6', () => {
  it('opens UDP and TCP pinholes: packets from the WAN get through until unmap closes them', async () => {
    expect(await arrivesFromWan('udp', ME, P.map)).toBe(false)
    const map = plain(await cli(['map', String(P.map), '--ipv6', '--both', '--timeout', '1']))
    expect(map.code, map.stderr).toBe(0)
    expect(map.stdout).toMatch(new RegExp(`^Opened UDP \\[${ME}\\]:${P.map} to inbound IPv6  \\(pinhole \\d+, lease 1 d\\)$`, 'm'))
    expect(map.stdout).toMatch(new RegExp(`^Opened TCP \\[${ME}\\]:${P.map} to inbound IPv6  \\(pinhole \\d+, lease 1 d\\)$`, 'm'))
    expect(map.stdout).toContain(`Note: ${ME} is not a global IPv6 address`)
    expect(map.stdout).toContain('Pinholes cannot be permanent: this one lasts 1 d; --keep holds one for as long as it runs.')
    expect(map.stdout).toContain(`Close with: upnp-native unmap ${P.map} --both --ipv6`)
    expect(await pinholeRules(P.map)).toHaveLength(2)
    expect(await arrivesFromWan('udp', ME, P.map)).toBe(true)
    expect(await arrivesFromWan('tcp', ME, P.map)).toBe(true)

    const unmap = plain(await cli(['unmap', String(P.map), '--ipv6', '--both', '--timeout', '1']))
    expect(unmap.code, unmap.stderr).toBe(0)
    expect(unmap.stdout).toBe(`Closed the IPv6 pinhole for UDP [${ME}]:${P.map}.\nClosed the IPv6 pinhole for TCP [${ME}]:${P.map}.\n`)
    expect(await pinholeRules(P.map)).toEqual([])
    expect(await arrivesFromWan('udp', ME, P.map)).toBe(false)
    expect(await arrivesFromWan('tcp', ME, P.map)).toBe(false)
  })

  it('--json: the pinhole as a mapping of family ipv6, with its id; unmap says it closed it', async () => {
    const doc = json(plain(await cli(['map', String(P.json), '--ipv6', '--lease', '10m', '--json', '--timeout', '1'])))
    expect(doc).toMatchObject({
      ok: true,
      command: 'map',
      keep: false,
      via: 'upnp',
      family: 'ipv6',
      gateway: { address: LAB.ip6.routerLan },
    })
    expect(doc.mappings).toEqual([
      {
        via: 'upnp',
        protocol: 'UDP',
        externalAddress: ME,
        externalPort: P.json,
        internalClient: ME,
        internalPort: P.json,
        description: '',
        lease: 600,
        requestedLease: 600,
        family: 'ipv6',
        pinholeId: expect.any(Number),
      },
    ])
    const gone = json(plain(await cli(['unmap', String(P.json), '--ipv6', '--json', '--timeout', '1'])))
    expect(gone).toMatchObject({
      ok: true,
      family: 'ipv6',
      results: [{ protocol: 'UDP', port: P.json, closed: true, pinholeId: doc.mappings[0].pinholeId }],
    })
    expect(await pinholeRules(P.json)).toEqual([])
  })

  it('usage: what a pinhole cannot be, and NAT-PMP', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['map', '7777', '--ipv6', '--internal', '7778'], /--internal cannot differ/],
      [['map', '7777', '--ipv6', '--description', 'x'], /carry no description/],
      [['map', '7777', '--ipv6', '--lease', '2d'], /at most 24 h/],
      [['map', '7777', '--ipv6', '--protocol', 'pcp'], /with --protocol pcp, map needs --keep/],
      [['map', '7777', '--ipv6', '--keep', '--protocol', 'pmp'], /--ipv6 works with UPnP only/],
      [['status', '--ipv6', '--protocol', 'pcp'], /--ipv6 works with UPnP only/],
    ]
    for (const [args, message] of cases) {
      const r = plain(await cli(args))
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
    }
  })
})

describe('map --ipv6 --keep', () => {
  it('over UPnP: held, reachable, closed on SIGINT', async () => {
    const { child, output, exited } = await startKeep(['map', String(P.keep), '--ipv6', '--keep', '--tcp', '--timeout', '1'])
    expect(output()).toContain(`Holding TCP [${ME}]:${P.keep} open to inbound IPv6  (lease 1 h, renewed every 30 min)`)
    expect(output()).toContain('Press Ctrl-C to close the pinhole and exit.')
    expect(await arrivesFromWan('tcp', ME, P.keep)).toBe(true)
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(output()).toContain(`Closed the IPv6 pinhole for TCP ${P.keep}.`)
    expect(await pinholeRules(P.keep)).toEqual([])
    expect(await arrivesFromWan('tcp', ME, P.keep)).toBe(false)
  })

  it("over PCP (the default route's link-local gateway): held, reachable, closed on SIGINT", async () => {
    const args = ['map', String(P.pcp), '--ipv6', '--keep', '--protocol', 'pcp', '--timeout', '1']
    const { child, output, exited } = await startKeep(args)
    expect(output()).toContain(`Holding UDP [${ME}]:${P.pcp} open to inbound IPv6 via PCP  (lease 1 h, renewed every 30 min)`)
    expect(await pinholeRules(P.pcp)).toHaveLength(1)
    expect(await arrivesFromWan('udp', ME, P.pcp)).toBe(true)
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(await pinholeRules(P.pcp)).toEqual([])
    expect(await arrivesFromWan('udp', ME, P.pcp)).toBe(false)
  })

  it('over PCP towards a link-local router without an IPv6 route beyond the LAN: refused, and why', async () => {
    await runIn('client', 'ip', ['-6', 'route', 'del', 'default'])
    try {
      const args = ['map', String(P.pcp), '--ipv6', '--keep', '--protocol', 'pcp', '--gateway', 'fe80::1%lan0', '--timeout', '1']
      const r = plain(await cli(args))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        /cannot open an IPv6 pinhole over PCP: towards the router fe80::1%lan0 this host's address is the link-local fe80::/,
      )
      expect(r.stderr).toContain('What to do: Name the router by its global or unique-local IPv6 address: --gateway <address>')
      expect(await pinholeRules(P.pcp)).toEqual([])
    } finally {
      await ipv6WanCtl('on')
    }
  })
})

describe('status and doctor: can inbound IPv6 be opened?', () => {
  it('doctor --ipv6 tests a pinhole: opened, held, closed', async () => {
    const r = plain(await cli(['doctor', '--ipv6', '--port', String(P.doctor), '--timeout', '1']))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`! External address this machine is ${ME} over IPv6, not a global address`)
    expect(r.stdout).toMatch(new RegExp(`✔ Test mapping {5}pinhole for UDP \\[${ME}\\]:${P.doctor} opened \\(id \\d+\\)`))
    expect(r.stdout).toMatch(/✔ Listed {11}the router holds it \(it renews pinhole \d+\)/)
    expect(r.stdout).toContain('✔ Cleanup          test pinhole closed')
    expect(r.stdout).toContain('✔ IPv6 inbound     can be opened: the IPv6 firewall is on and lets programs open pinholes')
    expect(r.stdout).toContain(`Verdict: IPv6 pinholes work: ports opened on this router are reachable at this machine's own address ${ME}`)
    expect(await pinholeRules(P.doctor)).toEqual([])
    const doc = json(plain(await cli(['doctor', '--json', '--timeout', '1'])))
    expect(doc.ipv6Inbound).toEqual({ service: true, firewallEnabled: true, inboundPinholeAllowed: true, canOpen: true, hostAddress: ME })
    expect(doc.checks.find((c: { id: string }) => c.id === 'ipv6')).toMatchObject({ status: 'info' })
  })

  it("doctor --ipv6 --port on the user's own open pinhole leaves it open (issue 22: it closed it)", async () => {
    expect((await cli(['map', String(P.mine), '--ipv6', '--timeout', '1'])).code).toBe(0)
    const before = await pinholeRules(P.mine)
    expect(before).toHaveLength(1)
    const r = plain(await cli(['doctor', '--ipv6', '--port', String(P.mine), '--timeout', '1']))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('✔ Cleanup          test pinhole closed')
    // The test pinhole was its own (limited to one remote port) and is gone; the user's stays.
    expect(await pinholeRules(P.mine)).toEqual(before)
    expect(await arrivesFromWan('udp', ME, P.mine)).toBe(true)
    expect((await cli(['unmap', String(P.mine), '--ipv6', '--timeout', '1'])).code).toBe(0)
    expect(await pinholeRules(P.mine)).toEqual([])
  })

  describe('a router whose IPv6 firewall refuses pinholes (the fake gateway)', () => {
    const fake = useFakeGateway()
    const blocked = {
      id: 'a',
      ip: LAB.fakeA,
      port: 6001,
      description: { kind: 'igd-v2' as const },
      firewall: { enabled: true, inboundPinholeAllowed: false },
      soap: { AddPinhole: { fault: { code: 703, description: 'InboundPinholeNotAllowed' } } },
    }

    it('status says blocked; doctor --ipv6 fails with the firewall as the reason', async () => {
      await fake.setScenario({ devices: [blocked] })
      const status = json(plain(await cli(['status', '--json', '--timeout', '1', '--gateway', LAB.fakeA])))
      expect(status.ipv6Inbound).toEqual({
        service: true,
        firewallEnabled: true,
        inboundPinholeAllowed: false,
        canOpen: false,
        hostAddress: ME,
      })
      const human = plain(await cli(['status', '--timeout', '1', '--gateway', LAB.fakeA]))
      expect(human.stdout).toContain('IPv6 inbound: blocked: the IPv6 firewall is on and does not let programs open pinholes')

      const doctor = plain(await cli(['doctor', '--ipv6', '--json', '--timeout', '1', '--gateway', LAB.ip6.fakeA]))
      const doc = json(doctor)
      expect(doctor.code).toBe(1)
      expect(doc.checks.find((c: { id: string }) => c.id === 'mapping')).toMatchObject({
        status: 'fail',
        failure: { upnpCode: 703, result: 'NOT_AUTHORIZED', meaning: "the router's IPv6 firewall does not let programs open pinholes." },
      })
      expect(doc.problems.map((p: { code: string }) => p.code)).toEqual(['mapping-refused', 'ipv6-blocked'])

      const map = plain(await cli(['map', '7777', '--ipv6', '--timeout', '1', '--gateway', LAB.ip6.fakeA]))
      expect(map.code).toBe(1)
      expect(map.stderr).toContain(
        `the router refused to open an IPv6 pinhole for UDP 7777 to ${ME}: UPnP error 703, "InboundPinholeNotAllowed"`,
      )
      expect(map.stderr).toContain("What to do: Allow IPv6 pinholes (sometimes called 'IPv6 UPnP' or 'allow inbound IPv6')")
    })
  })
})
