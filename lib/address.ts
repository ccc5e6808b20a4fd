/** What an external address says about the network above the router. */
import * as native from './native/index.ts'

/**
 * "public"; "cgnat" (100.64.0.0/10, the range ISPs share between customers); "private"
 * (private, link-local, documentation and other reserved ranges: another NAT sits upstream);
 * "invalid" for text that is not an IP address. The ranges are the addon's (one copy, also
 * behind `UPNPDevice.doubleNat`).
 */
export type AddressKind = 'public' | 'cgnat' | 'private' | 'invalid'

/** What kind of address `address` is (see `AddressKind`), e.g. for a router's external address. */
export function classifyAddress(address: string): AddressKind {
  return native.classifyAddress(address) as AddressKind
}
