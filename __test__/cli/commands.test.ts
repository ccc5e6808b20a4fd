// The `upnp-native` command line, run as a person or a script runs it: a child process
// (`node --import tsx cli/main.ts ...`) inside the lab's client namespace. Every command's human
// and --json output against the real miniupnpd, cross-checked with `upnpc -l`; doctor's
// verdicts (healthy, no router, double NAT and CGNAT and a disconnected gateway on the fake,
// refused mappings, a router that does not list what it accepted); the usage error that lists
// this machine's interfaces; `map --keep` ended by SIGINT; and, in a real pseudo-terminal
// (script(1) and tmux), the spinner, the colours and Ctrl-C as a person sees them. Help and
// the other usage errors need no lab: __test__/unit/cli-args.test.ts.
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli, CLI, expectUsageError, json, plain, sleep, startKeep } from '../helpers/cli-run.ts'
import { useFakeGateway } from '../lab/fake-fixture.ts'
import { type Device, LAB, repoRoot, routerCtl, upnpcAdd, upnpcDelete, upnpcList } from '../lab/lab.ts'

const ROOT = repoRoot()
/** Ports this file maps (all >= 1024: the lab's miniupnpd refuses lower ones with 606). */
const P = {
  map: 47301,
  json: 47302,
  both: 47303,
  conflict: 47304,
  bothConflict: 47305,
  keep: 47306,
  keepJson: 47307,
  tty: 47308,
  doctor: 47309,
  pmp: 47310,
  pcp: 47311,
  fromUrl: 47312,
}

async function onRouter(port: number, protocol: 'UDP' | 'TCP' = 'UDP') {
  return (await upnpcList()).find((m) => m.externalPort === port && m.protocol === protocol)
}

afterAll(async () => {
  // Whatever a failing test left behind: the router goes back to how the lab made it.
  for (const port of Object.values(P)) {
    for (const protocol of ['UDP', 'TCP'] as const) {
      await upnpcDelete({ externalPort: port, protocol })
      await upnpcDelete({ ns: 'client2', externalPort: port, protocol })
    }
  }
})

describe('usage errors that name this machine', () => {
  it.each([[['--interface', 'eth9'], /--interface "eth9" is not a network interface of this machine/, /lan0 192\.168\.77\.10/]])(
    '%j -> exit 2, what is wrong and what to do',
    async (args, message, fix) => expectUsageError(await cli(args), message, fix),
  )
})

