// The deprecated names of issue 28 (docs/api.md, "Deprecated names") still work as before:
// each old name means what its new name means. Types are held equal at compile time (tsc
// checks this file), options by what the library does with them. No network.
import { describe, expect, expectTypeOf, it } from 'vitest'
import { explainFailure, type FailureInfo, UPNPError, type UPNPErrorInfo, UPNPResult } from '../../index.ts'

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
