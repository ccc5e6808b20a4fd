// explainFailure() and the code tables: what the CLI prints and apps can show. Pure.
import { describe, expect, it } from 'vitest'
import { codeText, explainFailure, NATPMP_CODES, PCP_CODES, UPNP_CODES, UPNPResult } from '../../index.ts'

describe('the code tables', () => {
  it.each([
    ['UPnP', UPNP_CODES],
    ['NAT-PMP', NATPMP_CODES],
    ['PCP', PCP_CODES],
  ] as const)('%s: every code has a name, a meaning and a fix, each one sentence', (_, table) => {
    const codes = Object.keys(table)
    expect(codes.length).toBeGreaterThan(4)
    for (const code of codes) {
      const info = table[Number(code)]!
      expect(info.name.trim(), code).not.toBe('')
      expect(info.meaning, code).toMatch(/^[a-z].*\.$/s)
      expect(info.fix, code).toMatch(/^[A-Z`].*[.)]$/s)
    }
  })

  it('covers the codes the specifications define', () => {
    for (const code of [401, 402, 501, 606, 713, 714, 715, 716, 718, 724, 725, 726, 727, 728, 729])
      expect(UPNP_CODES[code], String(code)).toBeDefined()
    expect(Object.keys(NATPMP_CODES).map(Number)).toEqual([1, 2, 3, 4, 5])
    expect(Object.keys(PCP_CODES).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
  })
})

describe('explainFailure', () => {
  it("a UPnP code: the table's meaning and fix, the router's words kept", () => {
    const e = explainFailure({ result: UPNPResult.NOT_AUTHORIZED, upnpCode: 606, description: 'Action not authorized' })
    expect(e).toEqual({
      result: 'NOT_AUTHORIZED',
      upnpCode: 606,
      description: 'Action not authorized',
      meaning: UPNP_CODES[606]!.meaning,
      fix: UPNP_CODES[606]!.fix,
    })
    expect(codeText(e)).toBe('UPnP error 606, "Action not authorized"')
  })

  it('a conflict PortMapper gave up on still names the code (718, 729)', () => {
    expect(explainFailure({ result: UPNPResult.CONFLICT_WITH_OTHER_MAPPING, description: 'taken' }).upnpCode).toBe(718)
    expect(explainFailure({ result: UPNPResult.CONFLICT_WITH_OTHER_MECHANISM, description: 'taken' }).upnpCode).toBe(729)
  })

  it('a UPnP code no specification defines: says so, with the code and the words', () => {
    const e = explainFailure({ result: UPNPResult.UNKNOWN_ERROR, upnpCode: 899, description: 'Frobnicated' })
    expect(e.meaning).toContain('(899)')
    expect(e.meaning).toContain('"Frobnicated"')
    expect(codeText(e)).toBe('UPnP error 899, "Frobnicated"')
  })

  it('HTTP errors carry the status into the meaning', () => {
    const e = explainFailure({ result: UPNPResult.HTTP_ERROR, description: 'server error', httpStatus: 500 })
    expect(e.httpStatus).toBe(500)
    expect(e.upnpCode).toBeUndefined()
    expect(e.meaning).toBe('the router did not answer the request (HTTP 500): server error.')
    expect(codeText(e)).toBe('HTTP_ERROR')
  })

  it('no gateway points to doctor', () => {
    expect(explainFailure({ result: UPNPResult.NO_GATEWAY, description: 'none' }).fix).toBe('Run `upnp-native doctor`.')
  })

  it('NAT-PMP and PCP result codes use their own tables (the same number means different things)', () => {
    const pmp = explainFailure({ result: UPNPResult.ACTION_FAILED, via: 'natpmp', resultCode: 3, description: 'NETWORK_FAILURE' })
    const pcp = explainFailure({ result: UPNPResult.ACTION_FAILED, via: 'pcp', resultCode: 3, description: 'MALFORMED_REQUEST' })
    expect(pmp).toMatchObject({ via: 'natpmp', resultCode: 3, meaning: NATPMP_CODES[3]!.meaning })
    expect(pcp).toMatchObject({ via: 'pcp', resultCode: 3, meaning: PCP_CODES[3]!.meaning })
    expect(pmp.upnpCode).toBeUndefined()
    expect(codeText(pmp)).toBe('NAT-PMP result 3, "Network Failure"')
    expect(codeText(pcp)).toBe('PCP result 3, "MALFORMED_REQUEST"')
  })

  it('an undefined NAT-PMP/PCP code says the protocol does not define it', () => {
    const e = explainFailure({ result: UPNPResult.UNKNOWN_ERROR, via: 'pcp', resultCode: 77, description: 'result 77' })
    expect(e.meaning).toBe('the router answered PCP with result 77, which PCP does not define.')
  })

  it.each([
    ['REFUSED: connection refused', /port 5351 is closed/],
    ['TIMEOUT: no answer after 2000 ms', /did not answer NAT-PMP in time/],
    ['UNREACHABLE: network unreachable', /cannot be reached/],
    ['UNSUPP_VERSION', /another version of NAT-PMP/],
  ])('no answer over NAT-PMP (%s) is told apart by the first word', (description, meaning) => {
    const e = explainFailure({ result: UPNPResult.HTTP_ERROR, via: 'natpmp', description })
    expect(e.meaning).toMatch(meaning)
    expect(e.resultCode).toBeUndefined()
    expect(codeText(e)).toBe(`NAT-PMP: ${description}`)
  })
})
