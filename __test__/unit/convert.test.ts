// lib/native/convert.ts: the one converter from the addon's failure shape (the same for UPnP,
// NAT-PMP and PCP) to what users see (lastError, UPNPError). Pure.
import { describe, expect, it } from 'vitest'
import { UPNPError, UPNPResult } from '../../index.ts'
import { asUpnpError } from '../../lib/errors.ts'
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

  it('a rejected native promise (a caught panic) is UNKNOWN_ERROR with the message, the rejection its cause', () => {
    const boom = new Error('boom')
    const { failure } = internalError(boom)
    expect(resultOf({ failure })).toBe(UPNPResult.UNKNOWN_ERROR)
    expect(failureInfo(failure)).toEqual({ result: UPNPResult.UNKNOWN_ERROR, description: 'internal error: boom', cause: boom })
    // ... and it stays the cause when the failure becomes an error, as PortMapper makes them.
    expect(new UPNPError({ ...failureInfo(failure)!, via: 'upnp' }, 'renewing').cause).toBe(boom)
    expect(failureError(failure, 'mapping').cause).toBe(boom)
  })

  it('a thrown value that cannot even say what it is still becomes a message', () => {
    const nullProto = Object.create(null) as object
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap')
        },
        getPrototypeOf: () => {
          throw new Error('trap')
        },
      },
    )
    for (const thrown of [nullProto, trap, Symbol('s'), 10n, null, undefined]) {
      expect(internalError(thrown).failure.description, String(typeof thrown)).toMatch(/^internal error: /)
    }
  })
})

describe('UPNPError.code and cause', () => {
  it("code is 'UPNP_' + the result's name, for every result", () => {
    for (const [name, value] of Object.entries(UPNPResult).filter(([, v]) => typeof v === 'number')) {
      expect(new UPNPError({ result: value as UPNPResult, description: 'x' }).code).toBe(`UPNP_${name}`)
    }
    expect(new UPNPError({ result: 99 as UPNPResult, description: 'x' }).code).toBe('UPNP_UNKNOWN_ERROR')
  })

  it('re-thrown with a context, the first error is the cause; a foreign error is the cause of its conversion', () => {
    const first = failureError(soapFault, 'mapping UDP 7777')
    const wrapped = new UPNPError(first, 'every protocol failed')
    expect(wrapped.cause).toBe(first)
    expect(wrapped.code).toBe('UPNP_CONFLICT_WITH_OTHER_MAPPING')
    expect(wrapped.upnpCode).toBe(718)
    const foreign = new TypeError('not a function')
    const converted = asUpnpError(foreign)
    expect(converted).toMatchObject({ code: 'UPNP_UNKNOWN_ERROR', cause: foreign, description: 'not a function' })
    expect(asUpnpError(converted)).toBe(converted)
    // No cause where there was none: nothing to chain.
    expect('cause' in failureError(soapFault, 'x')).toBe(false)
  })
})
