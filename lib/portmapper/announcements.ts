/**
 * What a router announces on its own when it comes back from a reboot: a UPnP router a new
 * SSDP `BOOTID.UPNP.ORG` (NOTIFY to 239.255.255.250:1900), a PCP server an unsolicited
 * ANNOUNCE and a NAT-PMP server its external address (both to 224.0.0.1:5350, PCP also to
 * [ff02::1]:5350). Listening (passively, never sending) lets PortMapper check its mappings at
 * once instead of at the next verification. Whatever the protocol a mapping uses, any of
 * these from its router is evidence: the check that follows (a lookup or a renewal, judged by
 * BOOTID or epoch) decides whether the mapping was really lost.
 */
import type { UPNPDevice } from '../godot/device.ts'
import * as native from '../native/index.ts'

/** At most one check per this window, however many announcements arrive. */
export const REBOOT_CHECK_INTERVAL_MS = 10_000

/** The host of an http URL ('' when there is none), without brackets and zone. */
function hostOf(url: string): string {
  return /^http:\/\/\[?([^\]/%]+?)(?:%25[^\]]*)?\]?(?::\d+)?(?:\/|$)/i.exec(url)?.[1]?.toLowerCase() ?? ''
}

/** Same host (and port) in two URLs; '' never matches. */
function sameHost(a: string, b: string): boolean {
  const origin = (url: string) => /^http:\/\/([^/]+)/i.exec(url)?.[1]?.toLowerCase() ?? ''
  const x = origin(a)
  return x !== '' && x === origin(b)
}

/** An address without its IPv6 zone (`fe80::1%eth0`), lower case. */
function bare(address: string): string {
  return address.replace(/%.*$/, '').toLowerCase()
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
  if (!sameHost(a.location, gateway.descriptionUrl) || hostOf(gateway.descriptionUrl) !== a.from.toLowerCase()) return false
  const bootId = a.nts === 'ssdp:update' ? a.nextBootId : a.nts === 'ssdp:alive' ? a.bootId : undefined
  if (bootId != null) gateway.bootId = bootId
  const rebooted = a.rebooted || a.resets > gateway.reboots
  gateway.reboots = Math.max(gateway.reboots, a.resets)
  return rebooted
}

/** Whether a NOTIFY reveals a reboot of the NAT-PMP/PCP server at `server` (no UPnP gateway
 *  known): sent from that address, describing itself there, with a BOOTID the addon has seen
 *  change. The first BOOTID heard from a device only records it. */
export function revealsServerReboot(server: string, a: native.Announcement): boolean {
  const host = bare(server)
  return a.rebooted && host !== '' && a.from.toLowerCase() === host && hostOf(a.location) === host
}

export interface WatchOptions {
  /** The UPnP gateway whose NOTIFYs count (null: none known). */
  gateway: () => UPNPDevice | null
  /** The NAT-PMP/PCP servers holding mappings (their NOTIFYs count too). */
  servers: () => string[]
  /** Something announced a reboot: check the mappings. */
  onReboot: () => void
}

/**
 * Listens while mappings are held: SSDP NOTIFYs (port 1900, shared) and, per NAT-PMP/PCP
 * server, its announcements (port 5350, shared; only those from the server itself, judged in
 * the addon). Calls `onReboot` at once, but at most once per REBOOT_CHECK_INTERVAL_MS: a storm
 * (a spoofed source address, a router in a boot loop) costs the router one check per window,
 * not one per datagram. An announcement within the window is checked when it ends.
 */
export class AnnouncementWatcher {
  #ssdp: native.NotifyListener | null = null
  readonly #servers = new Map<string, native.PxpAnnouncementListener>()
  #pending: NodeJS.Timeout | null = null
  #lastCheck = Number.NEGATIVE_INFINITY

  constructor(private readonly o: WatchOptions) {}

  get listening(): boolean {
    return this.#ssdp !== null
  }

  /** Starts hearing SSDP; throws when port 1900 cannot be shared (periodic checks still work). */
  start(options: { multicastIf: string; ipv6: boolean }): void {
    if (this.#ssdp) return
    this.#ssdp = new native.NotifyListener(options, (a) => {
      const gateway = this.o.gateway()
      const upnp = gateway !== null && revealsReboot(gateway, a)
      if (upnp || this.o.servers().some((s) => revealsServerReboot(s, a))) this.#checkSoon()
    })
  }

  /** Starts hearing `server`'s NAT-PMP/PCP announcements (once per server); throws when
   *  port 5350 cannot be shared. Every announcement it makes is a reason to check: a restart
   *  (a new epoch) or a new external address, which the renewal learns. */
  watchServer(server: string): void {
    if (!server || this.#servers.has(server)) return
    this.#servers.set(server, new native.PxpAnnouncementListener({ server }, () => this.#checkSoon()))
  }

  #checkSoon(): void {
    if (this.#pending) return
    const wait = Math.max(0, this.#lastCheck + REBOOT_CHECK_INTERVAL_MS - Date.now())
    this.#pending = setTimeout(() => {
      this.#pending = null
      this.#lastCheck = Date.now()
      this.o.onReboot()
    }, wait)
    this.#pending.unref()
  }

  close(): void {
    this.#ssdp?.close()
    this.#ssdp = null
    for (const listener of this.#servers.values()) listener.close()
    this.#servers.clear()
    if (this.#pending) clearTimeout(this.#pending)
    this.#pending = null
  }
}
