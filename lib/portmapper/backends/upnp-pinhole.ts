/**
 * PortMapper over UPnP's IPv6 firewall (WANIPv6FirewallControl): a pinhole lets inbound
 * traffic through to this host's own IPv6 address and port, no translation. Pinholes have
 * leases of 1..86400 s and no permanent form, so a permanent request is held as renewed
 * leases, as over PCP.
 *
 * The check: UpdatePinhole on the id the router gave (a router that lost the pinhole, by a
 * reboot or expiry, refuses the id: 704, or 402 from miniupnpd 2.3.1), then AddPinhole with
 * the same arguments, which the spec makes give the open pinhole's id again: another id
 * means ours was gone (a rebooted router hands ids out from 1 again, so an id that still
 * answers may be another pinhole's). Either way the pinhole is open again afterwards.
 */
import { PINHOLE_MAX_LEASE_S } from '../../defaults.ts'
import { type UPNPErrorInfo, UPNPError, UPNPResult } from '../../errors.ts'
import type { UPNPDevice } from '../../godot/device.ts'
import * as native from '../../native/index.ts'
import { pinholeClientFor, sendPinholeActionsFrom } from '../ipv6-address.ts'
import type { Backend, Granted, Maintained, MappingParams, Serial } from './backend.ts'

export interface UpnpPinholeBackendOptions {
  /** The IPv6 gateway in use, and a way to find it again after it stopped answering (null
   *  when the caller fixed the gateway). */
  gateway: () => UPNPDevice
  rediscover: (() => Promise<UPNPDevice>) | null
  serial: Serial
}

/** The lease a pinhole is asked for: permanent is renewed leases of PCP's "permanent"
 *  (`PXP_LIFETIME_S`); the service's maximum caps it. */
export function pinholeLease(requested: number): number {
  return requested === 0 ? native.PXP_LIFETIME_S : Math.min(requested, PINHOLE_MAX_LEASE_S)
}

/** How routers refuse an id they do not hold: 704 NoSuchEntry (spec), 402 (miniupnpd 2.3.1). */
const GONE = new Set([UPNPResult.NO_SUCH_ENTRY_IN_ARRAY, UPNPResult.INVALID_ARGS])

export class UpnpPinholeBackend implements Backend {
  readonly via = 'upnp' as const
  readonly family = 'ipv6' as const
  constructor(private readonly o: UpnpPinholeBackendOptions) {}

  private failed(gateway: UPNPDevice, context: string, fallback: string): UPNPError {
    const why: UPNPErrorInfo = gateway.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: fallback }
    return new UPNPError({ ...why, via: 'upnp' }, context)
  }

  /** Runs one pinhole action on `gateway` sent from `address` (a pinhole's actions must come
   *  from its own address, which may not be the system's choice towards the router). */
  private from<T>(gateway: UPNPDevice, address: string, action: () => Promise<T>): Promise<T> {
    return this.o.serial(() => {
      sendPinholeActionsFrom(gateway, address)
      return action()
    })
  }

  /** AddPinhole for this host's global address on the interface towards the gateway (the
   *  address it is reached from, `igdOurAddr`, may be unique-local or link-local). A gateway
   *  reached over IPv4 has no IPv6 address of ours to name: "" lets the core refuse it with
   *  the reason ("reached over IPv4 ... reach it over IPv6"). */
  private async open(gateway: UPNPDevice, p: MappingParams): Promise<Granted> {
    const client = pinholeClientFor(gateway)
    const lease = pinholeLease(p.lease)
    const id = await this.from(gateway, client, () => gateway.addPinhole(p.internalPort, p.protocol, lease, '', 0, client))
    if (id === null) throw this.failed(gateway, `opening an IPv6 pinhole for ${p.protocol} ${p.internalPort}`, 'AddPinhole failed')
    return { externalPort: p.internalPort, externalAddress: client, lease, internalClient: client, pinholeId: id }
  }

  add(p: MappingParams, _wanted: number, signal?: AbortSignal): Promise<Granted> {
    signal?.throwIfAborted()
    return this.open(this.o.gateway(), p)
  }

  async maintain(p: MappingParams, g: Granted, renewDue: boolean): Promise<Maintained> {
    let gateway = this.o.gateway()
    const id = g.pinholeId ?? -1
    let result = await this.from(gateway, g.internalClient, () => gateway.updatePinhole(id, g.lease))
    if (result !== UPNPResult.SUCCESS && gateway.lastError?.upnpCode == null && this.o.rediscover) {
      // No answer at all: the router may have rebooted onto another address or port.
      gateway = await this.o.rediscover()
      result = await this.from(gateway, g.internalClient, () => gateway.updatePinhole(id, g.lease))
    }
    if (result !== UPNPResult.SUCCESS && !GONE.has(result)) {
      throw this.failed(gateway, `renewing the IPv6 pinhole for ${p.protocol} ${p.internalPort}`, 'UpdatePinhole failed')
    }
    const now = await this.open(gateway, p)
    if (result !== UPNPResult.SUCCESS) return { kind: 'lost', reason: 'the router no longer has the pinhole', granted: now }
    if (now.pinholeId !== id) {
      return { kind: 'lost', reason: `the router no longer had pinhole ${id} (the same pinhole is now ${now.pinholeId})`, granted: now }
    }
    return { kind: 'ok', granted: now, renewed: renewDue }
  }

  /** Closes whatever pinhole is open for `client`'s `p` (another way's, say PCP's): AddPinhole
   *  with its arguments gives the open pinhole's id, which DeletePinhole then closes. */
  async closeFor(p: MappingParams, client: string): Promise<void> {
    const gateway = this.o.gateway()
    const id = await this.from(gateway, client, () => gateway.addPinhole(p.internalPort, p.protocol, pinholeLease(p.lease), '', 0, client))
    if (id === null) throw this.failed(gateway, `finding the IPv6 pinhole for ${p.protocol} ${p.internalPort}`, 'AddPinhole failed')
    await this.remove(p, { externalPort: p.internalPort, externalAddress: client, lease: 0, internalClient: client, pinholeId: id })
  }

  async remove(p: MappingParams, g: Granted): Promise<void> {
    const gateway = this.o.gateway()
    const result = await this.from(gateway, g.internalClient, () => gateway.deletePinhole(g.pinholeId ?? -1))
    if (result !== UPNPResult.SUCCESS && !GONE.has(result)) {
      throw this.failed(gateway, `closing the IPv6 pinhole for ${p.protocol} ${p.internalPort}`, 'DeletePinhole failed')
    }
  }
}
