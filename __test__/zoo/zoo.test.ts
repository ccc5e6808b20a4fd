// The router zoo (issue 11): every captured router replayed in the lab (see __test__/zoo/README.md)
// and driven the way users drive it: the Godot surface, PortMapper and the CLI, with miniupnpc's
// upnpc run against the same replay as the reference. miniupnpd is stopped meanwhile, so the
// replay is the only gateway on the LAN.
//
// Per device: upnpc and the CLI run side by side (independent clients, each on its own ports;
// every assertion names its own mappings), then the Godot surface and PortMapper one after the
// other (they check the whole table), then the request heads both clients sent, then the
// behaviours the device is known for (behaviours.ts).
import { execFile } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IGDStatus, PortMapper, UPNP, type UPNPDevice, UPNPResult } from '../../index.ts'
import { MAPPING_DESCRIPTION } from '../../lib/defaults.ts'
import { LAB, repoRoot } from '../lab/lab.ts'
import { behavioursOf } from './behaviours.ts'
import { allDevices, type DeviceSpec } from './device-spec.ts'
import { UPNPC_DESCRIPTION, upnpcRoundTrip } from './upnpc.ts'
import { type ReplayRequest, type RunningDevice } from './zoo-lab.ts'
import { useZoo } from './zoo-fixture.ts'

const devices = allDevices()
// The built CLI (lab.sh test builds dist/ first): a tsx start would cost ~1.5 s per run.
const CLI = path.join(repoRoot(), 'dist/cli/main.js')

function cli(args: string[]): Promise<{ code: number; json: any }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: repoRoot(), timeout: 25_000 }, (err, stdout) =>
      resolve({ code: err ? Number(err.code) : 0, json: JSON.parse(stdout) }),
    )
  })
}

async function gatewayOf(spec: DeviceSpec): Promise<{ upnp: UPNP; gw: UPNPDevice }> {
  const upnp = new UPNP()
  expect(await upnp.discover({ timeout: 2000, untilGateway: true })).toBe(UPNPResult.SUCCESS)
  const gw = upnp.getGateway()
  expect(gw, `${spec.id}: no valid gateway: ${JSON.stringify(upnp.getDevice(0)?.lastError)}`).not.toBeNull()
  return { upnp, gw: gw! }
}

/** A request head with the values that are each client's own masked: User-Agent, the body's
 *  length, and Content-Type (ours carries UDA 1.1's charset). */
function masked(r: ReplayRequest): string {
  return r.head.replace(/^(User-Agent|Content-Length|Content-Type):.*$/gim, '$1: *')
}

const soapAction = (r: ReplayRequest) => r.headers.find((h) => /^soapaction:/i.test(h))?.replace(/^[^:]*:\s*/, '') ?? ''
const byMiniupnpc = (r: ReplayRequest) => /MiniUPnPc/.test(r.head)

const zoo = useZoo()

it('the zoo holds at least 25 devices, each with its sources named', () => {
  expect(devices.length).toBeGreaterThanOrEqual(25)
  for (const d of devices) {
    expect(Object.keys(d.files).length, d.id).toBeGreaterThan(0)
    for (const [file, source] of Object.entries(d.files)) {
      // A capture names its repository at a commit or its issue; a device made from a
      // `doctor --report` (from-report.ts) names the report.
      expect(source, `${d.id}/${file}`).toMatch(
        file.includes('modelled') ? /^modelled/ : /(@[0-9a-f]{40}|https:\/\/github\.com\/|^report: )/,
      )
    }
  }
})

