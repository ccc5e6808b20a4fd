// What miniupnpd cannot produce, from the scriptable fake gateway on the lab LAN: every SOAP
// fault of Godot's table, HTTP errors, malformed/huge/slow replies, devices that are not
// (working) gateways, double NAT, two IGDs, late replies.
import { describe, expect, it } from 'vitest'
import { IGDStatus, UPNP, UPNPDevice, UPNPResult } from '../../../index.ts'
import { fakeDevice, useFakeGateway } from '../../lab/fake-fixture.ts'
import { type Device, LAB, routerCtl } from '../../lab/lab.ts'

const fake = useFakeGateway()

const IGD_V1 = 'urn:schemas-upnp-org:service:WANIPConnection:1'
const IGD_V2 = 'urn:schemas-upnp-org:service:WANIPConnection:2'
const PPP_V1 = 'urn:schemas-upnp-org:service:WANPPPConnection:1'

/** Discovers with the fake as the only answering device (miniupnpd is filtered out by
 *  the description URL), returning the fake's devices in reply order. */
async function discoverFake(timeout = 1500): Promise<{ upnp: UPNP; result: UPNPResult; devices: UPNPDevice[] }> {
  const upnp = new UPNP()
  upnp.requestTimeout = 1000
  // Never untilGateway here: it resolves at the first confirmed gateway, and miniupnpd (the
  // default route's gateway) is confirmed first, often before the fake is described.
  const result = await upnp.discover({ timeout, deviceFilter: '' })
  const devices: UPNPDevice[] = []
  for (let i = 0; i < upnp.getDeviceCount(); i++) {
    const d = upnp.getDevice(i)
    if (d && !d.descriptionUrl.startsWith(`http://${LAB.routerLan}:`)) devices.push(d)
  }
  // Keep only the fake's devices in the object, in order, so getGateway() sees them alone.
  upnp.clearDevices()
  devices.forEach((d) => upnp.addDevice(d))
  return { upnp, result, devices }
}

/** A hand-built device pointing at the fake's control URL (no discovery needed). */
function handBuilt(serviceType = IGD_V2, ip: string = LAB.fakeA, port = 6001): UPNPDevice {
  const d = new UPNPDevice()
  d.igdStatus = IGDStatus.OK
  d.igdServiceType = serviceType
  const path = serviceType === PPP_V1 ? 'PPPConn' : 'IPConn'
  d.igdControlUrl = `http://${ip}:${port}/ctl/${path}`
  d.igdOurAddr = LAB.client
  d.requestTimeout = 1500
  return d
}

describe("Godot's SOAP fault table, row by row", () => {
  const rows: Array<[number, UPNPResult]> = [
    [402, UPNPResult.INVALID_ARGS],
    [403, UPNPResult.NOT_AUTHORIZED],
    [501, UPNPResult.ACTION_FAILED],
    [606, UPNPResult.NOT_AUTHORIZED],
    [714, UPNPResult.NO_SUCH_ENTRY_IN_ARRAY],
    [715, UPNPResult.SRC_IP_WILDCARD_NOT_PERMITTED],
    [716, UPNPResult.EXT_PORT_WILDCARD_NOT_PERMITTED],
    [718, UPNPResult.CONFLICT_WITH_OTHER_MAPPING],
    [724, UPNPResult.SAME_PORT_VALUES_REQUIRED],
    [725, UPNPResult.ONLY_PERMANENT_LEASE_SUPPORTED],
    [726, UPNPResult.REMOTE_HOST_MUST_BE_WILDCARD],
    [727, UPNPResult.EXT_PORT_MUST_BE_WILDCARD],
    [728, UPNPResult.NO_PORT_MAPS_AVAILABLE],
    [729, UPNPResult.CONFLICT_WITH_OTHER_MECHANISM],
    [732, UPNPResult.INT_PORT_WILDCARD_NOT_PERMITTED],
    [733, UPNPResult.INCONSISTENT_PARAMETERS],
    [401, UPNPResult.UNKNOWN_ERROR],
    [500, UPNPResult.UNKNOWN_ERROR],
    [600, UPNPResult.UNKNOWN_ERROR],
    [605, UPNPResult.UNKNOWN_ERROR],
    [713, UPNPResult.UNKNOWN_ERROR],
    [730, UPNPResult.UNKNOWN_ERROR],
    [731, UPNPResult.UNKNOWN_ERROR],
  ]

  it.each(rows)('AddPortMapping fault %i -> %s, raw code and description kept', async (code, expected) => {
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { fault: { code, description: `Fault${code}` } } } })] })
    const d = handBuilt()
    expect(await d.addPortMapping(7777, 0, 'x', 'UDP', 0)).toBe(expected)
    expect(d.lastError).toEqual({ result: expected, upnpCode: code, description: `Fault${code}`, httpStatus: 500 })
  })

  it('DeletePortMapping faults map the same way', async () => {
    await fake.setScenario({
      devices: [fakeDevice({ soap: { DeletePortMapping: { fault: { code: 714, description: 'NoSuchEntryInArray' } } } })],
    })
    const d = handBuilt()
    expect(await d.deletePortMapping(7777, 'TCP')).toBe(UPNPResult.NO_SUCH_ENTRY_IN_ARRAY)
    expect(d.lastError?.upnpCode).toBe(714)
  })
})

