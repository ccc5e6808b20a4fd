// discover()'s own argument checks, Godot's order: bad parameters keep the old device list.
// In the lab, not the unit project: a check that regressed would send a real search.
import { describe, expect, it } from 'vitest'
import { UPNP, UPNPDevice, UPNPResult } from '../../../index.ts'

// Any JS value where the TypeScript signature would not allow it (plain-JS callers can pass these).
const bad = <T = number>(v: unknown): T => v as T

describe('discover() parameter checks keep the old list', () => {
  it('INVALID_PARAM for timeout < 0, ttl outside 0..255 and non-numbers', async () => {
    const upnp = new UPNP()
    const kept = new UPNPDevice()
    upnp.addDevice(kept)
    for (const [timeout, ttl] of [
      [-1, 2],
      [2000, -1],
      [2000, 256],
      [Number.NaN, 2],
      [bad('2000'), 2],
      [2000, 2.5],
    ] as const) {
      expect(await upnp.discover(timeout, ttl), `${timeout}/${ttl}`).toBe(UPNPResult.INVALID_PARAM)
      expect(upnp.getDevice(0)).toBe(kept)
    }
    upnp.discoverLocalPort = 70000
    expect(await upnp.discover(10)).toBe(UPNPResult.INVALID_PARAM)
    expect(upnp.getDeviceCount()).toBe(1)
  })

  it('an unknown multicast interface is UNKNOWN_ERROR with the reason (Godot 4)', async () => {
    for (const ipv6 of [false, true]) {
      const upnp = new UPNP()
      upnp.discoverIpv6 = ipv6
      upnp.discoverMulticastIf = 'no-such-if0'
      expect(await upnp.discover(100)).toBe(UPNPResult.UNKNOWN_ERROR)
      expect(upnp.lastError?.description).toContain('no-such-if0')
    }
  })

  it('a multicast address this host does not have is SOCKET_ERROR, as in Godot', async () => {
    const upnp = new UPNP()
    upnp.discoverMulticastIf = '10.1.2.3'
    expect(await upnp.discover(100)).toBe(UPNPResult.SOCKET_ERROR)
  })

  it('an already aborted signal rejects with its reason and keeps the list', async () => {
    const upnp = new UPNP()
    upnp.addDevice(new UPNPDevice())
    const reason = new Error('user gave up')
    await expect(upnp.discover({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(upnp.getDeviceCount()).toBe(1)
  })
})
