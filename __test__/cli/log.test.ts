// --verbose and --log-http (issue 24) on the command line against miniupnpd: what the library
// decided, or the whole wire transcript, on stderr as it happens; stdout and --json untouched.
import { describe, expect, it } from 'vitest'
import { cli, json, plain } from '../helpers/cli-run.ts'
import { LAB } from '../lab/lab.ts'

const at = '\\+\\d+\\.\\d{3}s'

describe('--verbose and --log-http', () => {
  it('--verbose: the decisions, one line each, on stderr; stdout is only the address', async () => {
    const r = plain(await cli(['ip', '--verbose']))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${LAB.extIp}\n`)
    const lines = r.stderr.trimEnd().split('\n')
    for (const line of lines) expect(line).toMatch(new RegExp(`^${at} (soap|upnp|pxp|http|mapper) +\\S`))
    expect(r.stderr).toMatch(new RegExp(`^${at} upnp +discovery: \\d+ search replies, 1 device`, 'm'))
    expect(r.stderr).toContain(`soap   GetExternalIPAddress at ${LAB.routerControlUrl}: ok: NewExternalIPAddress="${LAB.extIp}"`)
    expect(r.stderr).not.toContain('  | ') // no wire
  })

  it('--log-http: the wire transcript of every exchange, with --json still one document on stdout', async () => {
    const r = plain(await cli(['status', '--json', '--log-http']))
    expect(r.code).toBe(0)
    expect(json(r)).toMatchObject({ ok: true, externalAddress: LAB.extIp })
    expect(r.stderr).toMatch(new RegExp(`^${at} ssdp +M-SEARCH for urn:schemas-upnp-org:device:InternetGatewayDevice:1 to `, 'm'))
    // One wire line per terminal line (escaped, never joined).
    expect(r.stderr).toMatch(/^ {2}\| M-SEARCH \* HTTP\/1\.1$/m)
    expect(r.stderr).toMatch(new RegExp(`^${at} http +GET http://${LAB.routerLan}:5000/rootDesc\\.xml`, 'm'))
    expect(r.stderr).toMatch(/^ {2}\| SOAPAction: "urn:schemas-upnp-org:service:WANIPConnection:2#GetStatusInfo"$/m)
    expect(r.stderr).toMatch(/^ {2}\| <NewConnectionStatus>|<NewConnectionStatus>Connected<\/NewConnectionStatus>/m)
    // NAT-PMP and PCP, asked by status: their datagrams in hex.
    expect(r.stderr).toMatch(new RegExp(`^${at} pxp +NAT-PMP external address to ${LAB.routerLan}:5351 \\(attempt 1, 2 bytes\\)`, 'm'))
    expect(r.stderr).toMatch(/^ {2}\| 0000$/m)
  })

  it('without them nothing is printed on stderr', async () => {
    const r = plain(await cli(['ip']))
    expect(r.stdout).toBe(`${LAB.extIp}\n`)
    expect(r.stderr).toBe('')
  })
})
