/**
 * Finding the gateway a command works with: UPnP discovery (preferring the default route's
 * gateway, or the one --gateway names), the NAT-PMP/PCP probe, and the errors that say why
 * there is no usable gateway and what to do.
 */
import { explainFailure, VIA_NAME } from '../lib/explain.ts'
import { IGDStatus, type UPNPErrorInfo, UPNPResult } from '../lib/errors.ts'
import type { UPNPDevice } from '../lib/godot/device.ts'
import type { ProbeReport } from '../lib/probe.ts'
import { describeInterfaces, localInterfaces } from './args.ts'
import { CliError, type Context, EXIT, type Globals, type Library, usage } from './command.ts'
import { hostOf, modelText, seconds, STATUS_TEXT, statusName } from './format.ts'
import { runAs } from './invocation.ts'

export interface DefaultRoute {
  gateway: string
  interface: string
}

export interface Found {
  devices: UPNPDevice[]
  /** This machine's default route (null when it has none). */
  route: DefaultRoute | null
  /** The gateway to use (valid), or null. */
  gateway: UPNPDevice | null
  /** The device --gateway picked (valid or not), else the gateway, else the first device. */
  selected: UPNPDevice | null
  result: number
  error: UPNPErrorInfo | null
  elapsedMs: number
  /** False when --gateway gave a whole description URL: opened directly, no search. */
  searched: boolean
}

