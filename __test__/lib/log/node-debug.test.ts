// NODE_DEBUG=upnp-native (issue 24): Node's debug output prints every exchange of a discover,
// add and delete against miniupnpd; one section alone prints only that section; without it
// nothing is printed; and what a hostile device sends (control bytes, C1 and bidi controls,
// oversize values) comes out escaped and capped.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LAB, repoRoot, upnpcDelete } from '../../lab/lab.ts'
import { igdDescription, searchReply, soapOk, useHostileDevice } from '../../hostile/hostile.ts'

const hostile = useHostileDevice()
const FIXTURE = path.join(repoRoot(), '__test__/fixtures/debug-run.ts')
const P = { all: 41201, section: 41202, off: 41203 }

afterAll(async () => {
  for (const externalPort of Object.values(P)) await upnpcDelete({ externalPort, protocol: 'UDP' })
})

/** The fixture's stderr with NODE_DEBUG set to `debug` ("" = unset). */
function debugRun(debug: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NODE_DEBUG: debug }
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { cwd: repoRoot(), env })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`exit ${code}: ${stderr.slice(-2000)}`))))
  })
}

/** Characters a terminal would act on, outside the line breaks between records. */
const controls = (text: string): string[] =>
  [...text.matchAll(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g)].map((m) => m[0])

describe('NODE_DEBUG against miniupnpd', () => {
  it('upnp-native prints every section of a discover, add and delete, heads and bodies included', async () => {
    const out = await debugRun('upnp-native', 'round-trip', String(P.all))
    const line = (text: string) => expect(out).toMatch(new RegExp(`^UPNP-NATIVE \\d+: ${text}`, 'm'))
    line(`ssdp: M-SEARCH for urn:schemas-upnp-org:device:InternetGatewayDevice:1 to ${LAB.routerLan}:1900`)
    line(`ssdp: from ${LAB.routerLan}:1900: HTTP/1\\.1 200 OK ST .* LOCATION ${LAB.routerDescUrl}: a new device`)
    line(`http: GET http://${LAB.routerLan}:5000/rootDesc\\.xml`)
    line(`http: ${LAB.routerLan}:5000: HTTP 200 after [\\d.]+ ms \\(\\d+ bytes\\)`)
    line(`soap: GetExternalIPAddress at ${LAB.routerControlUrl}: ok: NewExternalIPAddress="${LAB.extIp}"`)
    line(`upnp: described ${LAB.routerDescUrl}: "upnp-native lab router"`)
    line('upnp: discovery: \\d+ search replies, 1 device')
    line(`soap: AddPortMapping at ${LAB.routerControlUrl}: ok`)
    line(`soap: DeletePortMapping at ${LAB.routerControlUrl}: ok`)
    // The wire itself, indented under its record.
    expect(out).toContain(`  | SOAPAction: "urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping"`)
    expect(out).toContain(`  | <?xml version="1.0"?>`)
    expect(out).toMatch(new RegExp(`^  \\| <NewExternalPort>${P.all}</NewExternalPort>|<NewExternalPort>${P.all}</NewExternalPort>`, 'm'))
    expect(controls(out)).toEqual([])
  })

  it('upnp-native:soap prints that section alone; without NODE_DEBUG nothing is printed', async () => {
    const soap = await debugRun('upnp-native:soap', 'round-trip', String(P.section))
    const lines = soap.trimEnd().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(4) // GetStatusInfo, GetExternalIPAddress, add, delete
    for (const l of lines) expect(l).toMatch(/^UPNP-NATIVE:SOAP \d+: \w+ at http:\/\//)
    expect(await debugRun('', 'round-trip', String(P.off))).toBe('')
  })
})

describe('NODE_DEBUG and a hostile device', () => {
  it('its control bytes, C1 and bidi controls come out escaped, its oversize values capped', async () => {
    const poison = 'Evil\x1b[2J\u009b6n\u202eesrever\n\u2714 forged line'
    const huge = `A${'x'.repeat(40_000)}`
    await hostile.script({
      http: [
        {
          ip: LAB.fakeA,
          port: 6001,
          routes: {
            'GET /d.xml': {
              body: igdDescription({ friendlyName: poison.replace('\x1b', ''), extra: `<modelDescription>${huge}</modelDescription>` }),
            },
            'POST /ctl#GetStatusInfo': {
              body: soapOk('GetStatusInfo', { NewConnectionStatus: 'Connected', NewLastConnectionError: poison, NewUptime: '5' }),
            },
            'POST /ctl#GetExternalIPAddress': { body: soapOk('GetExternalIPAddress', { NewExternalIPAddress: `11.22.33.99${huge}` }) },
          },
        },
      ],
      ssdp: [{ from: LAB.fakeA, text: searchReply(`http://${LAB.fakeA}:6001/d.xml`, { SERVER: `Linux ${poison} ${'y'.repeat(3000)}` }) }],
    })
    const out = await debugRun('upnp-native', 'hostile', LAB.fakeA)
    expect(out).toContain(`from ${LAB.fakeA}:`) // the device was heard...
    expect(controls(out)).toEqual([]) // ...and nothing it sent reached the terminal raw
    expect(out).toContain('\\x1b[2J')
    expect(out).toContain('\\u009b6n')
    expect(out).toContain('\\u202eesrever')
    expect(out).not.toMatch(/^\u2714 forged line/m)
    // Every printed line is capped, and what is left out of a body is said.
    for (const l of out.split('\n')) expect(l.length, l.slice(0, 80)).toBeLessThanOrEqual(600)
    expect(out).toMatch(/\| … \(\d+ more characters\)/)
    expect(out).not.toContain('x'.repeat(600))
  })
})
