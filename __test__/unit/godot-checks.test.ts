// The Godot contract that needs no router: numbers, defaults, the order of argument checks,
// the device list, and the promise that bad input or a Rust panic never crashes Node.
// No search is sent from here: the only socket is a TCP connect to a closed loopback port.
// discover()'s own checks are in __test__/lib/godot/discover-checks.test.ts (inside the lab:
// a regression there would multicast).
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as native from '../../lib/native/index.ts'
import { IGDStatus, UPNP, UPNPDevice, UPNPResult } from '../../index.ts'

/** A device that passes is_valid_gateway() but points at nothing: checks that fail on the
 *  client must fail before any network I/O, and a closed port proves none happened. */
function fakeValidGateway(): UPNPDevice {
  const d = new UPNPDevice()
  d.igdStatus = IGDStatus.OK
  d.igdControlUrl = 'http://127.0.0.1:9/ctl'
  d.igdServiceType = 'urn:schemas-upnp-org:service:WANIPConnection:1'
  d.igdOurAddr = '127.0.0.1'
  d.requestTimeout = 500
  return d
}

// Any JS value where the TypeScript signature would not allow it (plain-JS callers can pass these).
const bad = <T = number>(v: unknown): T => v as T

describe("numbers are Godot's", () => {
  it('UPNPResult 0..28 in Godot order', () => {
    const names = [
      'SUCCESS',
      'NOT_AUTHORIZED',
      'PORT_MAPPING_NOT_FOUND',
      'INCONSISTENT_PARAMETERS',
      'NO_SUCH_ENTRY_IN_ARRAY',
      'ACTION_FAILED',
      'SRC_IP_WILDCARD_NOT_PERMITTED',
      'EXT_PORT_WILDCARD_NOT_PERMITTED',
      'INT_PORT_WILDCARD_NOT_PERMITTED',
      'REMOTE_HOST_MUST_BE_WILDCARD',
      'EXT_PORT_MUST_BE_WILDCARD',
      'NO_PORT_MAPS_AVAILABLE',
      'CONFLICT_WITH_OTHER_MECHANISM',
      'CONFLICT_WITH_OTHER_MAPPING',
      'SAME_PORT_VALUES_REQUIRED',
      'ONLY_PERMANENT_LEASE_SUPPORTED',
      'INVALID_GATEWAY',
      'INVALID_PORT',
      'INVALID_PROTOCOL',
      'INVALID_DURATION',
      'INVALID_ARGS',
      'INVALID_RESPONSE',
      'INVALID_PARAM',
      'HTTP_ERROR',
      'SOCKET_ERROR',
      'MEM_ALLOC_ERROR',
      'NO_GATEWAY',
      'NO_DEVICES',
      'UNKNOWN_ERROR',
    ]
    names.forEach((name, value) => expect(UPNPResult[name as keyof typeof UPNPResult], name).toBe(value))
  })

  it('IGDStatus 0..9 in Godot order', () => {
    const names = [
      'OK',
      'HTTP_ERROR',
      'HTTP_EMPTY',
      'NO_URLS',
      'NO_IGD',
      'DISCONNECTED',
      'UNKNOWN_DEVICE',
      'INVALID_CONTROL',
      'MALLOC_ERROR',
      'UNKNOWN_ERROR',
    ]
    names.forEach((name, value) => expect(IGDStatus[name as keyof typeof IGDStatus], name).toBe(value))
  })
})

describe('defaults', () => {
  it("UPNP and UPNPDevice start as Godot's do", () => {
    const upnp = new UPNP()
    expect(upnp.discoverMulticastIf).toBe('')
    expect(upnp.discoverLocalPort).toBe(0)
    expect(upnp.discoverIpv6).toBe(false)
    expect(upnp.getDeviceCount()).toBe(0)
    expect(upnp.getGateway()).toBeNull()
    const d = new UPNPDevice()
    expect([d.descriptionUrl, d.serviceType, d.igdControlUrl, d.igdServiceType, d.igdOurAddr]).toEqual(['', '', '', '', ''])
    expect(d.igdStatus).toBe(IGDStatus.UNKNOWN_ERROR)
    expect(d.isValidGateway()).toBe(false)
    expect(d.doubleNat).toBe(false)
  })

  it('setters store values as given and is_valid_gateway follows igd_status only', () => {
    const d = new UPNPDevice()
    d.igdStatus = IGDStatus.OK
    expect(d.isValidGateway()).toBe(true)
    d.igdStatus = IGDStatus.DISCONNECTED
    expect(d.isValidGateway()).toBe(false)
    const upnp = new UPNP()
    upnp.discoverLocalPort = 1
    upnp.discoverMulticastIf = 'eth9'
    upnp.discoverIpv6 = true
    expect([upnp.discoverLocalPort, upnp.discoverMulticastIf, upnp.discoverIpv6]).toEqual([1, 'eth9', true])
  })
})