describe('broken replies never crash or hang', () => {
  it('HTTP 404 and 500 without a body are HTTP_ERROR with the status', async () => {
    for (const status of [404, 500]) {
      await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { status, body: '' } } })] })
      const d = handBuilt()
      expect(await d.addPortMapping(7777), String(status)).toBe(UPNPResult.HTTP_ERROR)
      expect(d.lastError?.httpStatus).toBe(status)
    }
  })

  it('200 with an empty body is HTTP_ERROR; 200 with garbage is INVALID_RESPONSE', async () => {
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { status: 200, body: '' } } })] })
    expect(await handBuilt().addPortMapping(7777)).toBe(UPNPResult.HTTP_ERROR)
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { status: 200, body: '<html><b>Router</b> says hi' } } })] })
    expect(await handBuilt().addPortMapping(7777)).toBe(UPNPResult.INVALID_RESPONSE)
    await fake.setScenario({
      devices: [
        fakeDevice({
          soap: {
            AddPortMapping: {
              status: 200,
              body: '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:WrongResponse xmlns:u="x"/></s:Body></s:Envelope>',
            },
          },
        }),
      ],
    })
    expect(await handBuilt().addPortMapping(7777)).toBe(UPNPResult.INVALID_RESPONSE)
  })

  it('a fault without an errorCode is UNKNOWN_ERROR with the faultstring', async () => {
    const body =
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>Busy</faultstring></s:Fault></s:Body></s:Envelope>'
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { status: 500, body } } })] })
    const d = handBuilt()
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.UNKNOWN_ERROR)
    expect(d.lastError?.description).toContain('Busy')
  })

  it('a huge reply is cut at the cap: INVALID_RESPONSE, not a memory blow-up', async () => {
    await fake.setScenario({
      devices: [fakeDevice({ soap: { GetExternalIPAddress: { status: 200, body: `<x>${'A'.repeat(2_000_000)}</x>` } } })],
    })
    const d = handBuilt()
    expect(await d.queryExternalAddress()).toBe('')
    expect(d.lastError?.result).toBe(UPNPResult.INVALID_RESPONSE)
    expect(d.lastError?.description).toMatch(/larger than/)
  })

  it('a router that never answers SOAP: the call ends at requestTimeout, the event loop stays free', async () => {
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { neverAnswer: true } } })] })
    const d = handBuilt()
    d.requestTimeout = 700
    let ticks = 0
    const timer = setInterval(() => {
      ticks += 1
    }, 1)
    const started = performance.now()
    const result = await d.addPortMapping(7777)
    const elapsed = performance.now() - started
    clearInterval(timer)
    expect(result).toBe(UPNPResult.HTTP_ERROR)
    expect(d.lastError?.description).toMatch(/deadline/)
    expect(elapsed).toBeGreaterThanOrEqual(650)
    expect(elapsed).toBeLessThan(5000)
    expect(ticks).toBeGreaterThan(100)
  })

  it('a slow but answering router succeeds within the timeout', async () => {
    await fake.setScenario({ devices: [fakeDevice({ soap: { AddPortMapping: { delayMs: 300 } } })] })
    expect(await handBuilt().addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
  })
})

