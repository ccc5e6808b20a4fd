// A gateway opened from its description URL, without a search (UPNP.deviceFromUrl,
// upnp.addDeviceFromUrl, PortMapper's `gateway: url`): against miniupnpd, it is the device
// discovery finds; against the fake gateway, every case is classified exactly as discovery
// classifies it; refused URLs send nothing; no M-SEARCH ever goes out (the fake gateway on the
// same LAN would see it).
import net from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { IGDStatus, PortMapper, UPNP, UPNPDevice, UPNPError, UPNPResult } from '../../../index.ts'
import { fakeDevice, useFakeGateway } from '../../lab/fake-fixture.ts'
import { type Device, LAB, upnpcDelete, upnpcList } from '../../lab/lab.ts'

const fake = useFakeGateway()
const PORT = { godot: 47601, mapper: 47602 }

afterAll(async () => {
  for (const externalPort of Object.values(PORT)) await upnpcDelete({ externalPort, protocol: 'UDP' })
})

/** What must be equal between a discovered device and one opened from its URL. */
function classification(d: UPNPDevice | undefined) {
  return d
    ? {
        descriptionUrl: d.descriptionUrl,
        igdStatus: IGDStatus[d.igdStatus],
        igdControlUrl: d.igdControlUrl,
        igdServiceType: d.igdServiceType,
        igdOurAddr: d.igdOurAddr,
        externalAddress: d.externalAddress,
        doubleNat: d.doubleNat,
        friendlyName: d.friendlyName,
        manufacturer: d.manufacturer,
        modelName: d.modelName,
        error: d.lastError?.result ?? null,
      }
    : null
}

async function searches(): Promise<number> {
  return (await fake.requests()).filter((r) => r.kind === 'ssdp').length
}