describe("UPNPDevice.addPortMapping checks in Godot's order", () => {
  it('INVALID_GATEWAY before anything else', async () => {
    const d = new UPNPDevice()
    expect(await d.addPortMapping(bad(-5), bad(-5), '', bad('nope'), -1)).toBe(UPNPResult.INVALID_GATEWAY)
    expect(d.lastError?.result).toBe(UPNPResult.INVALID_GATEWAY)
  })

  it('INVALID_PORT for port outside 1..65535 and for non-integers', async () => {
    const d = fakeValidGateway()
    for (const port of [0, -1, 65536, 7777.5, Number.NaN, Infinity, bad('7777'), bad(undefined), bad(null)]) {
      expect(await d.addPortMapping(port, 0, '', bad('nope'), -1), String(port)).toBe(UPNPResult.INVALID_PORT)
    }
  })

  it('INVALID_PORT for port_internal outside 0..65535, before the protocol check', async () => {
    const d = fakeValidGateway()
    for (const internal of [-1, 65536, 1.5, Number.NaN, bad('80')]) {
      expect(await d.addPortMapping(7777, internal, '', bad('nope'), -1), String(internal)).toBe(UPNPResult.INVALID_PORT)
    }
  })

  it('INVALID_PROTOCOL unless exactly "UDP" or "TCP", before the duration check', async () => {
    const d = fakeValidGateway()
    for (const proto of ['udp', 'tcp', 'Udp', 'UDP ', '', 'SCTP', bad(17), bad(null)]) {
      expect(await d.addPortMapping(7777, 0, '', proto as 'UDP', -1), String(proto)).toBe(UPNPResult.INVALID_PROTOCOL)
    }
  })

  it('INVALID_DURATION for negative, NaN, fractional or beyond ui4', async () => {
    const d = fakeValidGateway()
    for (const duration of [-1, Number.NaN, 1.5, 2 ** 32, bad('3600')]) {
      expect(await d.addPortMapping(7777, 0, '', 'UDP', duration), String(duration)).toBe(UPNPResult.INVALID_DURATION)
    }
    expect(d.lastError?.result).toBe(UPNPResult.INVALID_DURATION)
  })

  it('INVALID_ARGS for a description that is not a string or that XML cannot carry', async () => {
    const d = fakeValidGateway()
    expect(await d.addPortMapping(7777, 0, bad(42) as unknown as string, 'UDP', 0)).toBe(UPNPResult.INVALID_ARGS)
    // Reaches the addon, which refuses it before writing to the (closed) port.
    expect(await d.addPortMapping(7777, 0, 'bell\u0007', 'UDP', 0)).toBe(UPNPResult.INVALID_ARGS)
  })

  it('valid arguments reach the network: a closed port is HTTP_ERROR, not a throw', async () => {
    const d = fakeValidGateway()
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.HTTP_ERROR)
    expect(d.lastError?.description).toMatch(/connect/i)
  })
})

describe('UPNPDevice.deletePortMapping and queryExternalAddress', () => {
  it('delete checks port then protocol, and (like Godot) not is_valid_gateway', async () => {
    const d = new UPNPDevice()
    expect(await d.deletePortMapping(0, bad('x'))).toBe(UPNPResult.INVALID_PORT)
    expect(await d.deletePortMapping(7777.5)).toBe(UPNPResult.INVALID_PORT)
    expect(await d.deletePortMapping(7777, bad('udp'))).toBe(UPNPResult.INVALID_PROTOCOL)
    // No control URL: Godot's miniupnpc gives HTTP_ERROR.
    expect(await d.deletePortMapping(7777)).toBe(UPNPResult.HTTP_ERROR)
  })

  it('queryExternalAddress is "" (never null) on a device that is not a gateway', async () => {
    const d = new UPNPDevice()
    await expect(d.queryExternalAddress()).resolves.toBe('')
    expect(d.lastError?.result).toBe(UPNPResult.INVALID_GATEWAY)
    await expect(fakeValidGateway().queryExternalAddress()).resolves.toBe('')
  })
})