describe.each(devices)('$id', (spec) => {
  let device: RunningDevice
  beforeAll(async () => {
    device = await zoo().load(spec)
  }, 30_000)
  afterAll(async () => {
    await device.stop()
  })

  it.concurrent('upnpc (miniupnpc, the reference) on the same replay', async ({ expect }) => {
    if (spec.tr064) {
      // miniupnpc knows only the UPnP forum's types: its search sees a TR-064-only gateway as
      // "a UPnP device", never an IGD (after ~8 s of rounds), and given the description (-u)
      // it finds no connection service in it, so every call goes to the bare root URL and
      // fails. The quicker -u is enough to show it cannot map here; upnp-native must.
      const run = await upnpcRoundTrip(LAB.client, spec.location)
      expect(run, run.output).toMatchObject({ added: false, listed: false, deleted: false, externalAddress: '' })
    } else {
      const run = await upnpcRoundTrip(LAB.client)
      expect(run, run.output).toMatchObject({ validIgd: true, added: true, listed: true, deleted: true, externalAddress: LAB.extIp })
    }
  })

  it.concurrent('CLI: status and doctor --json', async ({ expect }) => {
    const common = ['--json', '--protocol', 'upnp', '--timeout', '1']
    const [status, doctor] = await Promise.all([cli(['status', ...common]), cli(['doctor', ...common])])
    expect(status.code).toBe(0)
    expect(status.json.gateway).toMatchObject({
      address: device.address,
      version: expect.stringMatching(spec.tr064 ? /^TR-064/ : /^IGD:\d/),
      serviceType: spec.expect.serviceType,
      status: 'OK',
      externalAddress: LAB.extIp,
      connections: expect.arrayContaining([expect.objectContaining({ serviceType: spec.expect.serviceType, status: 'OK', used: true })]),
    })
    expect(doctor.json.verdict.code, JSON.stringify(doctor.json.checks)).toBe('ok')
    // doctor deleted its test mapping (upnpc's may still be there: it runs alongside).
    expect((await device.mappings()).filter((m) => m.description !== UPNPC_DESCRIPTION)).toEqual([])
  })

  it('Godot surface: discover, gateway fields, external address, add / get / list / delete', async () => {
    const { gw } = await gatewayOf(spec)
    expect(gw.igdStatus).toBe(IGDStatus.OK)
    expect(gw.descriptionUrl).toBe(spec.location)
    expect(gw.igdServiceType).toBe(spec.expect.serviceType)
    const control = new URL(gw.igdControlUrl)
    expect(control.hostname).toBe(device.address)
    expect(control.pathname + control.search).toBe(spec.expect.controlPath)
    if (spec.expect.controlPort) expect(Number(control.port)).toBe(spec.expect.controlPort)
    expect(gw.igdOurAddr).toBe(LAB.client)
    expect(await gw.queryExternalAddress()).toBe(LAB.extIp)

    // Godot's default description is "": the router gets the library's default instead.
    try {
      expect(await gw.addPortMapping(40010, 0, '', 'UDP', 0), JSON.stringify(gw.lastError)).toBe(UPNPResult.SUCCESS)
      const held = await device.mappings()
      expect(held).toEqual([
        expect.objectContaining({ protocol: 'UDP', externalPort: 40010, internalClient: LAB.client, description: MAPPING_DESCRIPTION }),
      ])
      expect(await gw.getPortMapping(40010, 'UDP')).toMatchObject({ internalClient: LAB.client, internalPort: 40010 })
      expect((await gw.listPortMappings()).map((m) => m.externalPort)).toEqual([40010])
    } finally {
      expect(await gw.deletePortMapping(40010, 'UDP')).toBe(UPNPResult.SUCCESS)
    }
    expect(await device.mappings()).toEqual([])
  })

  it('PortMapper: map, verify, close', async () => {
    const { gw } = await gatewayOf(spec)
    const mapper = new PortMapper({ gateway: gw, cleanupOnExit: false, watchAnnouncements: false, lease: 3600 })
    try {
      const m = await mapper.map({ internalPort: 40020, protocol: 'TCP', description: 'zoo' })
      expect(m.externalAddress).toBe(LAB.extIp)
      expect(await device.mappings()).toEqual([expect.objectContaining({ protocol: 'TCP', externalPort: m.externalPort })])
    } finally {
      await mapper.close()
    }
    expect(await device.mappings()).toEqual([])
  })

  it("request heads are miniupnpc's, byte for byte (but User-Agent, Content-Type, Content-Length)", async () => {
    const requests = await device.requests()
    const reference = requests.filter(byMiniupnpc)
    const ours = requests.filter((r) => /upnp-native/.test(r.head))
    // Each of our requests against upnpc's request of the same kind (GET of the same
    // description, POST of the same action).
    const kind = (r: ReplayRequest) => `${r.method} ${r.path} ${soapAction(r)}`
    const compared = new Set<string>()
    for (const r of ours) {
      const theirs = reference.find((q) => kind(q) === kind(r))
      if (!theirs) continue
      expect(masked(r)).toBe(masked(theirs))
      compared.add(r.method === 'GET' ? 'GET' : soapAction(r).replace(/^.*#|"$/g, ''))
    }
    // upnpc's list and delete (-u) go to the first connection service (UPNP_GetIGDFromUrl asks
    // none of them), ours to the one in use: on a router with several they differ.
    const expected = spec.tr064
      ? ['GET']
      : ['GET', 'GetStatusInfo', 'GetExternalIPAddress', 'AddPortMapping', ...(spec.connections ? [] : ['DeletePortMapping'])]
    expect([...compared]).toEqual(expect.arrayContaining(expected))
  })

  for (const behaviour of behavioursOf(spec.id)) {
    it(`known behaviour: ${behaviour.what}`, async () => {
      const { gw } = await gatewayOf(spec)
      await behaviour.check(device, gw)
    })
  }
})