describe('what the router receives', () => {
  it.each([
    ['igd-v1' as const, IGD_V1],
    ['igd-v2' as const, IGD_V2],
    ['igd-ppp' as const, PPP_V1],
  ])('%s: SOAPAction and envelope carry the announced service type %s', async (kind, serviceType) => {
    await fake.setScenario({ devices: [fakeDevice({ description: { kind } })] })
    const { devices } = await discoverFake(1500)
    const gw = devices[0]
    expect(gw?.igdStatus).toBe(IGDStatus.OK)
    expect(gw?.igdServiceType).toBe(serviceType)
    expect(await gw?.addPortMapping(7777, 7000, 'a&b <c>', 'TCP', 3600)).toBe(UPNPResult.SUCCESS)
    const add = (await fake.requests()).find((r) => r.action === 'AddPortMapping')
    expect(add?.headers['soapaction']).toBe(`"${serviceType}#AddPortMapping"`)
    expect(add?.headers['content-type']).toBe('text/xml; charset="utf-8"')
    expect(add?.body).toContain(`<u:AddPortMapping xmlns:u="${serviceType}">`)
    expect(add?.body).toContain(
      '<NewRemoteHost></NewRemoteHost><NewExternalPort>7777</NewExternalPort><NewProtocol>TCP</NewProtocol><NewInternalPort>7000</NewInternalPort>',
    )
    expect(add?.body).toContain(`<NewInternalClient>${LAB.client}</NewInternalClient><NewEnabled>1</NewEnabled>`)
    expect(add?.body).toContain(
      '<NewPortMappingDescription>a&amp;b &lt;c&gt;</NewPortMappingDescription><NewLeaseDuration>3600</NewLeaseDuration>',
    )
    const mapped = (await fake.mappings())['a']
    expect(mapped?.[0]).toMatchObject({ externalPort: 7777, internalPort: 7000, description: 'a&b <c>', protocol: 'TCP' })
  })

  it('an empty description is sent as "upnp-native" (Godot\'s miniupnpc sends "libminiupnpc")', async () => {
    await fake.setScenario({ devices: [fakeDevice()] })
    expect(await handBuilt().addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(await handBuilt().addPortMapping(7778, 0, ' ')).toBe(UPNPResult.SUCCESS)
    const mapped = (await fake.mappings())['a'] ?? []
    expect(mapped.map((m) => [m.externalPort, m.description])).toEqual([
      [7777, 'upnp-native'],
      [7778, ' '],
    ])
  })

  it('the M-SEARCH burst asks for IGD:1/:2, every connection service, TR-064 and root devices at once', async () => {
    await fake.setScenario({ devices: [fakeDevice()] })
    await discoverFake(400)
    const searches = (await fake.requests()).filter((r) => r.kind === 'ssdp')
    const targets = new Set(searches.map((r) => r.headers['st']))
    expect(targets).toEqual(
      new Set([
        'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
        'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
        IGD_V1,
        IGD_V2,
        PPP_V1,
        'urn:dslforum-org:device:InternetGatewayDevice:1',
        'upnp:rootdevice',
      ]),
    )
    const first = searches[0]
    expect(first?.headers['man']).toBe('"ssdp:discover"')
    expect(first?.headers['host']).toBe('239.255.255.250:1900')
    expect(Number(first?.headers['mx'])).toBeGreaterThanOrEqual(1)
    // One burst plus one retransmission.
    expect(searches.length).toBe(14)
  })

  it("a filter naming no gateway type sends only ssdp:all (Godot's upnpDiscoverAll)", async () => {
    await fake.setScenario({ devices: [fakeDevice()] })
    const upnp = new UPNP()
    expect(await upnp.discover(1000, 2, 'WANCommonInterfaceConfig')).toBe(UPNPResult.SUCCESS)
    const targets = new Set((await fake.requests()).filter((r) => r.kind === 'ssdp').map((r) => r.headers['st']))
    expect(targets).toEqual(new Set(['ssdp:all']))
    // The fake answered once per type it has; the filter kept its WANCommonInterfaceConfig reply.
    const found = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)).find((d) =>
      d?.descriptionUrl.includes(LAB.fakeA),
    )
    expect(found?.serviceType).toBe('urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1')
  })
})