/** `--gateway` as a whole description URL (a path beyond "/"): opened directly, no search. */
export function isDescriptionUrl(wanted: string): boolean {
  if (!/^[a-z]+:\/\//i.test(wanted)) return false
  try {
    return new URL(wanted).pathname !== '/'
  } catch {
    return false
  }
}

/** `--gateway`: a description URL (or just its scheme://host:port), or an address. */
function matchesGateway(device: UPNPDevice, wanted: string): boolean {
  if (!wanted) return false
  if (/^[a-z]+:\/\//i.test(wanted)) {
    if (device.descriptionUrl === wanted) return true
    try {
      return new URL(device.descriptionUrl).origin === new URL(wanted).origin && new URL(wanted).pathname === '/'
    } catch {
      return false
    }
  }
  return hostOf(device.descriptionUrl) === wanted.replace(/^\[|\]$/g, '')
}

/** The IPv4 default route's gateway (null where the platform does not say, or without one). */
export async function defaultRoute(lib: Library): Promise<DefaultRoute | null> {
  const route = await lib.defaultGateway()
  return route?.gateway ? { gateway: route.gateway, interface: route.interface } : null
}

export function searchWhere(g: Globals): string {
  return `${g.ipv6 ? 'IPv6' : 'IPv4'}${g.iface ? ` on ${g.iface}` : ''}`
}

/**
 * Discovers UPnP gateways with a spinner. `all`: the whole window, to see every device;
 * `first`: until the first working gateway (any command that just needs one).
 */
export async function findGateways(
  ctx: Context,
  g: Globals,
  mode: 'first' | 'all',
  label = `Looking for UPnP gateways (${searchWhere(g)})…`,
): Promise<Found> {
  const { out, lib } = ctx
  const route = g.ipv6 ? null : await defaultRoute(lib)
  const started = performance.now()
  if (isDescriptionUrl(g.gateway)) {
    out.spinner.start(`Opening the gateway at ${g.gateway}…`)
    try {
      return { ...(await openByUrl(lib, g, route)), elapsedMs: performance.now() - started }
    } finally {
      out.spinner.stop()
    }
  }
  out.spinner.start(label)
  try {
    let found = await search(lib, g, mode === 'first' && !g.gateway, route)
    // Several gateways on one network: the one that matters is the one packets go through.
    // A quick search stopped at the first to answer; if that is not the default route's,
    // search the whole window to find the default route's one too.
    if (mode === 'first' && !g.gateway && route && found.gateway && hostOf(found.gateway.descriptionUrl) !== route.gateway) {
      out.spinner.start(`Looking for the default gateway ${route.gateway} (another answered first)…`)
      found = await search(lib, g, false, route)
    }
    return { ...found, elapsedMs: performance.now() - started }
  } finally {
    out.spinner.stop()
  }
}

async function search(lib: Library, g: Globals, untilGateway: boolean, route: DefaultRoute | null): Promise<Found> {
  const {
    devices,
    gateway: first,
    result,
    error,
  } = await lib.searchGateways({
    multicastIf: g.iface,
    ipv6: g.ipv6,
    timeout: g.timeoutMs,
    untilGateway,
  })
  let gateway: UPNPDevice | null
  let selected: UPNPDevice | null
  if (g.gateway) {
    selected = devices.find((d) => matchesGateway(d, g.gateway)) ?? null
    gateway = selected?.isValidGateway() ? selected : null
  } else {
    const onRoute = route ? devices.find((d) => d.isValidGateway() && hostOf(d.descriptionUrl) === route.gateway) : undefined
    gateway = onRoute ?? first
    selected = gateway ?? devices.find((d) => route && hostOf(d.descriptionUrl) === route.gateway) ?? devices[0] ?? null
  }
  return { devices, route, gateway, selected, result, error, elapsedMs: 0, searched: true }
}

/** The one device --gateway's description URL names, classified as a search would have. */
async function openByUrl(lib: Library, g: Globals, route: DefaultRoute | null): Promise<Found> {
  try {
    const opened = await lib.searchGateways({ url: g.gateway, requestTimeout: Math.max(1, g.timeoutMs) })
    return { ...opened, route, selected: opened.devices[0] ?? null, elapsedMs: 0 }
  } catch (error) {
    throw refusedUrl(lib, error) ?? error
  }
}

/** A --gateway URL the library refused before sending anything, as a usage error (else null). */
export function refusedUrl(lib: Library, error: unknown): CliError | null {
  if (!(error instanceof lib.UPNPError) || error.result !== UPNPResult.INVALID_PARAM) return null
  return usage(`--gateway: ${error.description}`, "Give the router's address, or its description URL: http://<address>:<port>/<path>.")
}

/** The router for NAT-PMP/PCP: --gateway as an address (a URL gives its host), else "" (the default route's). */
export function routerOf(g: Globals): string {
  return g.gateway ? (/^[a-z]+:\/\//i.test(g.gateway) ? hostOf(g.gateway) : g.gateway.replace(/^\[|\]$/g, '')) : ''
}

/** NAT-PMP and PCP as the router answers them now (the library's probe without its UPnP part:
 *  UPnP has its own search here, or none with a --gateway description URL). */
export async function probeRouter(lib: Library, g: Globals): Promise<ProbeReport | null> {
  const router = routerOf(g)
  return lib
    .probe({
      fresh: true,
      upnp: false,
      multicastIf: g.iface,
      budgetMs: Math.min(g.timeoutMs, 2000),
      ...(router ? { router } : {}),
    })
    .catch(() => null)
}

/** The NAT-PMP/PCP protocols --protocol asks about: both for auto, one for pmp/pcp, none for upnp. */
export function pxpProtocols(g: Globals): Array<'natpmp' | 'pcp'> {
  return g.protocol === 'auto' ? ['natpmp', 'pcp'] : g.protocol === 'upnp' ? [] : [g.protocol]
}

/** UPnP discovery and the NAT-PMP/PCP probe at once, under one spinner (status, doctor). */
export async function findEverything(
  ctx: Context,
  g: Globals,
  mode: 'first' | 'all',
): Promise<{ found: Found | null; probed: ProbeReport | null }> {
  const pxp = pxpProtocols(g)
  const upnp = g.protocol === 'upnp' || g.protocol === 'auto'
  const names = [...(upnp ? ['UPnP'] : []), ...pxp.map((v) => VIA_NAME[v])].join(', ')
  const label = `Looking for gateways (${names}; ${searchWhere(g)})…`
  ctx.out.spinner.start(label)
  try {
    const [found, probed] = await Promise.all([
      upnp ? findGateways(ctx, g, mode, label) : Promise.resolve(null),
      pxp.length ? probeRouter(ctx.lib, g) : Promise.resolve(null),
    ])
    return { found, probed }
  } finally {
    ctx.out.spinner.stop()
  }
}

/** Why this gateway is the one in use, for a person. */
export function whySelected(found: Found, g: Globals): string {
  if (!found.searched) return 'opened from --gateway, no search'
  if (g.gateway) return 'chosen with --gateway'
  if (found.selected && found.route && hostOf(found.selected.descriptionUrl) === found.route.gateway) return "the default route's gateway"
  return 'the first to answer'
}

/** Why there is no usable gateway, as a CliError (exit 3, or 1 when the search itself failed). */
export function noGatewayError(found: Found, g: Globals): CliError {
  const R = UPNPResult
  if (found.result !== R.SUCCESS && found.result !== R.NO_DEVICES && found.devices.length === 0) {
    const failure = explainFailure(found.error ?? { result: found.result, description: R[found.result] ?? 'discovery failed' })
    return new CliError(EXIT.FAILED, 'DISCOVERY_FAILED', `could not search for gateways: ${failure.description}`, failure.fix, failure)
  }
  if (g.gateway && !found.selected) {
    const seen = found.devices.map((d) => hostOf(d.descriptionUrl))
    return new CliError(
      EXIT.NO_GATEWAY,
      'GATEWAY_NOT_FOUND',
      `no gateway at ${g.gateway} answered within ${seconds(g.timeoutMs)}${seen.length ? ` (gateways that answered: ${seen.join(', ')})` : ''}`,
      seen.length
        ? `Pick one of those with --gateway, or leave --gateway out.`
        : `Check the address; give the router longer with --timeout; run \`${runAs()} doctor\`.`,
    )
  }
  const device = found.selected
  if (device && !found.searched && device.igdStatus === IGDStatus.HTTP_ERROR) {
    const failure = device.lastError ? explainFailure(device.lastError) : undefined
    return new CliError(
      EXIT.NO_GATEWAY,
      'GATEWAY_NOT_FOUND',
      `no gateway description at ${g.gateway}${device.lastError ? `: ${device.lastError.description}` : ''}`,
      'Check the URL (a router may serve its description on another port after a restart), or leave --gateway out to search.',
      failure,
    )
  }
  if (!device) {
    return new CliError(
      EXIT.NO_GATEWAY,
      'NO_GATEWAY',
      `no UPnP gateway answered within ${seconds(g.timeoutMs)} (searched ${searchWhere(g)})`,
      noGatewayFix(g, found.route),
    )
  }
  const status = statusName(device)
  const where = `${hostOf(device.descriptionUrl)} (${modelText(device)})`
  if (status === 'DISCONNECTED') {
    const failure = device.lastError
      ? { ...explainFailure(device.lastError), meaning: `the router reports: ${device.lastError.description}.`, fix: notConnectedFix() }
      : undefined
    return new CliError(
      EXIT.NO_GATEWAY,
      'NOT_CONNECTED',
      `the gateway ${where} answered, but it is not connected to the Internet`,
      notConnectedFix(),
      failure,
    )
  }
  return new CliError(
    EXIT.NO_GATEWAY,
    'GATEWAY_UNUSABLE',
    `the device ${where} answered, but it cannot be used as a gateway: ${STATUS_TEXT[status] ?? status}`,
    device.lastError ? explainFailure(device.lastError).fix : 'Restart the router; update its firmware if it keeps failing.',
    device.lastError ? explainFailure(device.lastError) : undefined,
  )
}

export function noGatewayFix(g: Globals, route: DefaultRoute | null = null): string {
  const ifaces = localInterfaces().filter((i) => !i.internal && i.family === 'IPv4')
  const names = new Set(ifaces.map((i) => i.name))
  const router = route ? ` (${route.gateway}, this machine's default gateway via ${route.interface})` : ''
  const parts = [`Make sure UPnP is turned on in the router's settings${router}; it may be called "UPnP IGD" or "NAT traversal".`]
  if (g.iface)
    parts.push(`The search went out on ${g.iface} only: is the router on that network? This machine has: ${describeInterfaces()}.`)
  else if (names.size > 1) {
    parts.push(
      `This machine has several network interfaces (${describeInterfaces()}): search on the one facing the router with --interface <name>.`,
    )
  } else parts.push('If this machine uses a VPN or several networks, search on the one facing the router with --interface <name>.')
  parts.push('A slow router may need more time: --timeout 5.')
  return parts.join(' ')
}

export function notConnectedFix(): string {
  return "Check the router's Internet (WAN) connection in its settings; if it sits behind a modem, make sure that link is up."
}

export async function needGateway(
  ctx: Context,
  g: Globals,
  mode: 'first' | 'all' = 'first',
): Promise<{ found: Found; gateway: UPNPDevice }> {
  const found = await findGateways(ctx, g, mode)
  if (!found.gateway) throw noGatewayError(found, g)
  return { found, gateway: found.gateway }
}

/** No usable gateway for --protocol: UPnP's reason, or NAT-PMP/PCP's. */
export function noGatewayFor(found: Found | null, probed: ProbeReport | null, g: Globals): CliError {
  if (found) {
    const e = noGatewayError(found, g)
    if (!probed || g.protocol === 'upnp') return e
    const pxp = pxpProtocols(g)
    return new CliError(
      e.exitCode,
      e.code,
      `${e.message}; ${pxp.map((v) => VIA_NAME[v]).join(' and ')} did not answer either`,
      e.fix,
      e.failure,
    )
  }
  return pxpNoAnswer(probed, g)
}

/** NAT-PMP/PCP (--protocol pmp|pcp) got no answer: exit 3, with what the router said. */
export function pxpNoAnswer(probed: ProbeReport | null, g: Globals): CliError {
  const via = g.protocol === 'pcp' ? 'pcp' : 'natpmp'
  const name = VIA_NAME[via]
  if (!probed || !probed.router) {
    return new CliError(
      EXIT.NO_GATEWAY,
      'NO_GATEWAY',
      `no router to ask over ${name}: ${probed?.error ?? 'this machine has no IPv4 default gateway'}`,
      "Give the router's address with --gateway <address>.",
    )
  }
  const report = probed[via]
  const failure = explainFailure({ result: UPNPResult.NO_GATEWAY, description: report.meaning, via })
  return new CliError(
    EXIT.NO_GATEWAY,
    'NO_GATEWAY',
    `the router ${probed.router} did not answer ${name} (${report.meaning})`,
    `Turn ${name} on in the router's settings (it often comes with UPnP), or use --protocol upnp.`,
    failure,
  )
}
