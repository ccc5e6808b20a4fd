/**
 * `checkNat()`: the public address and the NAT's behaviour as STUN servers see them, against
 * the router's reported external address: the UPnP device the caller names (`upnpGateway`),
 * else the cached protocol probe's. The same answer `probe({ stun })` gives in its `nat` field,
 * without the rest of the probe's report.
 */
import { clientError, UPNPResult } from '../errors.ts'
import { isDevice, type UPNPDevice } from '../godot/device.ts'
import { deviceFromUrl } from '../godot/from-url.ts'
import { probe } from '../probe.ts'
import { abortable } from '../signal.ts'
import { badSignal, checkedOptions, notText, renamedOption, show } from '../validate.ts'
import { checkServers, natView, type NatView } from './nat-view.ts'

/** What `checkNat()` asks, and whom. */
export interface CheckNatOptions {
  /** STUN servers, `host[:port]` (port 3478 by default); asked in order until one tells the
   *  mapping and filtering behaviour (which needs an RFC 5780 server, with two addresses).
   *  Required: no server is built in. */
  stun: string[]
  /** The NAT-PMP/PCP server (the router) to ask for its external address (default: the
   *  default route's gateway). */
  router?: string
  /**
   * The old name of `router`.
   * @deprecated Use `router`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  gateway?: string
  /** The UPnP gateway whose external address is compared, as `PortMapper`'s `gateway` names
   *  it: a device (asked for its address now), or its description URL (opened, no search).
   *  Nothing else is asked then: no search, no NAT-PMP/PCP, so the answer speaks of the
   *  device a `PortMapper({ gateway })` maps on, even with several gateways on the network.
   *  Not together with `router`. */
  upnpGateway?: UPNPDevice | string
  /** Cancels: the promise rejects with `signal.reason`. */
  signal?: AbortSignal
}

const KEYS = ['stun', 'router', 'gateway', 'upnpGateway', 'signal'] as const

/** Asks the STUN servers and the router, and says how their views of this host compare. */
export async function checkNat(options: CheckNatOptions): Promise<NatView> {
  const given = checkedOptions(options, KEYS, 'options', UPNPResult.INVALID_PARAM)
  const { stun, signal, upnpGateway } = given
  const renamed = renamedOption(given, 'router', 'gateway')
  const router = renamed.value
  const bad =
    checkServers(stun) ??
    renamed.problem ??
    (router === undefined ? null : notText(renamed.name, router)) ??
    badUpnpGateway(upnpGateway, router === undefined ? null : renamed.name) ??
    badSignal(signal)
  if (bad) throw clientError(UPNPResult.INVALID_PARAM, bad)
  const servers = [...(stun as string[])]
  const call = signal ? { signal: signal as AbortSignal } : {}
  if (upnpGateway !== undefined) {
    const device = typeof upnpGateway === 'string' ? await deviceFromUrl(upnpGateway, call) : (upnpGateway as UPNPDevice)
    // An opened device was asked just now; a given one is asked again, as the probe is fresh.
    const address = typeof upnpGateway === 'string' ? device.externalAddress : await device.queryExternalAddress(call)
    const nat = await abortable(call.signal, () => natView(servers, address))
    if (!address && device.lastError)
      nat.notes.unshift(`the UPnP gateway did not tell its external address: ${device.lastError.description}`)
    return nat
  }
  const report = await probe({ stun: servers, fresh: true, ...(router ? { router: router as string } : {}), ...call })
  return report.nat as NatView
}

/** Why `value` cannot be `upnpGateway` (given with the router option `router`), or null. */
function badUpnpGateway(value: unknown, router: string | null): string | null {
  if (value === undefined) return null
  if (typeof value !== 'string' && !isDevice(value)) return `upnpGateway ${show(value)} is not a UPNPDevice or a description URL`
  return router ? `upnpGateway and ${router} both name the router to compare with: give one` : null
}