describe('classification of what answers', () => {
  it('description 404 -> HTTP_ERROR, empty -> HTTP_EMPTY, not XML -> NO_IGD', async () => {
    const cases: Array<[Device['description'], IGDStatus]> = [
      [{ status: 404 }, IGDStatus.HTTP_ERROR],
      [{ empty: true }, IGDStatus.HTTP_EMPTY],
      [{ body: 'this is not xml' }, IGDStatus.NO_IGD],
      [{ hugeBytes: 1_000_000 }, IGDStatus.HTTP_ERROR],
    ]
    for (const [description, status] of cases) {
      await fake.setScenario({ devices: [fakeDevice({ description })] })
      const { devices, result } = await discoverFake(800)
      expect(result).toBe(UPNPResult.SUCCESS)
      expect(devices, JSON.stringify(description)).toHaveLength(1)
      expect(devices[0]?.igdStatus, JSON.stringify(description)).toBe(status)
      expect(devices[0]?.isValidGateway()).toBe(false)
    }
  })

  it('a UPnP device that is not a gateway -> UNKNOWN_DEVICE; an IGD without control -> INVALID_CONTROL', async () => {
    await fake.setScenario({
      devices: [
        fakeDevice({ description: { kind: 'non-igd' }, ssdp: { respondTo: ['urn:schemas-upnp-org:device:InternetGatewayDevice:1'] } }),
      ],
    })
    let found = await discoverFake(800)
    expect(found.devices[0]?.igdStatus).toBe(IGDStatus.UNKNOWN_DEVICE)
    await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'igd-no-control' } })] })
    found = await discoverFake(800)
    expect(found.devices[0]?.igdStatus).toBe(IGDStatus.INVALID_CONTROL)
    expect(found.upnp.getGateway()).toBeNull()
    expect(await found.upnp.addPortMapping(7777)).toBe(UPNPResult.NO_GATEWAY)
  })

  it('a disconnected IGD is DISCONNECTED and not a gateway', async () => {
    await fake.setScenario({ devices: [fakeDevice({ connectionStatus: 'Disconnected' })] })
    const { devices, upnp } = await discoverFake(800)
    expect(devices[0]?.igdStatus).toBe(IGDStatus.DISCONNECTED)
    expect(devices[0]?.igdControlUrl).toBe(`http://${LAB.fakeA}:6001/ctl/IPConn`)
    expect(upnp.getGateway()).toBeNull()
  })

  it('an IGD whose GetStatusInfo fails -> INVALID_CONTROL with the fault kept', async () => {
    await fake.setScenario({ devices: [fakeDevice({ soap: { GetStatusInfo: { fault: { code: 501, description: 'ActionFailed' } } } })] })
    const { devices } = await discoverFake(800)
    expect(devices[0]?.igdStatus).toBe(IGDStatus.INVALID_CONTROL)
    expect(devices[0]?.lastError).toMatchObject({ upnpCode: 501 })
  })

  it('double NAT: connected with a private external address is OK, usable, and says so', async () => {
    await fake.setScenario({ devices: [fakeDevice({ externalIp: '10.0.0.2' })] })
    const { devices, upnp } = await discoverFake(800)
    const gw = devices[0]
    expect(gw?.igdStatus).toBe(IGDStatus.OK)
    expect(gw?.doubleNat).toBe(true)
    expect(gw?.externalAddress).toBe('10.0.0.2')
    expect(upnp.getGateway()).toBe(gw)
    expect(await upnp.queryExternalAddress()).toBe('10.0.0.2')
    expect(await upnp.addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    for (const cgnat of ['100.64.1.2']) {
      await fake.setScenario({ devices: [fakeDevice({ externalIp: cgnat })] })
      expect((await discoverFake(800)).devices[0]?.doubleNat).toBe(true)
    }
  })

  it('a public external address is not double NAT', async () => {
    await fake.setScenario({ devices: [fakeDevice()] })
    const { devices } = await discoverFake(800)
    expect(devices[0]?.doubleNat).toBe(false)
    expect(devices[0]?.externalAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  })

  it('an IGD that reports no external address is DISCONNECTED', async () => {
    await fake.setScenario({ devices: [fakeDevice({ externalIp: '' })] })
    expect((await discoverFake(800)).devices[0]?.igdStatus).toBe(IGDStatus.DISCONNECTED)
  })
})

