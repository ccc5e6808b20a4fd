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
 * Whether one announcement reveals a reboot of the gateway in use. The addon judges the
 * BOOTID (as it judges NAT-PMP/PCP epochs) and counts the reboots it has seen per device:
 * a count above the one the gateway was found with is a reboot, even when another listener
 * in this process heard it first. Keeps `gateway.bootId` and `gateway.reboots` current.
 */
export function revealsReboot(gateway: UPNPDevice, a: native.Announcement): boolean {
  if (!sameHost(a.location, gateway.descriptionUrl)) return false
  const bootId = a.nts === 'ssdp:update' ? a.nextBootId : a.nts === 'ssdp:alive' ? a.bootId : undefined
  if (bootId != null) gateway.bootId = bootId
  const rebooted = a.rebooted || a.resets > gateway.reboots
  gateway.reboots = Math.max(gateway.reboots, a.resets)
  return rebooted
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
