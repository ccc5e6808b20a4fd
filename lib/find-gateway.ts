/**
 * The UPnP gateway to work with: the device at a description URL when one is given (opened,
 * no search: `deviceFromUrl`), else the one a discovery finds. One copy for everything that
 * needs a gateway: PortMapper (IPv4 and IPv6 pinholes), the CLI and the adapters.
 */
import { UPNPError, type UPNPErrorInfo, UPNPResult } from './errors.ts'
import type { UPNPDevice } from './godot/device.ts'
import { deviceFromUrl } from './godot/from-url.ts'
import { UPNP } from './godot/upnp.ts'

/** Where to look, and for how long. */
export interface GatewaySearchOptions {
  /** The gateway's description URL: that device is opened, nothing is searched for. */
  url?: string | null
  /** The discovery window in ms (`UPNP.discover`'s timeout; its default when absent). */
  timeout?: number
  /** Search on this interface (`UPNP.discoverMulticastIf`). */
  multicastIf?: string
  /** Search over IPv6 (`UPNP.discoverIpv6`). */
  ipv6?: boolean
  /** The search socket's local port (`UPNP.discoverLocalPort`). */
  localPort?: number
  /** Per-request cap in ms for the device(s) found. */
  requestTimeout?: number
  /** Stop at the first working gateway (default true); false waits out the window to see
   *  every device. */
  untilGateway?: boolean
  /** Cancels: rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** What a search (or the opened URL) found. */
export interface GatewaySearch {
  /** Every device that answered (with a URL: the one opened, whatever its status). */
  devices: UPNPDevice[]
  /** The working gateway discovery would use (`UPNP.getGateway()`), or null. */
  gateway: UPNPDevice | null
  /** The discovery's result (SUCCESS for an opened URL). */
  result: UPNPResult
  /** Why the discovery failed (`UPNP.lastError`); null for an opened URL. */
  error: UPNPErrorInfo | null
  /** False when the device was opened from its URL. */
  searched: boolean
}

/** What the gateway is needed for: port mappings (a working IGD), or IPv6 pinholes (the
 *  firewall service; a device whose IPv4 side is down, as behind DS-Lite, still opens them). */
export type GatewayNeed = 'mappings' | 'pinholes'

/** Opens `url`, or discovers: every device found, and the gateway among them. Rejects with a
 *  `UPNPError` (INVALID_PARAM) for a refused URL. */
export async function searchGateways(options: GatewaySearchOptions): Promise<GatewaySearch> {
  const { url, signal } = options
  const call = signal ? { signal } : {}
  if (url) {
    const requestTimeout = options.requestTimeout === undefined ? {} : { requestTimeout: options.requestTimeout }
    const device = await deviceFromUrl(url, { ...requestTimeout, ...call })
    return { devices: [device], gateway: device.isValidGateway() ? device : null, result: UPNPResult.SUCCESS, error: null, searched: false }
  }
  const upnp = new UPNP()
  if (options.multicastIf !== undefined) upnp.discoverMulticastIf = options.multicastIf
  if (options.ipv6 !== undefined) upnp.discoverIpv6 = options.ipv6
  if (options.localPort !== undefined) upnp.discoverLocalPort = options.localPort
  if (options.requestTimeout !== undefined) upnp.requestTimeout = options.requestTimeout
  const timeout = options.timeout === undefined ? {} : { timeout: options.timeout }
  const result = await upnp.discover({ ...timeout, untilGateway: options.untilGateway ?? true, ...call })
  const devices: UPNPDevice[] = []
  for (let i = 0; i < upnp.getDeviceCount(); i++) {
    const device = upnp.getDevice(i)
    if (device) devices.push(device)
  }
  return { devices, gateway: upnp.getGateway(), result, error: upnp.lastError, searched: true }
}

/** The one gateway to use for `need` (default mappings), or a `UPNPError` saying why there
 *  is none (`via: 'upnp'`). */
export async function findGateway(options: GatewaySearchOptions & { need?: GatewayNeed }): Promise<UPNPDevice> {
  const found = await searchGateways(options)
  return options.need === 'pinholes' ? pinholeGateway(found, options.url) : mappingGateway(found)
}

function mappingGateway(found: GatewaySearch): UPNPDevice {
  if (found.gateway) return found.gateway
  const [device] = found.devices
  if (!found.searched && device) {
    const why = device.lastError ?? { result: UPNPResult.INVALID_GATEWAY, description: 'not a valid gateway' }
    throw new UPNPError({ ...why, via: 'upnp' }, 'opening the gateway from its description URL')
  }
  const why = found.error ?? { result: found.result, description: 'no UPnP gateway answered' }
  throw new UPNPError({ ...why, result: why.result === UPNPResult.SUCCESS ? UPNPResult.NO_GATEWAY : why.result, via: 'upnp' }, 'discovery')
}

/** The device with the pinhole service: a working gateway first, else the first that has it. */
function pinholeGateway(found: GatewaySearch, url: string | null | undefined): UPNPDevice {
  const offering = found.devices.filter((d) => d.firewallControlUrl)
  const device = offering.find((d) => d.isValidGateway()) ?? offering[0]
  if (device) return device
  if (!found.searched) {
    const lastError = found.devices[0]?.lastError
    throw new UPNPError(
      {
        result: UPNPResult.INVALID_GATEWAY,
        via: 'upnp',
        description: `the gateway at ${url} has no IPv6 firewall service (WANIPv6FirewallControl)${lastError ? `: ${lastError.description}` : ''}`,
      },
      'opening the gateway from its description URL',
    )
  }
  const count = found.devices.length
  throw new UPNPError(
    {
      result: UPNPResult.NO_GATEWAY,
      via: 'upnp',
      description: `no UPnP gateway with an IPv6 firewall service (WANIPv6FirewallControl) answered over IPv6${count ? ` (${count} device(s) without one did)` : ''}`,
    },
    'discovery over IPv6',
  )
}