describe('against miniupnpd', () => {
  it('status: one line per gateway, the external address, the double-NAT verdict', async () => {
    const r = plain(await cli(['status', '--timeout', '1']))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^Found in 1\.\d s:$/)
    expect(lines[1]).toMatch(/^UPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected$/)
    // miniupnpd speaks NAT-PMP and PCP too (asked at the same time, --protocol auto)
    expect(lines[2]).toMatch(/^NAT-PMP +192\.168\.77\.1 +server (up \d.*|just started) +answers$/)
    expect(lines[3]).toMatch(/^PCP +192\.168\.77\.1 +server (up \d.*|just started) +answers$/)
    expect(lines[4]).toBe(`External address: ${LAB.extIp}`)
    expect(lines[5]).toBe(`Double NAT: no (${LAB.extIp} is a public address)`)
    // Asked over IPv4 too: miniupnpd's IPv6 firewall lets programs open pinholes.
    expect(lines[6]).toBe('IPv6 inbound: can be opened: the IPv6 firewall is on and lets programs open pinholes')
    // status is the default command
    const bare = plain(await cli(['--timeout', '1']))
    // The router's uptime changes between the two runs, and with its width the column
    // padding: compare without either.
    const stable = (text: string) =>
      text
        .replace(/in \d\.\d s/, '')
        .replace(/server (up [^\n]*?|just started)  /g, '')
        .replace(/ {2,}/g, ' ')
    expect(stable(bare.stdout)).toBe(stable(r.stdout))
    // --protocol upnp: UPnP alone
    const upnpOnly = plain(await cli(['status', '--protocol', 'upnp', '--timeout', '1']))
    expect(upnpOnly.stdout).toMatch(
      /^Found in 1\.\d s:\nUPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected\nExternal address: /,
    )
  })

  it('status --json: the documented document', async () => {
    const r = plain(await cli(['status', '--json', '--timeout', '1']))
    expect(r.code).toBe(0)
    const doc = json(r)
    const gateway = {
      protocol: 'upnp',
      version: 'IGD:2',
      address: LAB.routerLan,
      descriptionUrl: LAB.routerDescUrl,
      controlUrl: LAB.routerControlUrl,
      serviceType: LAB.routerServiceType,
      friendlyName: 'upnp-native lab router',
      manufacturer: 'Debian',
      modelName: 'Debian router',
      server: expect.stringMatching(/MiniUPnPd\/2\.3/),
      status: 'OK',
      usable: true,
      localAddress: LAB.client,
      externalAddress: LAB.extIp,
      nat: 'none',
      selected: true,
      connections: [
        {
          serviceType: LAB.routerServiceType,
          controlUrl: LAB.routerControlUrl,
          status: 'OK',
          connectionStatus: 'Connected',
          externalAddress: LAB.extIp,
          used: true,
        },
      ],
    }
    const lease = { available: true, router: LAB.routerLan, latencyMs: expect.any(Number), meaning: 'SUCCESS', epoch: expect.any(Number) }
    expect(doc).toEqual({
      schema: 1,
      command: 'status',
      ok: true,
      exitCode: 0,
      gateways: [gateway],
      gateway,
      externalAddress: LAB.extIp,
      nat: 'none',
      protocols: { natpmp: { ...lease, externalAddress: LAB.extIp }, pcp: { ...lease, externalAddress: '' } },
      defaultRoute: { gateway: LAB.routerLan, interface: 'lan0' },
      ipv6Inbound: { service: true, firewallEnabled: true, inboundPinholeAllowed: true, canOpen: true },
    })
    expect(json(plain(await cli(['status', '--json', '--protocol', 'upnp', '--timeout', '1']))).protocols).toBeNull()
  })

  it('ip: the address alone (for scripts); --json; -q', async () => {
    const r = plain(await cli(['ip']))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${LAB.extIp}\n`)
    expect(r.stderr).toBe('')
    expect(plain(await cli(['ip', '-q'])).stdout).toBe(`${LAB.extIp}\n`)
    // --interface by name or by address
    expect(plain(await cli(['ip', '--interface', 'lan0'])).stdout).toBe(`${LAB.extIp}\n`)
    expect(plain(await cli(['ip', '--interface', LAB.client])).stdout).toBe(`${LAB.extIp}\n`)
    const doc = json(plain(await cli(['ip', '--json'])))
    expect(doc).toMatchObject({
      schema: 1,
      command: 'ip',
      ok: true,
      exitCode: 0,
      externalAddress: LAB.extIp,
      nat: 'none',
      gateway: { address: LAB.routerLan },
    })
  })

  it('map, list, unmap (human), each cross-checked with upnpc -l', async () => {
    const mapped = plain(await cli(['map', String(P.map), '--description', 'cli test']))
    expect(mapped.code, mapped.stderr).toBe(0)
    expect(mapped.stdout).toBe(
      `Mapped UDP ${LAB.extIp}:${P.map} → ${LAB.client}:${P.map}  (lease 7 d, "cli test")\nDelete with: upnp-native unmap ${P.map}\n`,
    )
    expect(await onRouter(P.map)).toMatchObject({ internalClient: LAB.client, internalPort: P.map, description: 'cli test' })

    await upnpcAdd({ ns: 'client2', internalPort: P.conflict, protocol: 'TCP', description: 'someone else' })
    const list = plain(await cli(['list']))
    expect(list.code).toBe(0)
    const lines = list.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^\d+ port mappings on 192\.168\.77\.1 \(Debian router "upnp-native lab router"\):$/)
    expect(lines[1]).toMatch(/^PROTO +EXTERNAL +INTERNAL +LEASE +DESCRIPTION$/)
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^UDP +${P.map} +→ +${LAB.client}:${P.map} \\(this machine\\) +(7 d|6 d 23 h) +cli test$`)),
    )
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^TCP +${P.conflict} +→ +${LAB.client2}:${P.conflict} +\\d d( \\d+ h)? +someone else$`)),
    )
    expect(lines.length - 2).toBe((await upnpcList()).length)

    const unmapped = plain(await cli(['unmap', String(P.map)]))
    expect(unmapped.code).toBe(0)
    expect(unmapped.stdout).toBe(`Deleted UDP ${P.map} → ${LAB.client}:${P.map}.\n`)
    expect(await onRouter(P.map)).toBeUndefined()
    // Not mapped is not an error: the port is not forwarded, which is what was asked.
    const again = plain(await cli(['unmap', String(P.map), '--both']))
    expect(again.code).toBe(0)
    expect(again.stdout).toBe(`UDP ${P.map} was not mapped; nothing to delete.\nTCP ${P.map} was not mapped; nothing to delete.\n`)
    await upnpcDelete({ ns: 'client2', externalPort: P.conflict, protocol: 'TCP' })
  })

  it('map --json --both --lease, list --json, unmap --json', async () => {
    const r = plain(
      await cli(['map', String(P.json), '--both', '--lease', '10m', '--internal', String(P.json + 100), '--description', 'json', '--json']),
    )
    expect(r.code, r.stdout).toBe(0)
    const doc = json(r)
    expect(doc).toMatchObject({
      schema: 1,
      command: 'map',
      ok: true,
      exitCode: 0,
      keep: false,
      gateway: { address: LAB.routerLan, selected: true },
    })
    expect(doc.mappings).toHaveLength(2)
    for (const [i, protocol] of (['UDP', 'TCP'] as const).entries()) {
      expect(doc.mappings[i]).toEqual({
        via: 'upnp',
        protocol,
        externalAddress: LAB.extIp,
        externalPort: P.json,
        internalClient: LAB.client,
        internalPort: P.json + 100,
        description: 'json',
        lease: expect.any(Number),
        requestedLease: 600,
      })
      expect(doc.mappings[i].lease).toBeGreaterThan(590)
      expect(doc.mappings[i].lease).toBeLessThanOrEqual(600)
      expect(await onRouter(P.json, protocol)).toMatchObject({
        internalClient: LAB.client,
        internalPort: P.json + 100,
        description: 'json',
      })
    }

    const list = json(plain(await cli(['list', '--json'])))
    expect(list).toMatchObject({ schema: 1, command: 'list', ok: true, exitCode: 0, gateway: { address: LAB.routerLan } })
    const reference = await upnpcList()
    expect(list.mappings).toHaveLength(reference.length)
    for (const m of reference) {
      expect(list.mappings).toContainEqual({
        remoteHost: m.remoteHost,
        externalPort: m.externalPort,
        protocol: m.protocol,
        internalPort: m.internalPort,
        internalClient: m.internalClient,
        enabled: true,
        description: m.description,
        leaseDuration: expect.any(Number),
      })
    }

    const gone = json(plain(await cli(['unmap', String(P.json), '--both', '--json'])))
    expect(gone).toMatchObject({ schema: 1, command: 'unmap', ok: true, exitCode: 0 })
    expect(gone.results).toEqual([
      {
        protocol: 'UDP',
        externalPort: P.json,
        wasMapped: true,
        deleted: true,
        mapping: expect.objectContaining({ internalPort: P.json + 100 }),
      },
      {
        protocol: 'TCP',
        externalPort: P.json,
        wasMapped: true,
        deleted: true,
        mapping: expect.objectContaining({ internalPort: P.json + 100 }),
      },
    ])
    expect(await onRouter(P.json, 'UDP')).toBeUndefined()
    expect(await onRouter(P.json, 'TCP')).toBeUndefined()
  })

  it("a refused mapping: exit 1, the router's code and what it means (606 for port 80)", async () => {
    const r = plain(await cli(['map', '80', '--tcp']))
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`upnp-native: the router refused to map TCP 80 → ${LAB.client}:80: UPnP error 606, "Action not authorized"`)
    expect(r.stderr).toMatch(/What it means: the router's UPnP policy does not allow this: routers commonly refuse ports below 1024/)
    expect(r.stderr).toMatch(/What to do: Use an external port of 1024 or above/)
    const doc = json(plain(await cli(['map', '80', '--json'])))
    expect(doc).toMatchObject({
      schema: 1,
      command: 'map',
      ok: false,
      exitCode: 1,
      error: {
        code: 'MAPPING_REFUSED',
        failure: {
          result: 'NOT_AUTHORIZED',
          upnpCode: 606,
          httpStatus: 500,
          meaning: expect.stringMatching(/below 1024/),
          fix: expect.any(String),
        },
      },
    })
    expect(await onRouter(80, 'TCP')).toBeUndefined()
  })

  it('a port another device holds: 718, who holds it; --both is all or nothing; unmap of theirs is refused', async () => {
    await upnpcAdd({ ns: 'client2', internalPort: P.conflict, protocol: 'TCP', description: 'theirs' })
    await upnpcAdd({ ns: 'client2', internalPort: P.bothConflict, protocol: 'TCP', description: 'theirs too' })
    try {
      const r = plain(await cli(['map', String(P.conflict), '--tcp']))
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(
        `UPnP error 718, "ConflictInMappingEntry" (TCP ${P.conflict} already forwards to ${LAB.client2}:${P.conflict}, "theirs")`,
      )
      expect(r.stderr).toMatch(/What it means: the external port is already forwarded to another device/)

      const both = plain(await cli(['map', String(P.bothConflict), '--both']))
      expect(both.code).toBe(1)
      expect(both.stderr).toMatch(/refused to map TCP \d+ .*718.*; the UDP mapping made just before was deleted again/)
      expect(await onRouter(P.bothConflict, 'UDP')).toBeUndefined()
      expect(await onRouter(P.bothConflict, 'TCP')).toMatchObject({ internalClient: LAB.client2 })

      const unmap = plain(await cli(['unmap', String(P.conflict), '--tcp', '--json']))
      expect(unmap.code).toBe(1)
      expect(json(unmap)).toMatchObject({
        ok: false,
        exitCode: 1,
        error: {
          code: 'DELETE_REFUSED',
          message: expect.stringContaining(`it forwards to ${LAB.client2}, another device`),
          failure: { upnpCode: 606 },
        },
        results: [{ protocol: 'TCP', externalPort: P.conflict, wasMapped: true, deleted: false }],
      })
      expect(await onRouter(P.conflict, 'TCP')).toMatchObject({ internalClient: LAB.client2 })
    } finally {
      await upnpcDelete({ ns: 'client2', externalPort: P.conflict, protocol: 'TCP' })
      await upnpcDelete({ ns: 'client2', externalPort: P.bothConflict, protocol: 'TCP' })
    }
  })

  it('doctor on a healthy router: every check passes, the test mapping is gone afterwards', async () => {
    const r = plain(await cli(['doctor', '--timeout', '1', '--port', String(P.doctor)]))
    expect(r.code, r.stdout).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('upnp-native doctor (UPnP, and whether NAT-PMP and PCP answer; IPv4, 1.0 s search)')
    expect(lines.slice(1, 9)).toEqual([
      '✔ Gateway          UPnP IGD:2 at 192.168.77.1, Debian router "upnp-native lab router"',
      `✔ Connection       connected to the Internet; this machine is ${LAB.client} on its network`,
      `✔ External address ${LAB.extIp} is public (no double NAT)`,
      `✔ Test mapping     UDP ${P.doctor} → ${LAB.client}:${P.doctor} accepted`,
      '✔ Listed           the router lists it (GetSpecificPortMappingEntry)',
      '✔ Cleanup          test mapping deleted',
      'ℹ IPv6 inbound     can be opened: the IPv6 firewall is on and lets programs open pinholes',
      `ℹ NAT-PMP, PCP     both answer at ${LAB.routerLan} (NAT-PMP says the external address is ${LAB.extIp})`,
    ])
    expect(lines[10]).toMatch(new RegExp(`^Verdict: UPnP port forwarding works: ports mapped on this router are reachable at ${LAB.extIp}`))
    expect(await onRouter(P.doctor)).toBeUndefined()

    const doc = json(plain(await cli(['doctor', '--json', '--timeout', '1', '--tcp'])))
    expect(doc).toMatchObject({ schema: 1, command: 'doctor', ok: true, exitCode: 0, verdict: { code: 'ok' }, problems: [] })
    expect(doc.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual([
      'discovery:pass',
      'connection:pass',
      'external-address:pass',
      'mapping:pass',
      'listed:pass',
      'cleanup:pass',
      'ipv6:info',
      'protocols:info',
    ])
    expect(doc.via).toBe('upnp')
    expect(doc.protocols.natpmp).toMatchObject({ available: true, externalAddress: LAB.extIp })
    expect(doc.gateways).toHaveLength(1)
    expect((await upnpcList()).filter((m) => m.description.startsWith('upnp-native doctor'))).toEqual([])
  })

  it('doctor with a refused test mapping: 606 for port 80, 718 for a port another device holds', async () => {
    const r = plain(await cli(['doctor', '--timeout', '1', '--port', '80']))
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`✖ Test mapping     UDP 80 → ${LAB.client}:80 refused: UPnP error 606, "Action not authorized"`)
    expect(r.stdout).toContain('– Listed           skipped: nothing was mapped')
    expect(r.stdout).toMatch(
      /Verdict: The router refused the test mapping UDP 80 with UPnP error 606, "Action not authorized": the router's UPnP policy does not allow this/,
    )
    expect(r.stdout).toMatch(/\nFix: Use an external port of 1024 or above/)

    await upnpcAdd({ ns: 'client2', internalPort: P.conflict, protocol: 'UDP', description: 'held' })
    try {
      const doc = json(plain(await cli(['doctor', '--json', '--timeout', '1', '--port', String(P.conflict)])))
      expect(doc).toMatchObject({
        ok: false,
        exitCode: 1,
        verdict: { code: 'mapping-refused', summary: expect.stringContaining(`already forwards to ${LAB.client2}`) },
      })
      expect(doc.checks[3]).toMatchObject({
        id: 'mapping',
        status: 'fail',
        failure: { upnpCode: 718, result: 'CONFLICT_WITH_OTHER_MAPPING' },
      })
    } finally {
      await upnpcDelete({ ns: 'client2', externalPort: P.conflict, protocol: 'UDP' })
    }
  })

  const hasIpv6 = Object.values(os.networkInterfaces())
    .flat()
    .some((a) => a?.address === LAB.ip6.client)
  // map/unmap/doctor --ipv6 (pinholes): ipv6.test.ts.
  it.runIf(hasIpv6)('--ipv6: found over IPv6', async () => {
    const status = plain(await cli(['status', '--ipv6', '--timeout', '1']))
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^UPnP IGD:2 +fd77::1 +Debian router/m)
    expect(status.stdout).toMatch(/^IPv6 inbound: can be opened/m)
  })

  it('no router (miniupnpd stopped): status, ip, map exit 3; doctor says what to check', async () => {
    await routerCtl('stop')
    try {
      const status = plain(await cli(['status', '--timeout', '0.5']))
      expect(status.code).toBe(3)
      expect(status.stdout).toBe('')
      expect(status.stderr).toMatch(
        /^upnp-native: no UPnP gateway answered within 0\.5 s \(searched IPv4\); NAT-PMP and PCP did not answer either\n/,
      )
      expect(status.stderr).toMatch(
        /What to do: Make sure UPnP is turned on in the router's settings \(192\.168\.77\.1, this machine's default gateway via lan0\); it may be called "UPnP IGD"/,
      )
      expect(status.stderr).toContain('--interface')
      expect(json(plain(await cli(['ip', '--json', '--timeout', '0.5'])))).toMatchObject({
        ok: false,
        exitCode: 3,
        error: { code: 'NO_GATEWAY' },
      })
      expect((await cli(['map', '7777', '--timeout', '0.5'])).code).toBe(3)

      const doctor = plain(await cli(['doctor', '--timeout', '0.5']))
      expect(doctor.code).toBe(3)
      expect(doctor.stdout).toContain('✖ Gateway          no UPnP gateway answered within 0.5 s (searched IPv4)')
      expect(doctor.stdout).toContain('– Test mapping     skipped: no gateway')
      expect(doctor.stdout).toContain('Verdict: No UPnP gateway answered: not even the default gateway 192.168.77.1.')
      expect(doctor.stdout).toMatch(/Fix: Make sure UPnP is turned on .* --interface <name>.* --timeout 5/)
      const doc = json(plain(await cli(['doctor', '--json', '--timeout', '0.5'])))
      expect(doc).toMatchObject({ ok: false, exitCode: 3, verdict: { code: 'no-gateway' }, gateways: [] })
      expect(doc.checks.map((c: { status: string }) => c.status)).toEqual(['fail', 'skip', 'skip', 'skip', 'skip', 'skip', 'info'])
      expect(doc.checks[6]).toMatchObject({ id: 'protocols', summary: `neither answers at ${LAB.routerLan}` })
    } finally {
      await routerCtl('start')
    }
  })
})

describe('map --keep', () => {
  it('holds and renews until SIGINT, then deletes: nothing left on the router', async () => {
    const { child, output, exited } = await startKeep(['map', String(P.keep), '--both', '--keep', '--lease', '4', '--description', 'kept'])
    expect(output()).toContain(`Holding UDP ${LAB.extIp}:${P.keep} → ${LAB.client}:${P.keep}  (lease 4 s, renewed every 2 s)`)
    expect(output()).toContain('Press Ctrl-C to delete the mappings and exit.')
    expect(await onRouter(P.keep, 'UDP')).toMatchObject({ internalClient: LAB.client, description: 'kept' })
    expect(await onRouter(P.keep, 'TCP')).toMatchObject({ internalClient: LAB.client, description: 'kept' })
    // Past the 4 s lease: the mapping is still there because it was renewed.
    await sleep(5000)
    expect(output()).toMatch(/\d\d:\d\d:\d\d {2}renewed UDP \d+ \(lease 4 s\)/)
    expect(await onRouter(P.keep, 'UDP')).toBeDefined()
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(output()).toContain(`Deleted UDP ${P.keep} from the router.\nDeleted TCP ${P.keep} from the router.\n`)
    expect(await onRouter(P.keep, 'UDP')).toBeUndefined()
    expect(await onRouter(P.keep, 'TCP')).toBeUndefined()
  })

  it('--json: JSON Lines, the mapping first, then events down to "closed"', async () => {
    const { child, output, exited } = await startKeep(['map', String(P.keepJson), '--keep', '--json'])
    expect(await onRouter(P.keepJson)).toBeDefined()
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    const events = output()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(events[0]).toMatchObject({
      schema: 1,
      command: 'map',
      ok: true,
      exitCode: 0,
      keep: true,
      mappings: [{ protocol: 'UDP', externalPort: P.keepJson, lease: 3600, requestedLease: 3600 }],
    })
    expect(events.slice(1)).toEqual([
      { schema: 1, command: 'map', event: 'deleted', mapping: expect.objectContaining({ externalPort: P.keepJson }) },
      { schema: 1, command: 'map', event: 'closed', ok: true, exitCode: 0, signal: 'SIGTERM' },
    ])
    expect(await onRouter(P.keepJson)).toBeUndefined()
  })

  it('refused at the start: exit 1 with the reason, nothing held', async () => {
    const r = plain(await cli(['map', '80', '--keep']))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/refused to map UDP 80 .*606/)
  })
})

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
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'map', String(P.pmp), '--both', '--keep', '--protocol', 'pmp'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += String(d)
    })
    child.stderr.on('data', (d) => {
      out += String(d)
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    for (const deadline = Date.now() + 15_000; !out.includes('Press Ctrl-C');) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no hold: ${out}`)
      await sleep(50)
    }
    expect(out).toContain(`Holding UDP ${LAB.extIp}:${P.pmp} → ${LAB.client}:${P.pmp} via NAT-PMP  (lease 1 h, renewed every 30 min)`)
    expect(out).toContain(`Holding TCP ${LAB.extIp}:${P.pmp} → ${LAB.client}:${P.pmp} via NAT-PMP`)
    // miniupnpd shows NAT-PMP mappings in its UPnP table too
    expect(await onRouter(P.pmp, 'UDP')).toMatchObject({ internalClient: LAB.client, description: expect.stringMatching(/^NAT-PMP/) })
    expect(await onRouter(P.pmp, 'TCP')).toMatchObject({ internalClient: LAB.client })
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(out).toContain(`Deleted UDP ${P.pmp} from the router.\nDeleted TCP ${P.pmp} from the router.\n`)
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
      `✔ Test mapping     UDP ${P.pcp} → ${LAB.client}:${P.pcp} accepted for 2 min`,
      "– Listed           NAT-PMP keeps no table to read back; the router's answer is the confirmation",
      '✔ Cleanup          test mapping deleted',
    ])
    expect(pmp.stdout).toContain(`Verdict: NAT-PMP port forwarding works: ports mapped on this router are reachable at ${LAB.extIp}`)
    expect(await onRouter(P.pcp)).toBeUndefined()

    const pcp = json(plain(await cli(['doctor', '--protocol', 'pcp', '--port', '80', '--tcp', '--json', '--timeout', '1'])))
    expect(pcp).toMatchObject({
      ok: false,
      exitCode: 1,
      via: 'pcp',
      verdict: { code: 'mapping-refused', summary: expect.stringContaining('PCP result 2, "NOT_AUTHORIZED"') },
    })
    expect(pcp.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual([
      'discovery:pass',
      'connection:skip',
      'external-address:skip',
      'mapping:fail',
      'listed:skip',
      'cleanup:skip',
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
      const map = plain(await cli(['map', String(P.map), '--tcp', '--timeout', '1']))
      expect(map.code).toBe(3)
      expect(map.stderr).toContain(
        `What to do: The router answers NAT-PMP, so this works: upnp-native map ${P.map} --tcp --keep --protocol pmp`,
      )
    } finally {
      await routerCtl('stop')
      await routerCtl('start')
    }
  })
})

