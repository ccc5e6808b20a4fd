// AbortSignals, disposal and refused field values on the Godot surface and PortMapper, against
// a loopback stand-in for the router's connection service (__test__/helpers/soap-stub.ts): an
// aborted call settles at once with the signal's reason, and what the router did meanwhile is
// undone (an add) or finished (a delete), as a timed-out request is (crate/src/upnp/leftovers.rs).
// The same against miniupnpd, over the lab's slow cable: __test__/lib/godot/signals.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { PortMapper, UPNP, UPNPResult, type UPNPDevice } from '../../index.ts'
import { type SoapStub, startSoapStub } from '../helpers/soap-stub.ts'

let stub: SoapStub
beforeAll(async () => {
  stub = await startSoapStub()
})
afterAll(() => stub.close())
afterEach(() => {
  stub.requests.length = 0
  stub.mappings.clear()
  vi.restoreAllMocks()
})

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const actions = () => stub.requests.map((r) => r.action)

describe('a signal that aborts while the router works', () => {
  it('addPortMapping settles at once with the reason, and the mapping the router made is deleted again', async () => {
    const device = stub.device()
    // Far beyond this test: only the abort, not a timeout, can start the cleanup in time.
    device.requestTimeout = 60_000
    const release = stub.hold('AddPortMapping')
    const controller = new AbortController()
    const adding = device.addPortMapping(40001, 0, 'abort me', 'UDP', 0, { signal: controller.signal })
    await until('the add reached the router', () => stub.mappings.has('UDP 40001'))
    const reason = new Error('player left the menu')
    controller.abort(reason)
    // Rejected while the router still holds its reply back: nothing waited for it.
    await expect(adding).rejects.toBe(reason)
    expect(device.lastError).toBeNull()
    await until('the add was undone', () => actions().includes('DeletePortMapping') && !stub.mappings.has('UDP 40001'))
    release()
  })

  it('deletePortMapping settles at once, and the delete is carried out all the same', async () => {
    const device = stub.device()
    expect(await device.addPortMapping(40002, 0, 'x', 'TCP', 0)).toBe(UPNPResult.SUCCESS)
    const release = stub.hold('DeletePortMapping')
    const controller = new AbortController()
    const deleting = device.deletePortMapping(40002, 'TCP', { signal: controller.signal })
    await until('the delete reached the router', () => actions().includes('DeletePortMapping'))
    controller.abort()
    await expect(deleting).rejects.toMatchObject({ name: 'AbortError' })
    release()
    expect(stub.mappings.has('TCP 40002')).toBe(false)
  })

  it('addPinhole settles at once with the reason, and the pinhole the router opened is closed again', async () => {
    const device = stub.device()
    const release = stub.hold('AddPinhole')
    const controller = new AbortController()
    const adding = device.addPinhole(40005, 'UDP', 3600, '', 0, 'fd77::10', { signal: controller.signal })
    await until('the add reached the router', () => actions().includes('AddPinhole'))
    controller.abort()
    await expect(adding).rejects.toMatchObject({ name: 'AbortError' })
    expect(actions()).not.toContain('DeletePinhole')
    // The router answers late with the pinhole it opened (the stub's id 7): that one is closed.
    release()
    await until('the pinhole was closed', () => actions().includes('DeletePinhole'))
    expect(stub.requests.find((r) => r.action === 'DeletePinhole')?.body).toMatch(/<UniqueID>7<\/UniqueID>/)
  })

  it('PortMapper.map() aborted after the router made the mapping (while asking its address) deletes it', async () => {
    const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
    const release = stub.hold('GetExternalIPAddress')
    const controller = new AbortController()
    const mapping = mapper.map({ internalPort: 40010, protocol: 'UDP', signal: controller.signal })
    await until('the add was made and the address asked', () => actions().includes('GetExternalIPAddress'))
    expect(stub.mappings.has('UDP 40010')).toBe(true)
    controller.abort()
    await expect(mapping).rejects.toMatchObject({ name: 'AbortError' })
    expect(stub.mappings.has('UDP 40010')).toBe(false)
    expect(mapper.mappings).toEqual([])
    release()
    await mapper.close()
  })

  it('an already aborted signal sends nothing, on every method that goes to the network', async () => {
    // A stub of its own: the add undone in the first test is checked again a request timeout later.
    const own = await startSoapStub()
    const device = own.device()
    const upnp = new UPNP()
    upnp.addDevice(device)
    const reason = new Error('already gone')
    const signal = AbortSignal.abort(reason)
    const calls: Array<Promise<unknown>> = [
      device.queryExternalAddress({ signal }),
      device.addPortMapping(40003, 0, '', 'UDP', 0, { signal }),
      device.deletePortMapping(40003, 'UDP', { signal }),
      device.getPortMapping(40003, 'UDP', { signal }),
      device.listPortMappings(10, { signal }),
      device.getFirewallStatus({ signal }),
      device.addPinhole(40003, 'UDP', 60, '', 0, '', { signal }),
      device.updatePinhole(7, 60, { signal }),
      device.deletePinhole(7, { signal }),
      device.getPinholePackets(7, { signal }),
      device.checkPinholeWorking(7, { signal }),
      device.getOutboundPinholeTimeout(40003, 'UDP', '', 0, '', { signal }),
      upnp.queryExternalAddress({ signal }),
      upnp.addPortMapping(40003, 0, '', 'UDP', 0, { signal }),
      upnp.deletePortMapping(40003, 'UDP', { signal }),
      upnp.addDeviceFromUrl('http://192.0.2.1:5000/rootDesc.xml', { signal }),
      upnp.discover(2000, 2, 'InternetGatewayDevice', { signal }),
    ]
    for (const call of calls) await expect(call).rejects.toBe(reason)
    // A request sent anyway may still be on its way: one valid call after them all, and only
    // that one may have arrived once it is answered.
    expect(await device.getPinholePackets(7)).toBe(0)
    expect(own.requests.map((r) => r.action)).toEqual(['GetPinholePackets'])
    expect(upnp.getDeviceCount()).toBe(1)
    await own.close()
  })

  it('a signal that is not an AbortSignal is INVALID_ARGS naming it, never a throw', async () => {
    const device = stub.device()
    for (const options of [{ signal: 5 }, { signal: { aborted: true } }, 'fast', 42n]) {
      expect(await device.addPortMapping(40004, 0, '', 'UDP', 0, options as never)).toBe(UPNPResult.INVALID_ARGS)
      expect(device.lastError?.description).toMatch(/options|signal/)
      expect(await device.getPortMapping(40004, 'UDP', options as never)).toBeNull()
    }
    const upnp = new UPNP()
    expect(await upnp.discover({ signal: 5 } as never)).toBe(UPNPResult.INVALID_PARAM)
    expect(upnp.lastError?.description).toBe('signal 5 is not an AbortSignal')
    expect(stub.requests).toEqual([])
  })
})

