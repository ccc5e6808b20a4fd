// Rough edges a newcomer hit on a first CLI session (issue 22), against miniupnpd: advice
// that fits what was asked after a 606, `unmap` without --tcp when only TCP is mapped, hints
// that work when pasted after `npx`, `--lease` in the forms the CLI prints, and `status` on a
// machine with only link-local IPv6.
import { describe, expect, it } from 'vitest'
import { cli, json, onRouter, plain, releaseAfterAll } from '../helpers/cli-run.ts'
import { LAB, runIn } from '../lab/lab.ts'

const P = { tcpOnly: 47330, npx: 47331, lease: 47332 }
releaseAfterAll(P)

describe('606: the advice fits the ports that were asked', () => {
  it('map 80 (no --internal): keep your own port with --internal', async () => {
    const r = plain(await cli(['map', '80', '--tcp']))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      "What to do: Use an external port of 1024 or above and keep your program's own port with --internal (e.g. `upnp-native map 8080 --internal 80`)",
    )
  })

  it('map 80 --internal 8080: not told about --internal again', async () => {
    const r = plain(await cli(['map', '80', '--internal', '8080', '--tcp']))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('What to do: Use an external port of 1024 or above (e.g. `upnp-native map 8080 --internal 8080`)')
    expect(r.stderr).not.toMatch(/--internal keeps|keep your program's own port/)
  })

  it('map 8080 --internal 80: the port below 1024 is the inside one', async () => {
    const r = plain(await cli(['map', '8080', '--internal', '80', '--tcp']))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/What to do: The router may also refuse internal ports below 1024: let your program listen on 8080/)
    expect(await onRouter(8080, 'TCP')).toBeUndefined()
  })
})

describe('unmap without --tcp', () => {
  it('UDP was not mapped, but TCP is: says so and how to delete it (exit 0, TCP left)', async () => {
    expect((await cli(['map', String(P.tcpOnly), '--tcp', '--description', 'web'])).code).toBe(0)
    const r = plain(await cli(['unmap', String(P.tcpOnly)]))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `UDP ${P.tcpOnly} was not mapped; nothing to delete.\n` +
        `TCP ${P.tcpOnly} is mapped (→ ${LAB.client}:${P.tcpOnly}, "web"): delete it with \`upnp-native unmap ${P.tcpOnly} --tcp\`.\n`,
    )
    expect(await onRouter(P.tcpOnly, 'TCP')).toBeDefined()
    // Asked for UDP explicitly: the answer is about UDP only.
    expect(plain(await cli(['unmap', String(P.tcpOnly), '--udp'])).stdout).toBe(`UDP ${P.tcpOnly} was not mapped; nothing to delete.\n`)
    expect(plain(await cli(['unmap', String(P.tcpOnly), '--tcp'])).stdout).toMatch(/^Deleted TCP /)
  })
})

describe('hints when npm started the CLI (npx upnp-native ...)', () => {
  it('"Delete with:" names npx, as the user must type it', async () => {
    const npx = { env: { npm_command: 'exec', npm_lifecycle_event: 'npx' } }
    const mapped = plain(await cli(['map', String(P.npx)], npx))
    expect(mapped.code).toBe(0)
    expect(mapped.stdout).toContain(`Delete with: npx upnp-native unmap ${P.npx}`)
    const direct = plain(await cli(['unmap', String(P.npx)]))
    expect(direct.code).toBe(0)
    const again = plain(await cli(['map', String(P.npx)]))
    expect(again.stdout).toMatch(new RegExp(`Delete with: upnp-native unmap ${P.npx}$`, 'm'))
    expect((await cli(['unmap', String(P.npx)])).code).toBe(0)
  })
})

describe('--lease as the CLI prints it', () => {
  it('"10 min" (what map --keep printed) is accepted; a bare 10 gets a note that it means seconds', async () => {
    const r = plain(await cli(['map', String(P.lease), '--lease', '10 min']))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\(lease 10 min, "upnp-native"\)/)
    expect(r.stderr).toBe('')
    const bare = plain(await cli(['map', String(P.lease), '--lease', '10']))
    expect(bare.code).toBe(0)
    expect(bare.stderr).toContain('note: --lease 10 is 10 seconds (a bare number is seconds); for minutes write --lease 10m.')
    expect((await cli(['unmap', String(P.lease)])).code).toBe(0)
  })
})

describe('IPv6 inbound on a machine with only link-local IPv6', () => {
  it('status says this machine has no IPv6 address beyond link-local (not "can be opened")', async () => {
    await runIn('client', 'ip', ['-6', 'addr', 'del', `${LAB.ip6.client}/64`, 'dev', 'lan0'])
    try {
      const r = plain(await cli(['status', '--timeout', '1']))
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(
        'IPv6 inbound: this machine has no IPv6 address beyond link-local, so nothing outside the LAN can reach it over IPv6',
      )
      const doc = json(plain(await cli(['status', '--json', '--timeout', '1'])))
      expect(doc.ipv6Inbound).toMatchObject({ service: true, canOpen: true, hostAddress: null })
    } finally {
      await runIn('client', 'ip', ['-6', 'addr', 'add', `${LAB.ip6.client}/64`, 'dev', 'lan0', 'nodad'])
    }
    expect(plain(await cli(['status', '--timeout', '1'])).stdout).toContain('IPv6 inbound: can be opened')
  })
})