describe('miniupnpd opened from its description URL', () => {
  it('is the device discovery finds, and no M-SEARCH is sent', async () => {
    await fake.setScenario({ devices: [fakeDevice({ id: 'listener' })] })
    const opened = await UPNP.deviceFromUrl(LAB.routerDescUrl)
    expect(await searches()).toBe(0)

    const upnp = new UPNP()
    expect(await upnp.discover({ timeout: 1500 })).toBe(UPNPResult.SUCCESS)
    let discovered: UPNPDevice | undefined
    for (let i = 0; i < upnp.getDeviceCount(); i++)
      if (upnp.getDevice(i)?.descriptionUrl === LAB.routerDescUrl) discovered = upnp.getDevice(i)!
    expect(await searches(), 'the fake hears a search when there is one').toBeGreaterThan(0)
    expect(discovered?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(classification(opened)).toEqual(classification(discovered))
    expect(opened.igdStatus).toBe(IGDStatus.OK)
    expect(opened.igdControlUrl).toBe(LAB.routerControlUrl)
    expect(opened.externalAddress).toBe(LAB.extIp)
    // No search reply: the device type stands in for the ST; SERVER and BOOTID are unknown.
    expect(opened.serviceType).toBe('urn:schemas-upnp-org:device:InternetGatewayDevice:2')
    expect(opened.server).toBe('')
    expect(opened.bootId).toBeNull()
  })

  it('addDeviceFromUrl: SUCCESS adds it, and the Godot calls then work on it', async () => {
    const upnp = new UPNP()
    expect(await upnp.addDeviceFromUrl(LAB.routerDescUrl)).toBe(UPNPResult.SUCCESS)
    expect(upnp.lastError).toBeNull()
    expect(upnp.getDeviceCount()).toBe(1)
    expect(await upnp.queryExternalAddress()).toBe(LAB.extIp)
    expect(await upnp.addPortMapping(PORT.godot, 0, 'from url', 'UDP', 600)).toBe(UPNPResult.SUCCESS)
    expect((await upnpcList()).find((m) => m.externalPort === PORT.godot)).toMatchObject({
      internalClient: LAB.client,
      description: 'from url',
    })
    expect(await upnp.deletePortMapping(PORT.godot, 'UDP')).toBe(UPNPResult.SUCCESS)
    expect((await upnpcList()).find((m) => m.externalPort === PORT.godot)).toBeUndefined()
  })

  it('addDeviceFromUrl on a port nothing serves: HTTP_ERROR, the list unchanged', async () => {
    const upnp = new UPNP()
    expect(await upnp.addDeviceFromUrl(LAB.routerDescUrl)).toBe(UPNPResult.SUCCESS)
    expect(await upnp.addDeviceFromUrl(`http://${LAB.routerLan}:5999/rootDesc.xml`)).toBe(UPNPResult.HTTP_ERROR)
    expect(upnp.lastError?.description).toMatch(/connect/)
    expect(upnp.getDeviceCount()).toBe(1)
    const device = await UPNP.deviceFromUrl(`http://${LAB.routerLan}:5999/rootDesc.xml`)
    expect(device.igdStatus).toBe(IGDStatus.HTTP_ERROR)
    expect(device.isValidGateway()).toBe(false)
  })
})

describe('refused URLs: INVALID_PARAM, nothing sent', () => {
  it.each([
    ['https', 'https://192.168.77.1:5000/rootDesc.xml', /not an http/],
    ['a host name', 'http://router.lan:5000/rootDesc.xml', /IP address/],
    ['multicast', 'http://239.255.255.250:1900/rootDesc.xml', /multicast/],
    ['unspecified', 'http://0.0.0.0:5000/rootDesc.xml', /unspecified/],
    ['broadcast', 'http://255.255.255.255:5000/rootDesc.xml', /broadcast/],
    ['IPv6 loopback', 'http://[::1]:5000/rootDesc.xml', /loopback/],
    ['a header smuggled in', 'http://192.168.77.1:5000/rootDesc.xml\r\nX: y', /control characters/],
    ['over 2048 bytes', `http://192.168.77.1:5000/${'a'.repeat(3000)}`, /bytes long/],
  ])('%s', async (_name, url, why) => {
    const error = await UPNP.deviceFromUrl(url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UPNPError)
    expect((error as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
    expect((error as UPNPError).description).toMatch(why)
    // The message never carries the 3000 bytes back.
    expect((error as UPNPError).message.length).toBeLessThan(400)
    const upnp = new UPNP()
    expect(await upnp.addDeviceFromUrl(url)).toBe(UPNPResult.INVALID_PARAM)
    expect(upnp.lastError?.result).toBe(UPNPResult.INVALID_PARAM)
    expect(upnp.getDeviceCount()).toBe(0)
  })

  it('loopback: a server listening there gets no connection', async () => {
    let connections = 0
    const server = net.createServer((s) => {
      connections++
      s.destroy()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as net.AddressInfo
    try {
      const error = await UPNP.deviceFromUrl(`http://127.0.0.1:${port}/rootDesc.xml`).catch((e: unknown) => e)
      expect((error as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
      expect((error as UPNPError).description).toMatch(/loopback/)
      expect(connections).toBe(0)
    } finally {
      server.close()
    }
  })

  it('not a string, or a bad requestTimeout: INVALID_PARAM', async () => {
    const notString = await UPNP.deviceFromUrl(42 as unknown as string).catch((e: unknown) => e)
    expect((notString as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
    const badTimeout = await UPNP.deviceFromUrl(LAB.routerDescUrl, { requestTimeout: -1 }).catch((e: unknown) => e)
    expect((badTimeout as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
  })
})

describe('classified exactly as discovery classifies it (fake gateway)', () => {
  const cases: Array<[string, Partial<Device>, IGDStatus]> = [
    ['a working IGD:2', {}, IGDStatus.OK],
    ['a PPP IGD:1', { description: { kind: 'igd-ppp' } }, IGDStatus.OK],
    ['double NAT', { externalIp: '10.0.0.2' }, IGDStatus.OK],
    ['description 404', { description: { status: 404 } }, IGDStatus.HTTP_ERROR],
    ['empty description', { description: { empty: true } }, IGDStatus.HTTP_EMPTY],
    ['not XML', { description: { body: 'this is not xml' } }, IGDStatus.NO_IGD],
    ['a description over the size cap', { description: { hugeBytes: 1_000_000 } }, IGDStatus.HTTP_ERROR],
    ['not a gateway', { description: { kind: 'non-igd' } }, IGDStatus.UNKNOWN_DEVICE],
    ['an IGD without a connection service', { description: { kind: 'igd-no-control' } }, IGDStatus.INVALID_CONTROL],
    ['a control URL on another host', { description: { controlURL: 'http://192.168.77.1:5000/ctl/IPConn' } }, IGDStatus.INVALID_CONTROL],
    ['disconnected', { connectionStatus: 'Disconnected' }, IGDStatus.DISCONNECTED],
    ['GetStatusInfo fails', { soap: { GetStatusInfo: { fault: { code: 501, description: 'ActionFailed' } } } }, IGDStatus.INVALID_CONTROL],
  ]
  it.each(cases)('%s', async (_name, overrides, status) => {
    const scenario = await fake.setScenario({
      devices: [fakeDevice({ ssdp: { respondTo: ['urn:schemas-upnp-org:device:InternetGatewayDevice:1'] }, ...overrides })],
    })
    const url = scenario.devices[0]!.location
    const opened = await UPNP.deviceFromUrl(url, { requestTimeout: 1000 })
    const upnp = new UPNP()
    upnp.requestTimeout = 1000
    await upnp.discover({ timeout: 1500, deviceFilter: '' })
    let discovered: UPNPDevice | undefined
    for (let i = 0; i < upnp.getDeviceCount(); i++) if (upnp.getDevice(i)?.descriptionUrl === url) discovered = upnp.getDevice(i)!
    expect(discovered, 'discovery found the fake').toBeDefined()
    expect(opened.igdStatus).toBe(status)
    expect(classification(opened)).toEqual(classification(discovered))
  })

  it('a description that never comes: bounded by requestTimeout', async () => {
    const scenario = await fake.setScenario({ devices: [fakeDevice({ description: { delayMs: 20_000 } })] })
    const started = performance.now()
    const device = await UPNP.deviceFromUrl(scenario.devices[0]!.location, { requestTimeout: 300 })
    expect(device.igdStatus).toBe(IGDStatus.HTTP_ERROR)
    // Functional bound, far from the 20 s the fake would wait.
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('an AbortSignal stops the wait with its reason', async () => {
    const scenario = await fake.setScenario({ devices: [fakeDevice({ description: { delayMs: 20_000 } })] })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('user gave up')), 100)
    await expect(UPNP.deviceFromUrl(scenario.devices[0]!.location, { requestTimeout: 2000, signal: controller.signal })).rejects.toThrow(
      'user gave up',
    )
  })
})

describe('PortMapper with gateway: <description URL>', () => {
  it('maps on that gateway without a search, and close() deletes it', async () => {
    await fake.setScenario({ devices: [fakeDevice({ id: 'listener' })] })
    const mapper = new PortMapper({ gateway: LAB.routerDescUrl, cleanupOnExit: false, watchAnnouncements: false })
    try {
      const m = await mapper.map({ internalPort: PORT.mapper, protocol: 'UDP', description: 'mapper from url', lease: 600 })
      expect(m.via).toBe('upnp')
      expect(m.externalPort).toBe(PORT.mapper)
      expect(m.externalAddress).toBe(LAB.extIp)
      expect(mapper.gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
      expect((await upnpcList()).find((x) => x.externalPort === PORT.mapper)?.description).toBe('mapper from url')
      expect(await searches()).toBe(0)
    } finally {
      await mapper.close()
    }
    expect((await upnpcList()).find((x) => x.externalPort === PORT.mapper)).toBeUndefined()
  })

  it('a URL nothing answers on: map() rejects with HTTP_ERROR, a refused URL with INVALID_PARAM', async () => {
    const down = new PortMapper({ gateway: `http://${LAB.routerLan}:5999/rootDesc.xml`, cleanupOnExit: false })
    const e1 = await down.map({ internalPort: PORT.mapper }).catch((e: unknown) => e)
    expect(e1).toBeInstanceOf(UPNPError)
    expect((e1 as UPNPError).result).toBe(UPNPResult.HTTP_ERROR)
    const refused = new PortMapper({ gateway: 'http://127.0.0.1:5000/rootDesc.xml', cleanupOnExit: false })
    const e2 = await refused.map({ internalPort: PORT.mapper }).catch((e: unknown) => e)
    expect((e2 as UPNPError).result).toBe(UPNPResult.INVALID_PARAM)
    await Promise.all([down.close(), refused.close()])
  })
})
