// Defaults have one copy each: NAT-PMP/PCP's numbers come from the Rust core (exported by the
// addon), the rest from lib/defaults.ts; PortMapper's options resolve to them. Pure.
import { describe, expect, it } from 'vitest'
import { UPNPResult } from '../../lib/errors.ts'
import * as defaults from '../../lib/defaults.ts'
import * as native from '../../lib/native/index.ts'
import { resolveOptions } from '../../lib/portmapper/options.ts'

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
      pmpBudget: native.PXP_BUDGET_MS,
      discoverTimeout: defaults.DISCOVER_TIMEOUT_MS,
      requestTimeout: defaults.REQUEST_TIMEOUT_MS,
      lease: defaults.MAPPER_LEASE_S,
      verifyInterval: defaults.VERIFY_INTERVAL_MS,
      maxAttempts: defaults.MAX_ATTEMPTS,
    })
  })
})