describe('several devices and timing', () => {
  it('two IGDs: each describes itself, the first to answer is the gateway', async () => {
    await fake.setScenario({
      devices: [
        fakeDevice({ id: 'late', ip: LAB.fakeA, port: 6001, description: { kind: 'igd-v1' }, ssdp: { delayMs: 150 } }),
        fakeDevice({ id: 'early', ip: LAB.fakeB, port: 6002, description: { kind: 'igd-ppp' } }),
      ],
    })
    const { devices, upnp } = await discoverFake(1200)
    expect(devices).toHaveLength(2)
    const [first, second] = devices
    expect(first?.descriptionUrl).toContain(LAB.fakeB)
    expect(first?.igdServiceType).toBe(PPP_V1)
    expect(first?.igdControlUrl).toContain(`${LAB.fakeB}:6002`)
    expect(second?.igdServiceType).toBe(IGD_V1)
    expect(second?.igdControlUrl).toContain(`${LAB.fakeA}:6001`)
    expect(upnp.getGateway()).toBe(first)
    // Mapping goes to the gateway's own control URL, not the other device's.
    expect(await upnp.addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    const mappings = await fake.mappings()
    expect(mappings['early']).toHaveLength(1)
    expect(mappings['late'] ?? []).toHaveLength(0)
  })

  it("the default route's gateway comes first, even when another IGD answers sooner", async () => {
    await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'igd-v1' } })] })
    const upnp = new UPNP()
    expect(await upnp.discover(1000)).toBe(UPNPResult.SUCCESS)
    const requests = await fake.requests()
    expect(requests.some((r) => r.kind === 'ssdp' && (r.answeredBy ?? []).includes('a'))).toBe(true)
    expect([upnp.getDevice(0)?.descriptionUrl, upnp.getDevice(1)?.descriptionUrl]).toEqual([
      LAB.routerDescUrl,
      `http://${LAB.fakeA}:6001/rootDesc.xml`,
    ])
    expect(upnp.getGateway()?.igdControlUrl).toBe(LAB.routerControlUrl)
  })

  it('only a media server on the LAN: SUCCESS with no device; filter "" lists it (upnp:rootdevice)', async () => {
    await routerCtl('stop') // no gateway may answer
    try {
      await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'non-igd' } })] })
      const upnp = new UPNP()
      expect(await upnp.discover(1000)).toBe(UPNPResult.SUCCESS)
      expect(upnp.getDeviceCount()).toBe(0)
      expect(await upnp.discover(1000, 2, '')).toBe(UPNPResult.SUCCESS)
      expect(upnp.getDeviceCount()).toBe(1)
      expect(upnp.getDevice(0)?.serviceType).toBe('upnp:rootdevice')
      expect(upnp.getDevice(0)?.igdStatus).toBe(IGDStatus.UNKNOWN_DEVICE)
    } finally {
      await routerCtl('start')
    }
  })

  it('a reply after the timeout is not counted: NO_DEVICES, and the list never grows later', async () => {
    await routerCtl('stop') // the fake must be the only device on the LAN
    try {
      await fake.setScenario({ devices: [fakeDevice({ ssdp: { delayMs: 1300 } })] })
      const upnp = new UPNP()
      expect(await upnp.discover(1000)).toBe(UPNPResult.NO_DEVICES)
      expect(upnp.getDeviceCount()).toBe(0)
      await new Promise((r) => setTimeout(r, 900))
      expect(upnp.getDeviceCount()).toBe(0)
      // The fake did answer, just too late.
      expect((await fake.requests()).some((r) => r.kind === 'ssdp' && (r.answeredBy ?? []).includes('a'))).toBe(true)
    } finally {
      await routerCtl('start')
    }
  })

  it('a LOCATION on another host than the responder is ignored', async () => {
    await fake.setScenario({
      devices: [
        fakeDevice({
          ssdp: {
            location: `http://${LAB.fakeB}:6001/rootDesc.xml`,
            st: 'urn:fake:device:Liar:1',
            // A filter naming no gateway type searches ssdp:all (as Godot).
            respondTo: ['ssdp:all'],
          },
        }),
      ],
    })
    const upnp = new UPNP()
    expect(await upnp.discover(600, 2, 'Liar')).toBe(UPNPResult.SUCCESS)
    expect(upnp.getDeviceCount()).toBe(0)
    expect((await fake.requests()).some((r) => r.kind === 'http')).toBe(false)
  })

  it('a description slower than the window leaves the device unclassified (UNKNOWN_ERROR)', async () => {
    await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'igd-v2', delayMs: 1500 } })] })
    const started = performance.now()
    const { devices } = await discoverFake(500)
    expect(performance.now() - started).toBeLessThan(1400)
    expect(devices[0]?.igdStatus).toBe(IGDStatus.UNKNOWN_ERROR)
  })

  it('a device still being described at the deadline says why in lastError, as HTTP failures do (issue 24)', async () => {
    await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'igd-v2', delayMs: 1500 } })] })
    const slowDescription = (await discoverFake(500)).devices[0]
    expect(slowDescription?.igdStatus).toBe(IGDStatus.UNKNOWN_ERROR)
    expect(slowDescription?.lastError).toEqual({
      result: UPNPResult.HTTP_ERROR,
      description: "description: no complete reply before discovery's deadline (1000 ms)",
    })
    await fake.setScenario({ devices: [fakeDevice({ soap: { GetStatusInfo: { neverAnswer: true } } })] })
    const silentService = (await discoverFake(500)).devices[0]
    expect(silentService?.igdStatus).toBe(IGDStatus.UNKNOWN_ERROR)
    expect(silentService?.lastError).toEqual({
      result: UPNPResult.HTTP_ERROR,
      description:
        "discovery's deadline (1000 ms) passed while its connection service was being asked (GetStatusInfo, GetExternalIPAddress)",
    })
  })
})