describe('UPNP without a gateway', () => {
  it('NO_GATEWAY is checked before any argument', async () => {
    const upnp = new UPNP()
    expect(await upnp.addPortMapping(bad('junk'), -1, '', bad('x'), -1)).toBe(UPNPResult.NO_GATEWAY)
    expect(await upnp.deletePortMapping(0, bad('x'))).toBe(UPNPResult.NO_GATEWAY)
    await expect(upnp.queryExternalAddress()).resolves.toBe('')
    expect(upnp.lastError?.result).toBe(UPNPResult.NO_GATEWAY)
  })

  it('forwards to the first valid gateway in list order', async () => {
    const upnp = new UPNP()
    const notGateway = new UPNPDevice()
    const first = fakeValidGateway()
    const second = fakeValidGateway()
    upnp.addDevice(notGateway)
    upnp.addDevice(first)
    upnp.addDevice(second)
    expect(upnp.getGateway()).toBe(first)
    expect(await upnp.addPortMapping(7777, 0, '', bad('udp'))).toBe(UPNPResult.INVALID_PROTOCOL)
    expect(first.lastError?.result).toBe(UPNPResult.INVALID_PROTOCOL)
    expect(second.lastError).toBeNull()
  })
})

describe('device list', () => {
  afterEach(() => vi.restoreAllMocks())

  it('add, get, set, remove, clear', () => {
    const upnp = new UPNP()
    const a = new UPNPDevice()
    const b = new UPNPDevice()
    upnp.addDevice(a)
    upnp.addDevice(b)
    expect(upnp.getDeviceCount()).toBe(2)
    expect(upnp.getDevice(1)).toBe(b)
    const c = new UPNPDevice()
    upnp.setDevice(0, c)
    expect(upnp.getDevice(0)).toBe(c)
    upnp.removeDevice(0)
    expect(upnp.getDevice(0)).toBe(b)
    upnp.clearDevices()
    expect(upnp.getDeviceCount()).toBe(0)
  })

  it('ignored calls warn with a code and change nothing', () => {
    const warnings: Array<{ code?: string }> = []
    vi.spyOn(process, 'emitWarning').mockImplementation(((_: string, options?: { code?: string }) => {
      warnings.push({ code: options?.code })
    }) as typeof process.emitWarning)
    const upnp = new UPNP()
    const a = new UPNPDevice()
    upnp.addDevice(a)
    expect(upnp.getDevice(1)).toBeNull()
    expect(upnp.getDevice(-1)).toBeNull()
    expect(upnp.getDevice(bad('0'))).toBeNull()
    upnp.addDevice(null)
    upnp.addDevice({} as UPNPDevice)
    upnp.setDevice(5, new UPNPDevice())
    upnp.setDevice(0, null)
    upnp.removeDevice(3)
    upnp.removeDevice(0.5)
    expect(upnp.getDeviceCount()).toBe(1)
    expect(upnp.getDevice(0)).toBe(a)
    expect(warnings.map((w) => w.code)).toEqual([
      'UPNP_INVALID_INDEX',
      'UPNP_INVALID_INDEX',
      'UPNP_INVALID_INDEX',
      'UPNP_INVALID_DEVICE',
      'UPNP_INVALID_DEVICE',
      'UPNP_INVALID_INDEX',
      'UPNP_INVALID_DEVICE',
      'UPNP_INVALID_INDEX',
      'UPNP_INVALID_INDEX',
    ])
  })
})

describe('a Rust panic never takes Node down', () => {
  it('async panic rejects the promise, sync panic throws, the process lives on', async () => {
    await expect(native.__panicForTests('deliberate async panic')).rejects.toThrow(/panic/i)
    expect(() => native.__panicSyncForTests('deliberate sync panic')).toThrow(/deliberate sync panic/)
    // The hot calls (add, delete, ...) settle through one completion channel per JS thread.
    await expect(native.__panicInCallForTests('deliberate panic in a call')).rejects.toThrow(
      /panic in the native call: deliberate panic in a call/,
    )
    expect(await native.__panicInCallForTests('')).toBe(0)
    // A call's first step runs on the calling thread, the rest on the runtime's: both caught.
    await expect(native.__panicInCallForTests('deliberate panic after a wait', true)).rejects.toThrow(
      /panic in the native call: deliberate panic after a wait/,
    )
    expect(await native.__panicInCallForTests('', true)).toBe(0)
    // And the addon still works afterwards.
    const d = fakeValidGateway()
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.HTTP_ERROR)
  })
})
