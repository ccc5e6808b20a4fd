// `upnp-native check --stun` and `doctor --stun` as a child process against the lab's coturn
// and miniupnpd: the words, the exit codes, the JSON document, usage errors, nothing left.
import { afterAll, describe, expect, it } from 'vitest'
import { cli, expectUsageError, json, plain } from '../helpers/cli-run.ts'
import { cgnatCtl, LAB, upnpcList } from '../lab/lab.ts'

afterAll(async () => {
  await cgnatCtl('off')
})

describe('check', () => {
  it('a reachable probe mapping: public address, router agrees, NAT behaviour, yes; exit 0', async () => {
    const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp']))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`Public address    ${LAB.extIp} (seen by ${LAB.stun.primary}:3478)`)
    expect(r.stdout).toMatch(/Router says +11\.22\.33\.44: .*no NAT beyond the router/)
    expect(r.stdout).toContain('NAT behaviour     mapping endpoint-independent, filtering address-and-port-dependent')
    expect(r.stdout).toMatch(/Probe mapping +UDP 11\.22\.33\.44:\d+ → 192\.168\.77\.10:\d+ over UPnP, deleted again/)
    expect(r.stdout).toMatch(/Reachable from outside: yes: an answer from 11\.22\.33\.2:3479 reached/)
    expect(await upnpcList()).toEqual([])
  })

  it('behind the carrier-grade NAT: no, the reason in one sentence and the fix; exit 3; JSON', async () => {
    await cgnatCtl('on')
    try {
      const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp']))
      expect(r.code).toBe(3)
      expect(r.stdout).toMatch(
        /Reachable from outside: no: traffic from this machine leaves from 11\.33\.0\.1, not from the router's 11\.22\.33\.44/,
      )
      expect(r.stdout).toMatch(/Fix: Ask the ISP for a public IPv4 address/)
      const doc = json(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp', '--json']))
      expect([doc.command, doc.ok, doc.exitCode]).toEqual(['check', false, 3])
      expect(doc.nat.relation).toBe('upstream-nat')
      expect(doc.reachability.verdict).toBe('not-reachable')
      expect(doc.reachability.publicAddress).toBe(LAB.stun.cgnOutside)
    } finally {
      await cgnatCtl('off')
    }
    expect(await upnpcList()).toEqual([])
  })

  it('usage: no server named (none is built in), TCP, too many servers', async () => {
    expectUsageError(await cli(['check']), /needs a STUN server that implements RFC 5780/, /None is built in/)
    expectUsageError(await cli(['check', '--stun', LAB.stun.primary, '--tcp']), /TCP cannot be checked with STUN/, /verify hook/)
    const five = ['a', 'b', 'c', 'd', 'e'].flatMap((s) => ['--stun', s])
    expectUsageError(await cli(['check', ...five]), /at most 4 times/, /--help/)
  })
})

describe('doctor --stun', () => {
  it('adds the view from outside and the probe mapping checked from outside', async () => {
    const r = plain(await cli(['doctor', '--stun', LAB.stun.primary]))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/✔ From outside +11\.22\.33\.44: .*no NAT beyond the router; mapping endpoint-independent/)
    expect(r.stdout).toMatch(/✔ Reachable +yes: an answer from 11\.22\.33\.2:3479 reached/)
    const doc = json(await cli(['doctor', '--stun', LAB.stun.primary, '--json']))
    expect(doc.checks.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(['public-address', 'reachability']))
    expect(doc.stun.reachability.verdict).toBe('reachable')
    expect(await upnpcList()).toEqual([])
  })
})
