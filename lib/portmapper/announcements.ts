/**
 * SSDP announcements: a UPnP router coming back from a reboot announces a new
 * `BOOTID.UPNP.ORG`. Listening (passively, never sending) lets PortMapper check its UPnP
 * mappings at once instead of at the next verification.
 */
import type { UPNPDevice } from '../godot/device.ts'
import * as native from '../native/index.ts'

/** Same host (and port) in two URLs; '' never matches. */
function sameHost(a: string, b: string): boolean {
  const origin = (url: string) => /^http:\/\/([^/]+)/i.exec(url)?.[1]?.toLowerCase() ?? ''
  const x = origin(a)
  return x !== '' && x === origin(b)
}

/**
 * Judges one announcement against the gateway in use: true when it reveals a reboot (an
 * `ssdp:alive` with a BOOTID other than the one known). Keeps `gateway.bootId` current,
 * including an announced change (`ssdp:update` with NEXTBOOTID), which is not a reboot.
 */
export function revealsReboot(gateway: UPNPDevice, a: native.Announcement): boolean {
  if (!sameHost(a.location, gateway.descriptionUrl)) return false
  if (a.nts === 'ssdp:update' && a.nextBootId != null) {
    gateway.bootId = a.nextBootId
    return false
  }
  if (a.nts !== 'ssdp:alive' || a.bootId == null || a.bootId === gateway.bootId) return false
  const known = gateway.bootId
  gateway.bootId = a.bootId
  return known !== null
}

/** Listens while UPnP mappings are held; calls `onReboot` when the gateway announces one. */
export class AnnouncementWatcher {
  #listener: native.NotifyListener | null = null

  constructor(
    private readonly gateway: () => UPNPDevice | null,
    private readonly onReboot: () => void,
  ) {}

  get listening(): boolean {
    return this.#listener !== null
  }

  /** Starts listening; throws when port 1900 cannot be shared (periodic checks still work). */
  start(options: { multicastIf: string; ipv6: boolean }): void {
    if (this.#listener) return
    this.#listener = new native.NotifyListener(options, (a) => {
      const gateway = this.gateway()
      if (gateway && revealsReboot(gateway, a)) this.onReboot()
    })
  }

  close(): void {
    this.#listener?.close()
    this.#listener = null
  }
}
