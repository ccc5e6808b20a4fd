// How the address seen from outside (STUN) and the router's report are named: the one place
// that decides "double NAT", "CGNAT" or "an upstream NAT the router does not know about"; and
// checkNat()'s `upnpGateway`, checked before anything is sent.
import { describe, expect, it } from 'vitest'
import { checkNat } from '../../index.ts'
import { checkServers, relate } from '../../lib/reachability/nat-view.ts'

describe('relate', () => {
  it.each([
    ['11.22.33.44', '11.22.33.44', false, 'same'],
    ['192.168.1.10', '', true, 'no-nat'],
    ['11.33.0.1', '100.64.0.2', false, 'cgnat'],
    ['11.33.0.1', '10.0.0.2', false, 'double-nat'],
    ['11.33.0.1', '192.168.0.2', false, 'double-nat'],
    ['11.33.0.1', '11.22.33.44', false, 'upstream-nat'],
    ['', '11.22.33.44', false, 'unknown'],
    ['11.33.0.1', '', false, 'unknown'],
  ] as const)('public %s, router %s, no NAT %s -> %s', (pub, router, noNat, relation) => {
    const r = relate(pub, router, noNat)
    expect(r.relation).toBe(relation)
    expect(r.explanation.length).toBeGreaterThan(20)
    if (relation !== 'unknown' && relation !== 'no-nat') expect(r.explanation).toContain(router)
  })
})

describe('checkServers', () => {
  it('takes 1 to 4 host[:port] strings and names what is wrong otherwise', () => {
    expect(checkServers(['stun.example.net'])).toBeNull()
    expect(checkServers(['a', 'b:3478', '[2001:db8::1]:3478', '203.0.113.7'])).toBeNull()
    expect(checkServers(undefined)).toMatch(/at least one/)
    expect(checkServers([])).toMatch(/at least one/)
    expect(checkServers('stun.example.net')).toMatch(/at least one/)
    expect(checkServers(['a', 'b', 'c', 'd', 'e'])).toMatch(/more than 4/)
    expect(checkServers([''])).toMatch(/host\[:port\]/)
    expect(checkServers([7])).toMatch(/host\[:port\]/)
  })
})

describe("checkNat's upnpGateway", () => {
  // Refused before anything is sent. The signal has aborted already: a check that regressed
  // would reject with the abort instead, still sending nothing (this is no lab). What it does
  // with a device or a URL: __test__/cli/check.test.ts.
  const stun = ['192.0.2.9']
  const signal = AbortSignal.abort()

  it('is a UPNPDevice or a description URL, and not given with router', async () => {
    await expect(checkNat({ stun, upnpGateway: 7 as never, signal })).rejects.toThrow(
      /^INVALID_PARAM: upnpGateway 7 is not a UPNPDevice or a description URL/,
    )
    const url = 'http://192.0.2.1:5000/rootDesc.xml'
    await expect(checkNat({ stun, upnpGateway: url, router: '192.0.2.1', signal })).rejects.toThrow(/upnpGateway and router both name/)
    await expect(checkNat({ stun, upnpGateway: url, gateway: '192.0.2.1', signal })).rejects.toThrow(/upnpGateway and gateway both name/)
    await expect(checkNat({ stun: [], upnpGateway: url, signal })).rejects.toThrow(/stun must name at least one/)
    // Valid: only the abort stops it.
    await expect(checkNat({ stun, upnpGateway: url, signal })).rejects.toMatchObject({ name: 'AbortError' })
  })
})
