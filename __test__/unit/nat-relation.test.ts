// How the address seen from outside (STUN) and the router's report are named: the one place
// that decides "double NAT", "CGNAT" or "an upstream NAT the router does not know about".
import { describe, expect, it } from 'vitest'
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
