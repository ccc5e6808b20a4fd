// doctor --report's redaction (cli/commands/doctor/redact.ts), value by value: stable placeholders,
// what is kept, what is replaced only inside its element, addresses inside NAT-PMP/PCP
// datagrams. The lab's own reports are searched in __test__/cli/report.test.ts. Pure.
import { describe, expect, it } from 'vitest'
import { classifyAddress } from '../../index.ts'
import { looksPersonal, redact } from '../../cli/commands/doctor/redact.ts'

const run = <T>(document: T) => redact(document, classifyAddress)

describe('redact', () => {
  it('the same value gets the same placeholder everywhere; the kinds say how many were replaced', () => {
    const { document, replaced } = run({
      a: 'external address 11.22.33.44.',
      b: ['reachable at 11.22.33.44:7777', { c: 'and 6.6.6.6' }],
      d: 'LOCATION: http://192.168.1.1:5000/x',
    })
    expect(document).toEqual({
      a: 'external address 11.0.0.1.',
      b: ['reachable at 11.0.0.1:7777', { c: 'and 11.0.0.2' }],
      d: 'LOCATION: http://192.168.1.1:5000/x',
    })
    expect(replaced['public-address']).toBe(2)
    // The stand-ins are still public: the verdicts a replay gives do not change.
    expect(classifyAddress('11.0.0.1')).toBe('public')
  })

  it('private, CGNAT, link-local and documentation addresses are kept; a public IPv6 one is not', () => {
    const kept = '10.0.0.2 100.64.1.2 169.254.1.1 fd77::10 fe80::1 192.0.2.1'
    const { document } = run({ kept, v6: 'the host is 2a00:1450:4001:82b::200e now' })
    expect(document).toEqual({ kept, v6: 'the host is 3fff::1 now' })
    expect(classifyAddress('3fff::1')).toBe('public')
  })

  it('UUIDs in any letter case, USNs and UDNs that are not UUIDs, in URLs too', () => {
    const { document, replaced } = run({
      usn: 'USN: uuid:756E6C2D-6C61-4200-8000-00000000CAFE::upnp:rootdevice',
      udn: '<UDN>uuid:756e6c2d-6c61-4200-8000-00000000cafe</UDN><UDN>uuid:dead-beef-deadbeef2222</UDN>',
      location: 'http://192.168.1.1:5431/dyndev/uuid:dead-beef-deadbeef2222',
    })
    expect(document).toEqual({
      usn: 'USN: uuid:00000000-0000-4000-8000-000000000001::upnp:rootdevice',
      udn: '<UDN>uuid:00000000-0000-4000-8000-000000000001</UDN><UDN>uuid:redacted-udn-1</UDN>',
      location: 'http://192.168.1.1:5431/dyndev/uuid:redacted-udn-1',
    })
    expect(replaced).toMatchObject({ uuid: 1, udn: 1 })
  })

  it('a short or repetitive serial only inside its element; a distinctive one everywhere', () => {
    const { document } = run({
      desc: '<serialNumber>00000000</serialNumber><UPC>000000000000</UPC><serialNumber>AB12CD34</serialNumber>',
      name: 'router AB12CD34',
      pcp: '020000000000000000000000',
    })
    expect(document).toEqual({
      desc: '<serialNumber>REDACTED-SERIAL-1</serialNumber><UPC>000000000000</UPC><serialNumber>REDACTED-SERIAL-2</serialNumber>',
      name: 'router REDACTED-SERIAL-2',
      pcp: '020000000000000000000000',
    })
  })

  it('MAC addresses, presentation URLs, SSIDs and personal names; a name holding a MAC address goes whole', () => {
    const { document, replaced } = run({
      desc:
        "<friendlyName>Anna's router 52:7E:0A:DE:5E:88</friendlyName><presentationURL>http://192.168.1.1/</presentationURL>" +
        '<NewSSID>HomeNet-5G</NewSSID>',
      gateway: { friendlyName: "Anna's router 52:7E:0A:DE:5E:88" },
      neighbour: 'seen from 52:7e:0a:de:5e:88 and 02-42-ac-11-00-02',
      base: 'http://192.168.1.1/rootDesc.xml',
    })
    expect(document).toEqual({
      desc:
        '<friendlyName>redacted-device-name-1</friendlyName><presentationURL>http://redacted-presentation-url-1/</presentationURL>' +
        '<NewSSID>redacted-wifi-name-1</NewSSID>',
      gateway: { friendlyName: 'redacted-device-name-1' },
      neighbour: 'seen from 02:00:00:00:00:01 and 02:00:00:00:00:02',
      base: 'http://192.168.1.1/rootDesc.xml',
    })
    expect(replaced).toMatchObject({ 'device-name': 1, 'mac-address': 2, 'presentation-url': 1, 'wifi-name': 1 })
  })

  it('addresses inside NAT-PMP and PCP datagrams (hex) get the same placeholders', () => {
    // NAT-PMP external address answer: 11.22.33.44 at bytes 8..12; PCP MAP answer: the assigned
    // external address, IPv4-mapped, at bytes 44..60.
    const natpmp = '008000000000061900000000'.slice(0, 16) + '0b16212c'
    const pcp = `0281000000001c20000005de${'00'.repeat(12)}${'ab'.repeat(12)}11000000${'1e61'}${'1e61'}${'00'.repeat(10)}ffff0b16212c`
    const { document } = run({ natpmp: { body: natpmp }, pcp: { body: pcp }, text: 'NAT-PMP says 11.22.33.44' })
    expect(document.natpmp.body).toBe(`${natpmp.slice(0, 16)}0b000001`)
    expect(document.pcp.body).toBe(`${pcp.slice(0, -8)}0b000001`)
    expect(document.text).toBe('NAT-PMP says 11.0.0.1')
  })

  it('looks personal: a possessive or an e-mail address; a model name does not', () => {
    expect(looksPersonal("Anna's iPad")).toBe(true)
    expect(looksPersonal('Anna’s router')).toBe(true)
    expect(looksPersonal('router of anna@example.com')).toBe(true)
    expect(looksPersonal('FRITZ!Box 7590')).toBe(false)
    expect(looksPersonal('upnp-native lab router')).toBe(false)
  })
})
