// The router zoo (issue 11): every captured router replayed in the lab (see __test__/zoo/README.md)
// and driven the way users drive it: the Godot surface, PortMapper and the CLI, with miniupnpc's
// upnpc run against the same replay as the reference. miniupnpd is stopped meanwhile, so the
// replay is the only gateway on the LAN.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IGDStatus, PortMapper, UPNP, type UPNPDevice, UPNPResult } from '../../index.ts'
import { LAB, repoRoot, routerCtl } from '../lab/lab.ts'
import { allDevices, type DeviceSpec } from './device-spec.ts'
import { upnpcRoundTrip } from './upnpc.ts'
import { type RunningDevice, startDevice, zooNamespaceDown, zooNamespaceUp } from './zoo-lab.ts'

const devices = allDevices()
const CLI = path.join(repoRoot(), 'cli/main.ts')

function cli(args: string[]): Promise<{ code: number; json: any }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: repoRoot(), timeout: 25_000 }, (err, stdout) =>
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

beforeAll(async () => {
  await routerCtl('stop')
  await zooNamespaceUp()
}, 60_000)

afterAll(async () => {
  await zooNamespaceDown()
  await routerCtl('start')
}, 60_000)

it('the zoo holds at least 25 devices, each with its sources named', () => {
  expect(devices.length).toBeGreaterThanOrEqual(25)
  for (const d of devices) {
    expect(Object.keys(d.files).length, d.id).toBeGreaterThan(0)
    for (const [file, source] of Object.entries(d.files)) {
      expect(source, `${d.id}/${file}`).toMatch(file.includes('modelled') ? /^modelled/ : /(@[0-9a-f]{40}|https:\/\/github\.com\/)/)
    }
  }
})

describe.each(devices)('$id', (spec) => {
  let device: RunningDevice
  beforeAll(async () => {
    device = await startDevice(spec)
  }, 30_000)
  afterAll(async () => {
    await device.stop()
  })

  it('upnpc (miniupnpc, the reference) on the same replay', async () => {
    const run = await upnpcRoundTrip(LAB.client)
    if (spec.tr064) {
      // miniupnpc knows only the UPnP forum's service types: a TR-064-only gateway is "a UPnP
      // device" to it, never an IGD. upnp-native must do better (next test).
      expect(run.validIgd, run.output).toBe(false)
    } else {
      expect(run, run.output).toMatchObject({ validIgd: true, added: true, listed: true, deleted: true, externalAddress: LAB.extIp })
    }
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

    // Godot's default description is "": the router must still get a description.
    try {
      expect(await gw.addPortMapping(40010, 0, '', 'UDP', 0), JSON.stringify(gw.lastError)).toBe(UPNPResult.SUCCESS)
      const held = await device.mappings()
      expect(held).toEqual([expect.objectContaining({ protocol: 'UDP', externalPort: 40010, internalClient: LAB.client })])
      expect(held[0]!.description).not.toBe('')
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

  it('CLI: status and doctor --json', async () => {
    const status = await cli(['status', '--json', '--protocol', 'upnp', '--timeout', '1'])
    expect(status.code).toBe(0)
    expect(status.json.gateway).toMatchObject({
      address: device.address,
      serviceType: spec.expect.serviceType,
      status: 'OK',
      externalAddress: LAB.extIp,
    })
    const doctor = await cli(['doctor', '--json', '--protocol', 'upnp', '--timeout', '1'])
    expect(doctor.json.verdict.code, JSON.stringify(doctor.json.checks)).toBe('ok')
    expect(await device.mappings()).toEqual([])
  })
})

// Behaviours real routers are known for, each on the replay that shows it (see README.md).
describe('known router behaviours', () => {
  const on = (id: string, body: (device: RunningDevice, gw: UPNPDevice) => Promise<void>) =>
    it(`${id}`, async () => {
      const device = await startDevice(devices.find((d) => d.id === id)!)
      try {
        await body(device, (await gatewayOf(device.spec)).gw)
      } finally {
        await device.stop()
      }
    })

  on('linksys-wrt120n', async (device, gw) => {
    // Header names exactly as miniupnpc writes them: this router routes a POST to its UPnP
    // handler only for SOAPAction/SOAPACTION (HTTP 501 otherwise).
    expect(await gw.addPortMapping(40030, 0, 'case', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
    expect(await gw.deletePortMapping(40030, 'UDP')).toBe(UPNPResult.SUCCESS)
    const names = (await device.requests()).map((r) => ({ method: r.method, names: r.headers.map((h) => h.slice(0, h.indexOf(':'))) }))
    expect(names.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(4)
    for (const r of names) {
      const expected = r.method === 'POST' ? ['Host', 'User-Agent', 'Connection', 'Content-Length', 'Content-Type', 'SOAPAction'] : ['Host', 'User-Agent', 'Connection']
      expect([...r.names].sort()).toEqual([...expected].sort())
    }
  })

  on('huawei-portable-sdk', async (device, gw) => {
    // linux-igd refuses an empty description (402): the library sends Godot's library default.
    expect(await gw.addPortMapping(40031, 0, '', 'TCP', 0)).toBe(UPNPResult.SUCCESS)
    expect((await device.mappings())[0]?.description).toBe('libminiupnpc')
    expect(await gw.deletePortMapping(40031, 'TCP')).toBe(UPNPResult.SUCCESS)
  })

  on('sagemcom-fast3890v3', async (_device, gw) => {
    expect(gw.server).toBe('') // "SERVER: " with nothing after it
  })

  on('mitrastar-dsl-2401hn', async (device, gw) => {
    // Headers without a space after the colon, and a description declared ISO-8859-1.
    expect(gw.friendlyName).toBe(device.spec.expect.friendlyName)
  })

  on('tplink-archer-c8', async (_device, gw) => {
    // LOCATION on TCP 1900; faults in SOAP-ENV: prefix.
    expect(gw.descriptionUrl).toBe('http://192.168.0.1:1900/igd.xml')
    expect(await gw.deletePortMapping(40999, 'UDP')).toBe(UPNPResult.NO_SUCH_ENTRY_IN_ARRAY)
    expect(gw.lastError).toMatchObject({ upnpCode: 714, description: 'NoSuchEntryInArray', httpStatus: 500 })
  })

  on('actiontec-gt784wn', async (_device, gw) => {
    // m: prefix in replies, HTTP/1.0 description without Content-Length, Keep-Alive SOAP heads.
    expect(await gw.addPortMapping(40032, 0, 'prefix', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
    expect(await gw.getPortMapping(40032, 'UDP')).toMatchObject({ internalPort: 40032, description: 'prefix' })
    expect(await gw.deletePortMapping(40032, 'UDP')).toBe(UPNPResult.SUCCESS)
    expect(await gw.deletePortMapping(40032, 'UDP')).toBe(UPNPResult.NO_SUCH_ENTRY_IN_ARRAY)
  })

  on('linksys-wrt1900ac', async (_device, gw) => {
    // 501 "PAL_UPNP_SOAP_E_ACTION_FAILED" for an entry that does not exist, instead of 714.
    expect(await gw.getPortMapping(40998, 'UDP')).toBeNull()
    expect(gw.lastError).toMatchObject({ result: UPNPResult.ACTION_FAILED, upnpCode: 501 })
  })
})
