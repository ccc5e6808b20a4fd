// The command line over NAT-PMP and PCP (the lab's miniupnpd speaks both): status, ip and
// doctor with `--protocol pmp|pcp`, `map --keep --protocol pmp` on the router and gone after
// Ctrl-C, and UPnP switched off: what `map` says to do instead. See commands.test.ts.
import { describe, expect, it } from 'vitest'
import { cli, json, onRouter, plain, releaseAfterAll, startKeep } from '../helpers/cli-run.ts'
import { LAB, routerCtl } from '../lab/lab.ts'

/** Ports this file maps (>= 1024: the lab's miniupnpd refuses lower ones with 606). */
const P = { pmp: 47310, pcp: 47311, refused: 47313 }
releaseAfterAll(P)

describe('NAT-PMP and PCP (miniupnpd speaks both)', () => {
  it('status and ip --protocol pmp; status --protocol pcp', async () => {
    const status = plain(await cli(['status', '--protocol', 'pmp', '--timeout', '1']))
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(
      new RegExp(
        `^Found in \\d\\.\\d s:\nNAT-PMP +192\\.168\\.77\\.1 +server .* +answers\nExternal address: ${LAB.extIp} \\(from NAT-PMP\\)\nDouble NAT: no`,
      ),
    )
    expect(status.stdout).not.toContain('UPnP')
    const pcp = plain(await cli(['status', '--protocol', 'pcp', '--timeout', '1']))
    // PCP has no address request; NAT-PMP's answer (same probe) is shown, and says so.
    expect(pcp.stdout).toMatch(
      new RegExp(
        `^Found in \\d\\.\\d s:\nPCP +192\\.168\\.77\\.1 +server .* +answers\nExternal address: ${LAB.extIp} \\(from NAT-PMP\\)\n`,
      ),
    )
    const ip = plain(await cli(['ip', '--protocol', 'pmp']))
    expect(ip.stdout).toBe(`${LAB.extIp}\n`)
    expect(json(plain(await cli(['ip', '--protocol', 'pmp', '--json'])))).toMatchObject({
      ok: true,
      externalAddress: LAB.extIp,
      via: 'natpmp',
      gateway: null,
    })
  })

  it('map --keep --protocol pmp: held over NAT-PMP (the router lists it), deleted on SIGINT', async () => {
    const { child, output, exited } = await startKeep(['map', String(P.pmp), '--both', '--keep', '--protocol', 'pmp'])
    expect(output()).toContain(`Holding UDP ${LAB.extIp}:${P.pmp} → ${LAB.client}:${P.pmp} via NAT-PMP  (lease 1 h, renewed every 30 min)`)
    expect(output()).toContain(`Holding TCP ${LAB.extIp}:${P.pmp} → ${LAB.client}:${P.pmp} via NAT-PMP`)
    // miniupnpd shows NAT-PMP mappings in its UPnP table too
    expect(await onRouter(P.pmp, 'UDP')).toMatchObject({ internalClient: LAB.client, description: expect.stringMatching(/^NAT-PMP/) })
    expect(await onRouter(P.pmp, 'TCP')).toMatchObject({ internalClient: LAB.client })
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(output()).toContain(`Deleted UDP ${P.pmp} from the router.\nDeleted TCP ${P.pmp} from the router.\n`)
    expect(await onRouter(P.pmp, 'UDP')).toBeUndefined()
    expect(await onRouter(P.pmp, 'TCP')).toBeUndefined()
  })

  it('a refusal over PCP and NAT-PMP: the result code and what it means (port 80)', async () => {
    const pcp = plain(await cli(['map', '80', '--keep', '--protocol', 'pcp']))
    expect(pcp.code).toBe(1)
    expect(pcp.stderr).toContain('upnp-native: the router refused over PCP to map UDP 80 → this machine:80: PCP result 2, "NOT_AUTHORIZED"')
    expect(pcp.stderr).toMatch(/What it means: the router's policy refuses this mapping/)
    const pmp = json(plain(await cli(['map', '80', '--keep', '--protocol', 'pmp', '--json'])))
    expect(pmp).toMatchObject({
      ok: false,
      exitCode: 1,
      error: { code: 'MAPPING_REFUSED', failure: { via: 'natpmp', resultCode: 2, result: 'NOT_AUTHORIZED' } },
    })
  })

  it('doctor --protocol pmp and pcp: healthy, and a refused test mapping', async () => {
    const pmp = plain(await cli(['doctor', '--protocol', 'pmp', '--port', String(P.pcp), '--timeout', '1']))
    expect(pmp.code, pmp.stdout).toBe(0)
    const lines = pmp.stdout.trimEnd().split('\n')
    expect(lines.slice(0, 7)).toEqual([
      'upnp-native doctor (NAT-PMP; IPv4, 1.0 s search)',
      expect.stringMatching(/^✔ Gateway {10}NAT-PMP at 192\.168\.77\.1 answered in [\d.]+ ms, server /),
      `✔ Connection       connected: the router reports an external address; this machine is ${LAB.client}`,
      `✔ External address ${LAB.extIp} is public (no double NAT)`,
      // Inside, a port of doctor's own: NAT-PMP knows mappings by it (issue 22).
      expect.stringMatching(
        new RegExp(
          `^✔ Test mapping {5}UDP ${P.pcp} → ${LAB.client}:\\d+ accepted for 2 min \\(to a test port, so that a mapping of this machine's ${P.pcp} is left alone\\)$`,
        ),
      ),
      "– Listed           NAT-PMP keeps no table to read back; the router's answer is the confirmation",
      '✔ Cleanup          test mapping deleted',
    ])
    expect(pmp.stdout).toContain(`Verdict: NAT-PMP port forwarding works: ports mapped on this router are reachable at ${LAB.extIp}`)
    expect(await onRouter(P.pcp)).toBeUndefined()

    // Port 80 over PCP: miniupnpd gives the test mapping (from a high test port inside)
    // another external port instead of 80, which it does not allow (issue 22: the test no
    // longer uses the port inside, where it would renew and delete a mapping of it).
    const pcp = json(plain(await cli(['doctor', '--protocol', 'pcp', '--port', '80', '--tcp', '--json', '--timeout', '1'])))
    expect(pcp).toMatchObject({
      ok: false,
      exitCode: 1,
      via: 'pcp',
      verdict: { code: 'port-unavailable', summary: expect.stringContaining('TCP 80 is taken or not allowed on the router') },
    })
    expect(pcp.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual([
      'discovery:pass',
      'connection:skip',
      'external-address:pass',
      'mapping:warn',
      'listed:skip',
      'cleanup:pass',
    ])
  })

  it('UPnP switched off, NAT-PMP/PCP on: status and ip use NAT-PMP, doctor says what still works', async () => {
    await routerCtl('stop')
    await routerCtl('start', undefined, { noUpnp: true })
    try {
      const status = plain(await cli(['status', '--timeout', '1']))
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(
        new RegExp(`^Found in 1\\.\\d s:\nNAT-PMP .* answers\nPCP .* answers\nExternal address: ${LAB.extIp} \\(from NAT-PMP\\)\n`),
      )
      const ip = plain(await cli(['ip', '--timeout', '1']))
      expect(ip.code).toBe(0)
      expect(ip.stdout).toBe(`${LAB.extIp}\n`)
      expect(ip.stderr).toBe('note: no UPnP gateway answered; the address came from NAT-PMP.\n')
      expect((await cli(['ip', '--protocol', 'upnp', '--timeout', '1'])).code).toBe(3)
      const doctor = plain(await cli(['doctor', '--timeout', '1']))
      expect(doctor.code).toBe(3)
      expect(doctor.stdout).toContain(
        `ℹ NAT-PMP, PCP     both answer at ${LAB.routerLan} (NAT-PMP says the external address is ${LAB.extIp})`,
      )
      expect(doctor.stdout).toContain(
        'The router does answer NAT-PMP and PCP: programs that use those can still open ports (see `upnp-native doctor --protocol pmp`).',
      )
      const map = plain(await cli(['map', String(P.refused), '--tcp', '--timeout', '1']))
      expect(map.code).toBe(3)
      expect(map.stderr).toContain(
        `What to do: The router answers NAT-PMP, so this works: upnp-native map ${P.refused} --tcp --keep --protocol pmp`,
      )
    } finally {
      await routerCtl('stop')
      await routerCtl('start')
    }
  })
})