describe('with the fake gateway beside miniupnpd', () => {
  const fake = useFakeGateway()
  const device = (overrides: Partial<Device> = {}): Device => ({
    id: 'a',
    ip: LAB.fakeA,
    port: 6001,
    description: { kind: 'igd-v2' },
    ...overrides,
  })

  it("two gateways: status lists both and uses the default route's; --gateway picks the other", async () => {
    await fake.setScenario({ devices: [device({ externalIp: '10.0.0.2' })] })
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
    } = await fake.setScenario({ devices: [device({ externalIp: '10.0.0.2' })] })
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
    await fake.setScenario({ devices: [device({ externalIp: '100.64.1.2' })] })
    const doc = json(plain(await cli(['doctor', '--json', '--gateway', LAB.fakeA, '--timeout', '1'])))
    expect(doc).toMatchObject({
      ok: false,
      exitCode: 1,
      verdict: { code: 'cgnat', summary: expect.stringContaining('100.64.1.2'), fix: expect.stringMatching(/public IPv4 address/) },
    })
  })

  it('a gateway that is not connected: doctor exit 3, map exit 3', async () => {
    await fake.setScenario({ devices: [device({ connectionStatus: 'Disconnected' })] })
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
        device({
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
      devices: [device({ soap: { AddPortMapping: { fault: { code: 725, description: 'OnlyPermanentLeasesSupported' } } } })],
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
      await fake.setScenario({ devices: [device()] })
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

// ---------------------------------------------------------------------------- a real terminal

function tool(cmd: string, args: string[], timeout = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
const cliLine = (args: string[]) => [process.execPath, '--import', 'tsx', CLI, ...args].map(shellQuote).join(' ')

describe('in a real pseudo-terminal', () => {
  it('script(1): a spinner with elapsed time on stderr, colours, the cursor hidden then restored', async () => {
    // script gives the command a pty for stdin/stdout/stderr and copies every byte it writes.
    const r = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color NO_COLOR= FORCE_COLOR= ${cliLine(['status', '--timeout', '1.2'])}`,
      '/dev/null',
    ])
    expect(r.code).toBe(0)
    const raw = r.stdout
    expect(raw.startsWith('\x1b[?25l')).toBe(true) // cursor hidden while the spinner runs
    const frames = [
      ...raw.matchAll(/\r\x1b\[2K\x1b\[36m(.)\x1b\[39m Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \x1b\[2m(\d+\.\d)s\x1b\[22m/g),
    ]
    expect(frames.length).toBeGreaterThan(6) // 80 ms a frame over 1.2 s
    expect(new Set(frames.map((f) => f[1])).size).toBeGreaterThan(6) // it turns
    const elapsed = frames.map((f) => Number(f[2]))
    expect(elapsed[0]).toBe(0)
    expect(elapsed.at(-1)).toBeGreaterThanOrEqual(1.0)
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b))
    // The spinner line is erased and the cursor shown again before the result.
    const result = raw.slice(raw.indexOf('\r\x1b[2K\x1b[?25h') + '\r\x1b[2K\x1b[?25h'.length)
    expect(result).toMatch(/^\x1b\[1mFound in 1\.\d s:\x1b\[22m\r\n/)
    expect(result).toContain('\x1b[32mconnected\x1b[39m')
    expect(result).toContain(`\x1b[1mDouble NAT:\x1b[22m \x1b[32mno (${LAB.extIp} is a public address)\x1b[39m`)

    // --no-color: the spinner still turns, without colour; --json: nothing but the document.
    const noColor = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color ${cliLine(['status', '--timeout', '0.5', '--no-color'])}`,
      '/dev/null',
    ])
    expect(noColor.stdout).toMatch(/\r\x1b\[2K. Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \d\.\ds/)
    expect(noColor.stdout).not.toMatch(/\x1b\[(3\d|1|2|22)m/)
    const asJson = await tool('script', [
      '-qfec',
      `env TERM=xterm-256color ${cliLine(['status', '--timeout', '0.5', '--json'])}`,
      '/dev/null',
    ])
    expect(asJson.stdout).not.toContain('\x1b')
    expect(JSON.parse(asJson.stdout.replace(/\r\n/g, '\n'))).toMatchObject({ command: 'status', ok: true })
  })

  describe('tmux: the screen a person sees', () => {
    // A private server on its own socket file, removed afterwards.
    const socket = path.join(os.tmpdir(), `upnp-native-cli-test-${process.pid}.tmux`)
    const tmux = (...args: string[]) => tool('tmux', ['-S', socket, ...args])
    const screen = async (colours = false) => (await tmux('capture-pane', '-p', ...(colours ? ['-e'] : []), '-t', 'cli')).stdout
    async function waitFor(pattern: RegExp, ms = 15_000): Promise<string> {
      const deadline = Date.now() + ms
      for (;;) {
        const text = await screen()
        if (pattern.test(text)) return text
        if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`)
        await sleep(40)
      }
    }
    const cursorVisible = async () => (await tmux('display-message', '-p', '-t', 'cli', '#{cursor_flag}')).stdout.trim() === '1'
    const start = (args: string[]) =>
      tmux(
        'new-session',
        '-d',
        '-s',
        'cli',
        '-x',
        '132',
        '-y',
        '30',
        `env TERM=tmux-256color NO_COLOR= FORCE_COLOR= ${cliLine(args)}; echo "EXIT=$?"; sleep 60`,
      )

    afterAll(async () => {
      await tmux('kill-server').catch(() => undefined)
      fs.rmSync(socket, { force: true })
    })

    it('status: the spinner counts while searching, then only the result is left, in colour', async () => {
      await start(['status', '--timeout', '1.5'])
      const during = await waitFor(/Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… 0\.[3-9]s/)
      expect(during).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… \d\.\ds/m)
      expect(await cursorVisible()).toBe(false) // hidden while the line animates
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain('EXIT=0')
      expect(await cursorVisible()).toBe(true)
      expect(after).not.toContain('Looking for')
      expect(after.trimEnd().split('\n').slice(0, 6)).toEqual([
        expect.stringMatching(/^Found in 1\.\d s:$/),
        expect.stringMatching(/^UPnP IGD:2 +192\.168\.77\.1 +Debian router "upnp-native lab router" +connected$/),
        expect.stringMatching(/^NAT-PMP +192\.168\.77\.1 +server .* +answers$/),
        expect.stringMatching(/^PCP +192\.168\.77\.1 +server .* +answers$/),
        `External address: ${LAB.extIp}`,
        `Double NAT: no (${LAB.extIp} is a public address)`,
      ])
      const coloured = await screen(true)
      expect(coloured).toMatch(/\x1b\[1mFound in/) // bold heading
      expect(coloured).toMatch(/\x1b\[32mconnected/) // green status
      await tmux('kill-session', '-t', 'cli')
    })

    it('Ctrl-C while searching: the line is cleared, the cursor comes back, "interrupted", exit 130', async () => {
      await start(['status', '--timeout', '10'])
      await waitFor(/Looking for gateways \(UPnP, NAT-PMP, PCP; IPv4\)… 0\.[3-9]s/)
      await tmux('send-keys', '-t', 'cli', 'C-c')
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain('upnp-native: interrupted')
      expect(after).toContain('EXIT=130')
      expect(after).not.toContain('Looking for')
      expect(await cursorVisible()).toBe(true)
      await tmux('kill-session', '-t', 'cli')
    })

    it('map --keep: Ctrl-C typed in the terminal deletes the mapping; exit 0', async () => {
      await start(['map', String(P.tty), '--tcp', '--keep'])
      const holding = await waitFor(/Press Ctrl-C/)
      expect(holding).toContain(`Holding TCP ${LAB.extIp}:${P.tty} → ${LAB.client}:${P.tty}  (lease 1 h, renewed every 30 min)`)
      expect(await onRouter(P.tty, 'TCP')).toMatchObject({ internalClient: LAB.client })
      await tmux('send-keys', '-t', 'cli', 'C-c')
      const after = await waitFor(/EXIT=\d/)
      expect(after).toContain(`Deleted TCP ${P.tty} from the router.`)
      expect(after).toContain('EXIT=0')
      expect(after).not.toContain('Deleting the mapping') // the spinner line was cleared
      expect(await onRouter(P.tty, 'TCP')).toBeUndefined()
      await tmux('kill-session', '-t', 'cli')
    })
  })
})
