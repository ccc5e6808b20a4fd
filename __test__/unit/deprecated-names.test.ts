// The deprecated names of issue 28 (docs/api.md, "Deprecated names") still work as before:
// each old name means what its new name means. Types are held equal at compile time (tsc
// checks this file), options by what the library does with them. No network.
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  checkNat,
  checkReachability,
  explainFailure,
  type FailureInfo,
  PortMapper,
  probe,
  UPNPError,
  type UPNPErrorInfo,
  UPNPResult,
} from '../../index.ts'
import { resolveOptions } from '../../lib/portmapper/options.ts'

describe('FailureInfo (use UPNPErrorInfo)', () => {
  it('is UPNPErrorInfo, and explainFailure explains both alike', () => {
    expectTypeOf<FailureInfo>().toEqualTypeOf<UPNPErrorInfo>()
    const old: FailureInfo = { result: UPNPResult.NOT_AUTHORIZED, via: 'pcp', resultCode: 2, description: 'NOT_AUTHORIZED' }
    const now: UPNPErrorInfo = { ...old }
    expect(explainFailure(old)).toEqual(explainFailure(now))
    expect(explainFailure(old).resultCode).toBe(2)
    // A UPNPError is made from either and carries the same fields.
    expect(new UPNPError(old).resultCode).toBe(2)
    expect(new UPNPError(old).via).toBe('pcp')
  })
})

describe("PortMapper's protocol and pmpBudget (use via and pxpBudget)", () => {
  it('each old name sets what its new name sets; both agreeing is fine', () => {
    expect(resolveOptions({ protocol: 'natpmp' }).via).toBe('natpmp')
    expect(resolveOptions({ via: 'natpmp' }).via).toBe('natpmp')
    expect(resolveOptions({ via: 'pcp', protocol: 'pcp' }).via).toBe('pcp')
    expect(resolveOptions({ pmpBudget: 700 }).pxpBudget).toBe(700)
    expect(resolveOptions({ pxpBudget: 700 }).pxpBudget).toBe(700)
    // A gateway still means UPnP, whichever name asked otherwise.
    expect(resolveOptions({ gateway: 'http://192.0.2.1:5000/rootDesc.xml', protocol: 'pcp' }).via).toBe('upnp')
  })

  it('a bad value is refused naming the name it was given under', () => {
    expect(() => new PortMapper({ protocol: 'tcp' as never })).toThrow(/^INVALID_PARAM: protocol "tcp" is not auto, pcp, natpmp or upnp/)
    expect(() => new PortMapper({ via: 'tcp' as never })).toThrow(/^INVALID_PARAM: via "tcp" is not auto, pcp, natpmp or upnp/)
    expect(() => new PortMapper({ pmpBudget: 0 })).toThrow(/^INVALID_PARAM: pmpBudget 0 is not 1\.\./)
    expect(() => new PortMapper({ pxpBudget: 0 })).toThrow(/^INVALID_PARAM: pxpBudget 0 is not 1\.\./)
  })

  it('both names that disagree are refused (INVALID_PARAM), never one silently taken', () => {
    expect(() => new PortMapper({ via: 'pcp', protocol: 'natpmp' })).toThrow(
      expect.objectContaining({ code: 'UPNP_INVALID_PARAM', message: expect.stringMatching(/via "pcp" and protocol "natpmp"/) }),
    )
    expect(() => new PortMapper({ pxpBudget: 500, pmpBudget: 600 })).toThrow(/pxpBudget 500 and pmpBudget 600/)
  })
})

describe("probe's and checkNat's gateway (use router); checkReachability's protocol (use via)", () => {
  // Each is refused before anything is sent: no network here.
  it('the old name is read (a bad value is refused naming it), and both names must agree', async () => {
    await expect(probe({ gateway: 7 as never })).rejects.toThrow(/^INVALID_PARAM: gateway 7 is not a string/)
    await expect(probe({ router: 7 as never })).rejects.toThrow(/^INVALID_PARAM: router 7 is not a string/)
    await expect(probe({ router: '192.0.2.1', gateway: '192.0.2.2' })).rejects.toThrow(/router "192.0.2.1" and gateway "192.0.2.2"/)
    const stun = ['192.0.2.9']
    await expect(checkNat({ stun, gateway: 7 as never })).rejects.toThrow(/gateway 7 is not a string/)
    await expect(checkNat({ stun, router: 7 as never })).rejects.toThrow(/router 7 is not a string/)
    await expect(checkNat({ stun, router: '192.0.2.1', gateway: '192.0.2.2' })).rejects.toThrow(/give router only/)
    await expect(checkReachability({ stun, protocol: 'tcp' as never })).rejects.toThrow(/^INVALID_PARAM: protocol "tcp" is not auto/)
    await expect(checkReachability({ stun, via: 'tcp' as never })).rejects.toThrow(/^INVALID_PARAM: via "tcp" is not auto/)
    await expect(checkReachability({ stun, via: 'pcp', protocol: 'upnp' })).rejects.toThrow(/give via only/)
  })
})
