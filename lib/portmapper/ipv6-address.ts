/**
 * Which IPv6 address of this host a pinhole is for: the one peers on the Internet can reach.
 * A pinhole is opened for the address its request comes from (PCP, RFC 6887 11) or names
 * (UPnP, which routers take only from that same address), and towards a router reached over
 * a link-local or unique-local address the system would pick one of those, which no one
 * beyond the LAN can reach (miniupnp#731). Both ways use the address this host uses towards
 * the Internet; UPnP takes it on the interface towards the router.
 */
import os from 'node:os'
import * as native from '../native/index.ts'

/** Whether `address` is an IPv6 link-local address (fe80::/10). */
export const isLinkLocal = (address: string): boolean => /^fe[89ab][0-9a-f]:/i.test(address)
/** Global unicast (2000::/3): neither unique-local (fc00::/7) nor link-local. */
const isGlobal = (address: string): boolean => /^[23][0-9a-f]{0,3}:/i.test(address)

/** Where the route lookup for "the Internet" goes: a documentation address (RFC 3849), so
 *  nothing real is named; nothing is sent either (a UDP socket is connected, not used). */
const INTERNET_PROBE = '2001:db8::1'

/** The IPv6 address this host uses towards the Internet ("" without an IPv6 route there):
 *  the pinhole's address, and the one to publish. */
export function publicSource6(): string {
  const source = native.localAddressFor(INTERNET_PROBE)
  return source && !isLinkLocal(source) ? source : ''
}

/**
 * The address a UPnP pinhole is opened for, given `ours`, this host's address on the
 * connection to the router: on the interface that holds `ours`, the address towards the
 * Internet (PCP's choice) when it is there, else the interface's first global address;
 * `ours` itself when the interface has no global address (a network that routes its
 * unique-local addresses, as the lab's does).
 */
export function pinholeAddress(ours: string): string {
  const bare = ours.replace(/%.*$/, '').toLowerCase()
  const onLink = Object.values(os.networkInterfaces()).find((list) => list?.some((a) => a.address.toLowerCase() === bare))
  const globals = (onLink ?? []).filter((a) => a.family === 'IPv6' && !a.internal && isGlobal(a.address)).map((a) => a.address)
  const towardsInternet = publicSource6()
  if (towardsInternet && globals.includes(towardsInternet)) return towardsInternet
  return globals[0] ?? ours
}
