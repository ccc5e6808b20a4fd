// The `upnp-native` command line, run as a person or a script runs it: a child process
// (`node --import tsx cli/main.ts ...`) inside the lab's client namespace. Every command's human
// and --json output against the real miniupnpd, cross-checked with `upnpc -l`; doctor's
// verdicts there (healthy, refused mappings); the usage error that lists this machine's
// interfaces; `map --keep` ended by SIGINT/SIGTERM. Beside it: pxp.test.ts (NAT-PMP and PCP),
// fake-gateway.test.ts (verdicts only a scripted gateway gives, --gateway <URL>), tty.test.ts
// (a real pseudo-terminal), ipv6.test.ts (pinholes). Help and the other usage errors need no
// lab: __test__/unit/cli-args.test.ts.
import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { cli, expectUsageError, json, onRouter, plain, releaseAfterAll, sleep, startKeep } from '../helpers/cli-run.ts'
import { LAB, routerCtl, upnpcAdd, upnpcDelete, upnpcList } from '../lab/lab.ts'

/** Ports this file maps (all >= 1024: the lab's miniupnpd refuses lower ones with 606). */
const P = {
  map: 47301,
  json: 47302,
  both: 47303,
  conflict: 47304,
  bothConflict: 47305,
  keep: 47306,
  keepJson: 47307,
  doctor: 47309,
}

releaseAfterAll(P)

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
      ipv6Inbound: { service: true, firewallEnabled: true, inboundPinholeAllowed: true, canOpen: true, hostAddress: LAB.ip6.client },
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

      // --force: sent all the same (without it: refused before sending, __test__/cli/prune.test.ts).
      const unmap = plain(await cli(['unmap', String(P.conflict), '--tcp', '--force', '--json']))
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

  it('doctor with a refused test mapping (606 for port 80); a port another device holds is left alone', async () => {
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
      // Read, not tried: a router without secure mode would let doctor's test take it over.
      expect(doc).toMatchObject({
        ok: false,
        exitCode: 1,
        verdict: { code: 'port-taken', summary: expect.stringContaining(`already forwards to ${LAB.client2}`) },
      })
      expect(doc.checks[3]).toMatchObject({
        id: 'mapping',
        status: 'fail',
        summary: expect.stringContaining(`is already mapped to another device ("held"`),
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