describe('settable device fields', () => {
  it('a value of the wrong type is refused with a warning naming the field; later calls work', async () => {
    const warnings: string[] = []
    vi.spyOn(process, 'emitWarning').mockImplementation(((message: string, o?: { code?: string }) => {
      warnings.push(`${o?.code}: ${message}`)
    }) as typeof process.emitWarning)
    const device: UPNPDevice = stub.device()
    const set = device as unknown as Record<string, unknown>
    set.firewallControlUrl = 5
    set.igdControlUrl = { toString: () => stub.url }
    set.igdStatus = 'OK'
    set.requestTimeout = -1
    set.igdOurAddr = Object.create(null)
    expect(warnings).toEqual([
      'UPNP_INVALID_FIELD: UPNPDevice.firewallControlUrl 5 is not a string; it keeps "http://127.0.0.1:' + new URL(stub.url).port + '/ctl"',
      expect.stringMatching(/^UPNP_INVALID_FIELD: UPNPDevice.igdControlUrl an object is not a string/),
      expect.stringMatching(/^UPNP_INVALID_FIELD: UPNPDevice.igdStatus "OK" is not an integer/),
      expect.stringMatching(/^UPNP_INVALID_FIELD: UPNPDevice.requestTimeout -1 is not a whole number/),
      expect.stringMatching(/^UPNP_INVALID_FIELD: UPNPDevice.igdOurAddr an object is not a string/),
    ])
    expect(device.igdControlUrl).toBe(stub.url)
    expect(await device.addPortMapping(40005, 0, 'after', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
    expect(await device.getFirewallStatus()).toEqual({ firewallEnabled: true, inboundPinholeAllowed: true })
    // Copies keep working the way they did (Object.assign, spreading): the fields are own and enumerable.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(device)), { ...device }) as UPNPDevice
    expect(copy.igdControlUrl).toBe(stub.url)
  })
})

describe('disposal', () => {
  it('PortMapper[Symbol.asyncDispose]() deletes its mappings, as close() does', async () => {
    const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
    const m = await mapper.map({ internalPort: 40006, protocol: 'UDP' })
    expect(stub.mappings.has('UDP 40006')).toBe(true)
    await mapper[Symbol.asyncDispose]()
    expect(stub.mappings.size).toBe(0)
    expect(m.closed).toBe(true)
    await expect(mapper.map({ internalPort: 40007 })).rejects.toMatchObject({ code: 'UPNP_INVALID_PARAM' })
  })

  it('Mapping[Symbol.asyncDispose]() deletes that one mapping', async () => {
    const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
    const a = await mapper.map({ internalPort: 40008, protocol: 'UDP' })
    await mapper.map({ internalPort: 40009, protocol: 'UDP' })
    await a[Symbol.asyncDispose]()
    expect([...stub.mappings.keys()]).toEqual(['UDP 40009'])
    await mapper.close()
  })
})
