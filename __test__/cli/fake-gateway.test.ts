// The command line where only a scripted gateway gives the case (the fake beside miniupnpd):
// doctor's verdicts for double NAT, CGNAT, a disconnected gateway and a router that does not
// list what it accepted; `--gateway <description URL>` opened directly, no search. See
// commands.test.ts.
import { describe, expect, it } from 'vitest'
import { cli, json, onRouter, plain, releaseAfterAll } from '../helpers/cli-run.ts'
import { fakeDevice, useFakeGateway } from '../lab/fake-fixture.ts'
import { LAB } from '../lab/lab.ts'

/** Ports this file maps (>= 1024: the lab's miniupnpd refuses lower ones with 606). */
const P = { fromUrl: 47312 }
releaseAfterAll(P)

describe('with the fake gateway beside miniupnpd', () => {
  const fake = useFakeGateway()

  it("two gateways: status lists both and uses the default route's; --gateway picks the other", async () => {
    await fake.setScenario({ devices: [fakeDevice({ externalIp: '10.0.0.2' })] })
    const r = plain(await cli(['status']))
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^Found in 2\.\d s:$/)
    expect(lines).toContainEqual(
      expect.stringMatching(/^\* +UPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected$/),
    )
    expect(lines).toContainEqual(
      expect.stringMatching(/^ +UPnP IGD:2 +192\.168\.77\.20 +upnp-native Fake Gateway "Fake a" +connected, double NAT$/),
    )
    expect(r.stdout).toContain("* = the UPnP gateway in use: the default route's gateway (choose with --gateway <address>)")
    expect(r.stdout).toContain(`External address: ${LAB.extIp}\n`)

    const picked = plain(await cli(['status', '--gateway', LAB.fakeA, '--timeout', '1']))
    expect(picked.code).toBe(0)
    expect(picked.stdout).toMatch(/^\* +UPnP IGD:2 +192\.168\.77\.20 /m)
    expect(picked.stdout).toContain(
      'External address: 10.0.0.2\nDouble NAT: yes: 10.0.0.2 is a private address, so another NAT sits between this router and the Internet\n',
    )
    const doc = json(plain(await cli(['status', '--json', '--gateway', LAB.fakeA, '--timeout', '1'])))
    expect(doc).toMatchObject({
      ok: true,
      nat: 'double-nat',
      externalAddress: '10.0.0.2',
      gateway: { address: LAB.fakeA, nat: 'double-nat', selected: true },
    })
    expect(doc.gateways).toHaveLength(2)
  })

  it('double NAT: doctor explains it with the address; ip prints it with a note on stderr', async () => {
    const {
      devices: [located],
    } = await fake.setScenario({ devices: [fakeDevice({ externalIp: '10.0.0.2' })] })
    const r = plain(await cli(['doctor', '--gateway', located!.location, '--timeout', '1']))
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('✖ External address 10.0.0.2 is private: double NAT')
    expect(r.stdout).toContain('✔ Test mapping')
    expect(r.stdout).toContain('✔ Cleanup          test mapping deleted')
    expect(r.stdout).toContain(
      "Verdict: Double NAT: the router's external address 10.0.0.2 is private, so another router or the ISP does NAT upstream; ports mapped here are not reachable from the Internet.",
    )
    expect(r.stdout).toMatch(/\nFix: .*bridge mode/)
    expect((await fake.mappings()).a ?? []).toEqual([])

    const ip = plain(await cli(['ip', '--gateway', LAB.fakeA, '--timeout', '1']))
    expect(ip.code).toBe(0)
    expect(ip.stdout).toBe('10.0.0.2\n')
    expect(ip.stderr).toBe(
      'note: 10.0.0.2 is a private address (double NAT): it cannot be reached from the Internet. Run `upnp-native doctor`.\n',
    )
  })

  it('carrier-grade NAT (100.64.0.0/10) is named as such', async () => {
    await fake.setScenario({ devices: [fakeDevice({ externalIp: '100.64.1.2' })] })
    const doc = json(plain(await cli(['doctor', '--json', '--gateway', LAB.fakeA, '--timeout', '1'])))
    expect(doc).toMatchObject({
      ok: false,
      exitCode: 1,
      verdict: { code: 'cgnat', summary: expect.stringContaining('100.64.1.2'), fix: expect.stringMatching(/public IPv4 address/) },
    })
  })

  it('a gateway that is not connected: doctor exit 3, map exit 3', async () => {
    await fake.setScenario({ devices: [fakeDevice({ connectionStatus: 'Disconnected' })] })
    const r = plain(await cli(['doctor', '--gateway', LAB.fakeA, '--timeout', '1']))
    expect(r.code).toBe(3)
    expect(r.stdout).toContain('✖ Connection       the gateway is not connected to the Internet')
    expect(r.stdout).toContain('Verdict: The gateway 192.168.77.20 answered, but it is not connected to the Internet.')
    expect(r.stdout).toMatch(/\nFix: Check the router's Internet \(WAN\) connection/)
    const map = plain(await cli(['map', '7777', '--gateway', LAB.fakeA, '--json', '--timeout', '1']))
    expect(map.code).toBe(3)
    expect(json(map)).toMatchObject({
      exitCode: 3,
      error: { code: 'NOT_CONNECTED', failure: { meaning: 'the router reports: connection status is "Disconnected".' } },
    })
  })

  it('a router that accepts a mapping but does not list it', async () => {
    await fake.setScenario({
      devices: [
        fakeDevice({
          soap: {
            GetSpecificPortMappingEntry: { fault: { code: 714, description: 'NoSuchEntryInArray' } },
            GetGenericPortMappingEntry: { fault: { code: 713, description: 'SpecifiedArrayIndexInvalid' } },
          },
        }),
      ],
    })
    const r = plain(await cli(['doctor', '--gateway', LAB.fakeA, '--port', '50000', '--timeout', '1']))
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`✔ Test mapping     UDP 50000 → ${LAB.client}:50000 accepted`)
    expect(r.stdout).toContain('✖ Listed           the router accepted the mapping but does not list it')
    expect(r.stdout).toContain('Verdict: The router accepted the test mapping UDP 50000 but does not list it')
    expect(r.stdout).toMatch(/\nFix: .*firmware/)
  })

  it('other refusals get their own sentence (725: permanent leases only)', async () => {
    await fake.setScenario({
      devices: [fakeDevice({ soap: { AddPortMapping: { fault: { code: 725, description: 'OnlyPermanentLeasesSupported' } } } })],
    })
    const r = plain(await cli(['map', '7777', '--lease', '1h', '--gateway', LAB.fakeA, '--timeout', '1']))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('UPnP error 725, "OnlyPermanentLeasesSupported"')
    expect(r.stderr).toContain('What it means: this router accepts only permanent mappings.')
    expect(r.stderr).toContain('What to do: Use --lease 0.')
  })

  it('--gateway <address> that nothing answers from: exit 3, and which ones did answer', async () => {
    const r = plain(await cli(['list', '--gateway', '192.168.77.99', '--timeout', '1']))
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/no gateway at 192\.168\.77\.99 answered within 1\.0 s \(gateways that answered: 192\.168\.77\.1\)/)
  })

  describe('--gateway <description URL>: opened directly, no search', () => {
    const searches = async () => (await fake.requests()).filter((r) => r.kind === 'ssdp').length

    it('status, ip, map and unmap use that gateway alone; no M-SEARCH goes out', async () => {
      // The fake answers every search: had there been one, status would list it too.
      await fake.setScenario({ devices: [fakeDevice()] })
      // A search would take the whole --timeout (60 s): far past this run's 25 s limit.
      const doc = json(plain(await cli(['status', '--json', '--gateway', LAB.routerDescUrl, '--timeout', '60'])))
      expect(doc).toMatchObject({ ok: true, externalAddress: LAB.extIp, gateway: { descriptionUrl: LAB.routerDescUrl, selected: true } })
      expect(doc.gateways).toHaveLength(1)
      const human = plain(await cli(['status', '--gateway', LAB.routerDescUrl, '--protocol', 'upnp']))
      expect(human.stdout).toMatch(/^UPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected$/m)
      expect(plain(await cli(['ip', '--gateway', LAB.routerDescUrl])).stdout).toBe(`${LAB.extIp}\n`)

      const map = plain(await cli(['map', String(P.fromUrl), '--gateway', LAB.routerDescUrl, '--description', 'cli from url']))
      expect(map.code).toBe(0)
      expect(await onRouter(P.fromUrl)).toMatchObject({ internalClient: LAB.client, description: 'cli from url' })
      expect(plain(await cli(['unmap', String(P.fromUrl), '--gateway', LAB.routerDescUrl])).code).toBe(0)
      expect(await onRouter(P.fromUrl)).toBeUndefined()
      expect(await searches()).toBe(0)
    })

    it('a URL nothing serves: exit 3, GATEWAY_NOT_FOUND, what went wrong', async () => {
      const r = plain(await cli(['list', '--json', '--gateway', `http://${LAB.routerLan}:5999/rootDesc.xml`]))
      expect(r.code).toBe(3)
      expect(json(r)).toMatchObject({
        ok: false,
        error: {
          code: 'GATEWAY_NOT_FOUND',
          message: expect.stringMatching(/^no gateway description at http:\/\/192\.168\.77\.1:5999\/rootDesc\.xml: .*connect/),
        },
      })
    })

    it('a URL that cannot be a gateway (loopback, https): usage error, exit 2, nothing sent', async () => {
      for (const url of ['http://127.0.0.1:5000/rootDesc.xml', 'https://192.168.77.1:5000/rootDesc.xml']) {
        const r = plain(await cli(['ip', '--json', '--gateway', url]))
        expect(r.code, url).toBe(2)
        expect(json(r).error).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/^--gateway: .*(loopback|not an http)/) })
      }
      expect(await searches()).toBe(0)
    })
  })
})
