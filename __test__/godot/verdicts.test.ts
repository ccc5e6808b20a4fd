// The differential suite's judge: only listed differences pass, pinned values are checked,
// and a listed difference that no longer shows is reported as stale.
import { describe, expect, it } from 'vitest'
import type { Row } from './compare.ts'
import { timingClass } from './compare.ts'
import type { Deviation } from './deviations.ts'
import { judge, staleDeviations } from './verdicts.ts'

const row = (label: string, godot: string, ours: string): Row => ({ label, godot, ours, same: godot === ours })
const order: Deviation = {
  id: 'order',
  what: 'list order',
  why: 'test',
  where: [{ scenario: /^two-/, row: /^devices\[/ }],
}
const pinned: Deviation = {
  id: 'pinned',
  what: 'default description',
  why: 'test',
  where: [{ scenario: 'descriptions', row: /description$/, godot: '"libminiupnpc"', ours: '"upnp-native"' }],
}

describe('judge', () => {
  it('agrees on equal rows and explains only listed differences', () => {
    const used = new Set<string>()
    const verdicts = judge(
      'two-fakes',
      [
        row('discover(1000)', 'SUCCESS (0)', 'SUCCESS (0)'),
        row('devices[0].description_url', '"b"', '"a"'),
        row('get_gateway()', '0', '1'),
      ],
      used,
      [order],
    )
    expect(verdicts.map((v) => v.kind)).toEqual(['agree', 'deliberate', 'unexplained'])
    expect([...used]).toEqual(['order'])
  })

  it('checks pinned values: another difference in the same row stays unexplained', () => {
    const used = new Set<string>()
    const [listed, other] = judge(
      'descriptions',
      [row('miniupnpd UDP 7501 description', '"libminiupnpc"', '"upnp-native"'), row('miniupnpd UDP 7502 description', '"x"', '""')],
      used,
      [pinned],
    )
    expect(listed!.kind).toBe('deliberate')
    expect(other!.kind).toBe('unexplained')
  })

  it('reports a deviation that no row showed, only for scenarios that ran', () => {
    expect(staleDeviations(['two-fakes'], new Set(), [order, pinned]).map((d) => d.id)).toEqual(['order'])
    expect(staleDeviations(['two-fakes'], new Set(['order']), [order, pinned])).toEqual([])
  })
})

describe('timingClass', () => {
  it('rounds to half seconds', () => {
    expect([0, 249, 251, 1053, 1249, 4009, 5006].map(timingClass)).toEqual(['~0 s', '~0 s', '~0.5 s', '~1 s', '~1 s', '~4 s', '~5 s'])
  })
})
