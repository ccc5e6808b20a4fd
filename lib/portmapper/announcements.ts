/**
 * SSDP announcements: a UPnP router coming back from a reboot announces a new
 * `BOOTID.UPNP.ORG`. Listening (passively, never sending) lets PortMapper check its UPnP
 * mappings at once instead of at the next verification.
 */
import type { UPNPDevice } from '../godot/device.ts'
import * as native from '../native/index.ts'

/** At most one reboot check per this window, however many new BOOTIDs are announced. */
export const REBOOT_CHECK_INTERVAL_MS = 10_000

/** Whether `address` (where an announcement came from) is the host of `url`. */
function isHostOf(address: string, url: string): boolean {
  const host = /^http:\/\/\[?([^\]/%]+?)(?:%25[^\]]*)?\]?(?::\d+)?(?:\/|$)/i.exec(url)?.[1]?.toLowerCase()
  return host !== undefined && host === address.toLowerCase()
}

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
  // Anyone on the LAN can send a NOTIFY naming our gateway's LOCATION: only one that comes
  // from the gateway's own address counts (SSDP offers no stronger proof; SECURITY.md).
  if (!sameHost(a.location, gateway.descriptionUrl) || !isHostOf(a.from, gateway.descriptionUrl)) return false
  const bootId = a.nts === 'ssdp:update' ? a.nextBootId : a.nts === 'ssdp:alive' ? a.bootId : undefined
  if (bootId != null) gateway.bootId = bootId
  const rebooted = a.rebooted || a.resets > gateway.reboots
  gateway.reboots = Math.max(gateway.reboots, a.resets)
  return rebooted
}

/**
 * Listens while UPnP mappings are held; calls `onReboot` when the gateway announces one, at
 * once, but at most once per REBOOT_CHECK_INTERVAL_MS: a storm of new BOOTIDs (a spoofed
 * source address, a router in a boot loop) costs the router one check per window, not one
 * per datagram. A reboot announced within the window is checked when it ends.
 */
export class AnnouncementWatcher {
  #listener: native.NotifyListener | null = null
  #pending: NodeJS.Timeout | null = null
  #lastCheck = Number.NEGATIVE_INFINITY

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
      if (gateway && revealsReboot(gateway, a)) this.#checkSoon()
    })
  }

  #checkSoon(): void {
    if (this.#pending) return
    const wait = Math.max(0, this.#lastCheck + REBOOT_CHECK_INTERVAL_MS - Date.now())
    this.#pending = setTimeout(() => {
      this.#pending = null
      this.#lastCheck = Date.now()
      this.onReboot()
    }, wait)
    this.#pending.unref()
  }

  close(): void {
    this.#listener?.close()
    this.#listener = null
    if (this.#pending) clearTimeout(this.#pending)
    this.#pending = null
  }
}
