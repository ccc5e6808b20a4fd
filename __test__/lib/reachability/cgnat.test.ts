// The `cgnat` and `double-nat` relations end to end: the lab's real coturn, reached through
// the lab's carrier-grade NAT (`lab.sh cgnat on`: the router's WAN is 100.64.0.2, traffic
// leaves from 11.33.0.1), against a router whose UPnP reports a carrier-grade or a private
// external address. The router's UPnP here is the scriptable fake gateway, because
// miniupnpd 2.3.1 refuses such an ext_ip ("contains reserved / private address") and keeps
// reporting 11.22.33.44, which makes `upstream-nat` (stun.test.ts). miniupnpd runs with UPnP
// off meanwhile, so the probe's search finds only the fake (NAT-PMP/PCP still answer; the
// UPnP address is the one compared first). The names themselves: __test__/unit/nat-relation.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkNat, checkReachability, invalidateProbe } from '../../../index.ts'
import { cli, plain } from '../../helpers/cli-run.ts'
import { fakeDevice, useFakeGateway } from '../../lab/fake-fixture.ts'
import { cgnatCtl, LAB, routerCtl } from '../../lab/lab.ts'

const STUN = [LAB.stun.primary]
/** What the router's WAN really holds behind the lab's CGNAT (lab.sh), as its UPnP would say. */
const CARRIER = '100.64.0.2'
/** A private address, as a router behind another router reports. */
const PRIVATE = '192.168.1.2'

describe('behind the lab’s carrier-grade NAT, a router that reports its own WAN address', () => {
  const fake = useFakeGateway()

  beforeAll(async () => {
    await routerCtl('stop')
    await routerCtl('start', undefined, { noUpnp: true })
    await cgnatCtl('on')
  })
  afterAll(async () => {
    invalidateProbe()
    await cgnatCtl('off')
    await routerCtl('stop')
    await routerCtl('start')
  })

  /** The fake reports `address`; its description URL (for PortMapper's `gateway`). */
  async function reports(address: string): Promise<string> {
    const { devices } = await fake.setScenario({ devices: [fakeDevice({ externalIp: address })] })
    return devices[0]!.location
  }

  it('100.64.0.0/10: checkNat() and checkReachability() name it cgnat, the ISP’s NAT', async () => {
    const url = await reports(CARRIER)
    const nat = await checkNat({ stun: STUN })
    expect([nat.routerAddress, nat.publicAddress, nat.relation]).toEqual([CARRIER, LAB.stun.cgnOutside, 'cgnat'])
    expect(nat.explanation).toBe(
      `the router's external address ${CARRIER} is carrier-grade NAT space (100.64.0.0/10); from outside this machine is ${LAB.stun.cgnOutside}: the ISP's NAT sits beyond the router`,
    )
    // The probe mapping on that router: the answer cannot come through, and the report says why.
    const r = await checkReachability({ stun: STUN, protocol: 'upnp', mapper: { gateway: url } })
    expect([r.mapping.externalAddress, r.publicAddress, r.relation, r.verdict]).toEqual([
      CARRIER,
      LAB.stun.cgnOutside,
      'cgnat',
      'not-reachable',
    ])
    expect(r.reason).toBe(
      `traffic from this machine leaves from ${LAB.stun.cgnOutside}, not from the router's ${CARRIER} (carrier-grade NAT: the ISP's); a mapping on the router cannot open the NAT beyond it`,
    )
    expect(r.fix).toMatch(/^Ask the ISP for a public IPv4 address/)
    expect((await fake.mappings()).a ?? []).toEqual([])
  })

  it('upnp-native check --gateway <URL>: the same names in its words; exit 3', async () => {
    const url = await reports(CARRIER)
    const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--gateway', url, '--protocol', 'upnp']))
    expect(r.code, r.stderr).toBe(3)
    expect(r.stdout).toContain(
      `Router says       ${CARRIER}: the router's external address ${CARRIER} is carrier-grade NAT space (100.64.0.0/10)`,
    )
    expect(r.stdout).toContain(
      `Reachable from outside: no: traffic from this machine leaves from ${LAB.stun.cgnOutside}, not from the router's ${CARRIER} (carrier-grade NAT: the ISP's)`,
    )
    expect(r.stdout).toContain('Fix: Ask the ISP for a public IPv4 address')
    expect((await fake.mappings()).a ?? []).toEqual([])
  })

  it('a private address: checkNat() and checkReachability() name it double-nat, bridge mode the fix', async () => {
    const url = await reports(PRIVATE)
    const nat = await checkNat({ stun: STUN })
    expect([nat.routerAddress, nat.publicAddress, nat.relation]).toEqual([PRIVATE, LAB.stun.cgnOutside, 'double-nat'])
    expect(nat.explanation).toBe(
      `the router's external address ${PRIVATE} is private; from outside this machine is ${LAB.stun.cgnOutside}: another router or the ISP translates again (double NAT)`,
    )
    const r = await checkReachability({ stun: STUN, protocol: 'upnp', mapper: { gateway: url } })
    expect([r.relation, r.verdict]).toEqual(['double-nat', 'not-reachable'])
    expect(r.reason).toContain(`not from the router's ${PRIVATE} (double NAT: the router is behind another router)`)
    expect(r.fix).toMatch(/^Put the upstream modem\/router in bridge mode/)
    expect((await fake.mappings()).a ?? []).toEqual([])
  })
})
