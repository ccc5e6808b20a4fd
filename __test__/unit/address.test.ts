// classifyAddress(): the addon's one copy of the double-NAT ranges, as the CLI and apps see it.
// Pure: no socket is opened.
import { describe, expect, it } from 'vitest'
import { classifyAddress } from '../../index.ts'

describe('classifyAddress', () => {
  it.each([
    // the lab's external address: miniupnp's own tests use 11/8 as "not reserved"
    ['11.22.33.44', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.0', 'public'],
    ['100.63.255.255', 'public'],
    ['2001:4860::1', 'public'],
  ])('%s is %s', (address, kind) => expect(classifyAddress(address)).toBe(kind))

  it.each(['100.64.0.0', '100.64.0.1', '100.127.255.255', '::ffff:100.100.1.1'])('%s is carrier-grade NAT (RFC 6598)', (address) =>
    expect(classifyAddress(address)).toBe('cgnat'),
  )

  it.each([
    ['10.0.0.1', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['127.0.0.1', 'loopback'],
    ['169.254.10.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    // the address the CLI once called "public" while the library said "double NAT"
    ['203.0.113.5', 'documentation'],
    ['192.0.0.9', 'IETF protocol assignments'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'IPv6 loopback'],
    ['fd00::1', 'IPv6 unique local'],
    ['fe80::1', 'IPv6 link-local'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['::ffff:192.168.0.1', 'IPv4-mapped private'],
  ])('%s is not public (%s): another NAT sits upstream', (address) => expect(classifyAddress(address)).toBe('private'))

  it('accepts surrounding blanks and brackets', () => {
    expect(classifyAddress(' 10.1.2.3 ')).toBe('private')
    expect(classifyAddress('[fe80::1]')).toBe('private')
  })

  it.each(['', 'router', '1.2.3', '256.1.1.1', '10.0.0.1:80', '1.2.3.4.5'])('%j is invalid', (text) =>
    expect(classifyAddress(text)).toBe('invalid'),
  )
})
