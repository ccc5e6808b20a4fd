// Defaults have one copy each: NAT-PMP/PCP's numbers come from the Rust core (exported by the
// addon), the rest from lib/defaults.ts; PortMapper's options resolve to them. Pure.
import { describe, expect, it } from 'vitest'
import { IGDStatus, UPNPResult } from '../../lib/errors.ts'
import * as defaults from '../../lib/defaults.ts'
import { UPNPDevice } from '../../lib/godot/device.ts'
import * as native from '../../lib/native/index.ts'
import { PortMapper } from '../../lib/portmapper/mapper.ts'
import { resolveOptions } from '../../lib/portmapper/options.ts'
import { appName } from '../../lib/portmapper/entry-owner.ts'

describe('defaults', () => {
  it("the Rust core's numbers, as the addon exports them", () => {
    expect(native.PROBE_BUDGET_MS).toBe(250)
    expect(native.PXP_BUDGET_MS).toBe(2000)
    expect(native.PXP_INITIAL_TIMEOUT_MS).toBe(250)
    expect(native.PXP_LIFETIME_S).toBe(7200)
  })

  it('lib/defaults.ts does not restate them', () => {
    for (const name of ['PROBE_BUDGET_MS', 'PXP_BUDGET_MS', 'PXP_INITIAL_TIMEOUT_MS', 'PXP_LIFETIME_S', 'PXP_PERMANENT_LEASE_S']) {
      expect(defaults, name).not.toHaveProperty(name)
    }
  })

  it("the pinhole lease cap the CLI checks before loading the addon is the core's", async () => {
    // Refused by the core's range check before any I/O, or let through to the network:
    // a closed loopback port (the discard service), so nothing leaves this host.
    const target = {
      controlUrl: 'http://127.0.0.1:9/ctl',
      serviceType: 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1',
      timeoutMs: 1000,
    }
    const result = async (leaseTime: number) => {
      const spec = { remoteHost: '', remotePort: 0, internalClient: 'fd77::10', internalPort: 7777, protocol: 'UDP' as const, leaseTime }
      return (await native.addPinhole(target, spec)).failure?.result
    }
    expect(await result(defaults.PINHOLE_MAX_LEASE_S + 1)).toBe(UPNPResult.INVALID_DURATION)
    expect(await result(defaults.PINHOLE_MAX_LEASE_S)).toBe(UPNPResult.HTTP_ERROR)
  })

  it('PortMapper without options uses them', () => {
    const o = resolveOptions({})
    expect(o).toMatchObject({
      probeBudget: native.PROBE_BUDGET_MS,
      pxpBudget: native.PXP_BUDGET_MS,
      discoverTimeout: defaults.DISCOVER_TIMEOUT_MS,
      requestTimeout: defaults.REQUEST_TIMEOUT_MS,
      lease: defaults.MAPPER_LEASE_S,
      verifyInterval: defaults.VERIFY_INTERVAL_MS,
      maxAttempts: defaults.MAX_ATTEMPTS,
    })
  })

  it("the description: none or '' is the app's name; a value that is not a string is refused, never taken for none", async () => {
    expect(resolveOptions({}).description).toBe(appName())
    expect(resolveOptions({ description: '' }).description).toBe(appName())
    for (const description of [0, false, null, Number.NaN]) {
      expect(() => resolveOptions({ description } as never)).toThrow(expect.objectContaining({ code: 'UPNP_INVALID_PARAM' }))
    }
    // map() checks its own before any request: a gateway on a closed loopback port (the
    // discard service) would make a regressed check fail with HTTP_ERROR, sending nothing out.
    const gateway = new UPNPDevice()
    gateway.igdStatus = IGDStatus.OK
    gateway.igdControlUrl = 'http://127.0.0.1:9/ctl'
    gateway.igdServiceType = 'urn:schemas-upnp-org:service:WANIPConnection:2'
    const mapper = new PortMapper({ gateway, watchAnnouncements: false, cleanupOnExit: false })
    for (const description of [0, false, null]) {
      await expect(mapper.map({ internalPort: 40200, description } as never)).rejects.toMatchObject({ code: 'UPNP_INVALID_ARGS' })
    }
    await mapper.close()
  })
})
