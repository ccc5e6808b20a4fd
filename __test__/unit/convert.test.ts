// lib/native/convert.ts: the one converter from the addon's failure shape (the same for UPnP,
// NAT-PMP and PCP) to what users see (lastError, UPNPError). Pure.
import { describe, expect, it } from 'vitest'
import { UPNPError, UPNPResult } from '../../index.ts'
import { failureError, failureInfo, internalError, resultOf } from '../../lib/native/convert.ts'
import type { NativeFailure } from '../../lib/native/index.ts'

const soapFault: NativeFailure = {
  result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING,
  via: 'upnp',
  code: 718,
  meaning: 'CONFLICT_WITH_OTHER_MAPPING',
  description: 'ConflictInMappingEntry',
  httpStatus: 500,
}
const pcpRefusal: NativeFailure = {
  result: UPNPResult.NOT_AUTHORIZED,
  via: 'pcp',
  code: 2,
  meaning: 'NOT_AUTHORIZED',
  description: 'NOT_AUTHORIZED',
}
const natpmpTimeout: NativeFailure = {
  result: UPNPResult.NO_GATEWAY,
  via: 'natpmp',
  meaning: 'TIMEOUT',
  description: 'TIMEOUT: no answer after 4 attempts',
}

describe('native failures become the library’s', () => {
  it('no failure is SUCCESS and no lastError', () => {
    expect(resultOf({})).toBe(UPNPResult.SUCCESS)
    expect(resultOf({ failure: null })).toBe(UPNPResult.SUCCESS)
    expect(failureInfo(undefined)).toBeNull()
  })

  it("UPnP: the router's code is upnpCode, with the HTTP status; no via (as lastError always was)", () => {
    expect(resultOf({ failure: soapFault })).toBe(UPNPResult.CONFLICT_WITH_OTHER_MAPPING)
    expect(failureInfo(soapFault)).toEqual({
      result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING,
      upnpCode: 718,
      description: 'ConflictInMappingEntry',
      httpStatus: 500,
    })
  })

  it('NAT-PMP / PCP: the result code is resultCode, with via; none without an answer', () => {
    expect(failureInfo(pcpRefusal)).toEqual({ result: UPNPResult.NOT_AUTHORIZED, via: 'pcp', resultCode: 2, description: 'NOT_AUTHORIZED' })
    expect(failureInfo(natpmpTimeout)).toEqual({
      result: UPNPResult.NO_GATEWAY,
      via: 'natpmp',
      description: 'TIMEOUT: no answer after 4 attempts',
    })
  })

  it('as the error PortMapper throws: context, name, code and words in the message', () => {
    const e = failureError(pcpRefusal, 'mapping UDP 80 (PCP)')
    expect(e).toBeInstanceOf(UPNPError)
    expect(e).toMatchObject({ result: UPNPResult.NOT_AUTHORIZED, via: 'pcp', resultCode: 2 })
    expect(e.upnpCode).toBeUndefined()
    expect(e.message).toBe('mapping UDP 80 (PCP): NOT_AUTHORIZED (pcp result 2): NOT_AUTHORIZED')
    expect(failureError(soapFault, 'mapping UDP 7777').message).toBe(
      'mapping UDP 7777: CONFLICT_WITH_OTHER_MAPPING (UPnP 718): ConflictInMappingEntry',
    )
  })

  it('a rejected native promise (a caught panic) is UNKNOWN_ERROR with the message', () => {
    const { failure } = internalError(new Error('boom'))
    expect(resultOf({ failure })).toBe(UPNPResult.UNKNOWN_ERROR)
    expect(failureInfo(failure)).toEqual({ result: UPNPResult.UNKNOWN_ERROR, description: 'internal error: boom' })
  })
})
