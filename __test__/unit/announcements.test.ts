// PortMapper's reading of SSDP announcements: the addon judges BOOTIDs (rebooted, resets);
// the mapper only asks whether it concerns its gateway and whether the count went up. Pure.
import { describe, expect, it } from 'vitest'
import { UPNPDevice } from '../../index.ts'
import type { Announcement } from '../../lib/native/index.ts'
import { revealsReboot } from '../../lib/portmapper/announcements.ts'

function gateway(): UPNPDevice {
  const d = new UPNPDevice()
  d.descriptionUrl = 'http://192.0.2.1:5000/rootDesc.xml'
  d.bootId = 4
  d.reboots = 1
  return d
}

const alive = (over: Partial<Announcement> = {}): Announcement => ({
  nts: 'ssdp:alive',
  nt: 'upnp:rootdevice',
  usn: 'uuid:x::upnp:rootdevice',
  location: 'http://192.0.2.1:5000/rootDesc.xml',
  bootId: 4,
  rebooted: false,
  resets: 1,
  from: '192.0.2.1',
  ...over,
})

describe('revealsReboot', () => {
  it('the same BOOTID and count: no reboot', () => {
    expect(revealsReboot(gateway(), alive())).toBe(false)
  })

  it('a reboot the addon saw in this announcement, with the new BOOTID kept', () => {
    const g = gateway()
    expect(revealsReboot(g, alive({ bootId: 5, rebooted: true, resets: 2 }))).toBe(true)
    expect([g.bootId, g.reboots]).toEqual([5, 2])
    // Heard again (another listener's copy): already known.
    expect(revealsReboot(g, alive({ bootId: 5, resets: 2 }))).toBe(false)
  })

  it('a reboot another listener in this process judged first still counts', () => {
    expect(revealsReboot(gateway(), alive({ bootId: 5, rebooted: false, resets: 2 }))).toBe(true)
  })

  it('an announced next BOOTID is kept and is not a reboot', () => {
    const g = gateway()
    expect(revealsReboot(g, alive({ nts: 'ssdp:update', nextBootId: 5 }))).toBe(false)
    expect(g.bootId).toBe(5)
  })

  it("another device's announcement is not about our gateway", () => {
    const g = gateway()
    expect(revealsReboot(g, alive({ location: 'http://192.0.2.1:5001/rootDesc.xml', rebooted: true, resets: 9 }))).toBe(false)
    expect([g.bootId, g.reboots]).toEqual([4, 1])
  })
})
