/** `map --keep`: a PortMapper holds and renews the mappings until Ctrl-C (or SIGTERM/SIGHUP),
 *  then deletes them; events are printed (or written as JSON Lines) as they happen. */
import { VERIFY_INTERVAL_MS } from '../../../lib/defaults.ts'
import { type UPNPErrorInfo, UPNPResult } from '../../../lib/errors.ts'
import { VIA_NAME, codeText, explainFailure } from '../../../lib/explain.ts'
import { explainPinholeFailure } from '../../../lib/explain-pinholes.ts'
import { type UPNPDevice } from '../../../lib/godot/device.ts'
import { type PortMapper } from '../../../lib/portmapper/mapper.ts'
import { type Mapping } from '../../../lib/portmapper/mapping.ts'
import { type Family, type Protocol, type Via } from '../../../lib/types.ts'
import { CliError, type Context, EXIT, type ExitCode, type Globals } from '../../command.ts'
import { arrow, clock, duration } from '../../format.ts'
import { type Found, routerOf } from '../../gateways.ts'
import { runAs, whenOrphaned } from '../../invocation.ts'
import { JSON_SCHEMA, envelope, errorJson, gatewayJson, mappingJson } from '../../json.ts'
import { explainMapping, holderOf, mappingText, refusalError } from '../../refusals.ts'

/** What `map` holds: the ports, protocols, lease and description asked for. */
export interface MapPlan {
  port: number
  internal: number
  protocols: Protocol[]
  lease: number
  description: string
  /** 'ipv6': hold pinholes (this machine's own address and port). */
  family?: Family
}

/** One `map --keep` run: what it holds, over what, and how it reports. */
interface Keep {
  ctx: Context
  g: Globals
  plan: MapPlan
  via: Via
  /** The UPnP gateway (or pinhole device) found before; null over NAT-PMP/PCP. */
  gateway: UPNPDevice | null
  mapper: PortMapper
  /** The mappings made so far, in the order of `plan.protocols`. */
  held: Mapping[]
}

/** How a run stops: on Ctrl-C, SIGTERM, SIGHUP or when npx's shell dies. */
interface Stopper {
  /** Settles with the exit code once the mappings are deleted (or could not be). */
  done: Promise<ExitCode>
  /** The deletion under way, or null before a stop. */
  stopping(): Promise<ExitCode> | null
  /** Stops listening for the signals. */
  release(): void
}

/** `map --keep`: a PortMapper holds and renews the mappings until Ctrl-C (or SIGTERM/SIGHUP), then deletes them. */
export async function keepMapping(
  ctx: Context,
  g: Globals,
  found: Found | null,
  gateway: UPNPDevice | null,
  via: Via,
  plan: MapPlan,
): Promise<ExitCode> {
  const k: Keep = { ctx, g, plan, via, gateway, mapper: holdingMapper(ctx, g, gateway, via, plan), held: [] }
  const stopper = stopOnSignals(k)
  reportEvents(k)
  try {
    await mapAll(k)
  } catch (error) {
    ctx.out.spinner.stop()
    stopper.release()
    await k.mapper.close().catch(() => undefined) // all or nothing
    const stopping = stopper.stopping()
    if (stopping) return stopping
    throw await refusal(k, error as UPNPErrorInfo & Error)
  }
  ctx.out.spinner.stop()
  if (stopper.stopping()) return stopper.done // Ctrl-C while mapping: close() deletes what was added
  printHolding(k, found)
  const code = await stopper.done
  stopper.release()
  return code
}

/** The PortMapper that holds the plan: on the UPnP gateway found, or over NAT-PMP/PCP at the
 *  router (the default route's unless --gateway); only the port asked for. */
function holdingMapper(ctx: Context, g: Globals, gateway: UPNPDevice | null, via: Via, plan: MapPlan): PortMapper {
  const router = routerOf(g)
  return new ctx.lib.PortMapper({
    ...(gateway
      ? { gateway }
      : {
          via,
          ...(router ? { [plan.family === 'ipv6' ? 'router6' : 'router']: router } : {}),
          pxpBudget: Math.max(g.timeoutMs, 500),
        }),
    lease: plan.lease,
    // The port asked for, or nothing: no wandering to another port on a conflict.
    portRange: [plan.port, plan.port],
    maxAttempts: 1,
    cleanupOnExit: false, // the CLI deletes on its own signal handlers below, and says so
    keepAlive: true,
  })
}

/** A mapping in the JSON documents and events. */
function asJson(m: Mapping) {
  return {
    ...mappingJson(
      { via: m.via, protocol: m.protocol, externalPort: m.externalPort, internalPort: m.internalPort, description: m.description },
      m.externalAddress,
      m.internalClient,
      m.lease,
      m.requestedLease,
    ),
    ...(m.family === 'ipv6' ? { family: 'ipv6' as const } : {}),
  }
}

/** One JSON Lines event of this run. */
function jsonEvent(k: Keep, event: string, rest: object = {}): void {
  k.ctx.out.json({ schema: JSON_SCHEMA, command: 'map', event, ...rest }, true)
}

/** `unmap <port>` with this run's flags, for the hints. */
function unmapHint(k: Keep): string {
  return `${runAs()} unmap ${k.plan.port}${k.plan.family === 'ipv6' ? ' --ipv6' : ''}`
}

/** Deletes the mappings on the first stop; a second one leaves at once. */
function stopOnSignals(k: Keep): Stopper {
  const { ctx } = k
  let stopping: Promise<ExitCode> | null = null
  let resolveDone!: (code: ExitCode) => void
  const done = new Promise<ExitCode>((resolve) => {
    resolveDone = resolve
  })
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) leaveNow(k)
    if (ctx.out.human && process.stdout.isTTY && signal === 'SIGINT') process.stdout.write('\n')
    ctx.out.spinner.start('Deleting the mapping…')
    stopping = closeAll(k, signal)
    void stopping.then(resolveDone)
  }
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP']
  for (const signal of signals) process.on(signal, stop)
  ctx.onInterrupt = () => stop('SIGINT')
  // Through npx a SIGTERM for npm never reaches us, but its shell dies of it: same thing.
  const unwatch = whenOrphaned(() => stop('SIGTERM'))
  return {
    done,
    stopping: () => stopping,
    release() {
      for (const signal of signals) process.off(signal, stop)
      ctx.onInterrupt = null
      unwatch()
    },
  }
}

/** A second Ctrl-C: leave now, and say what may be left behind. */
function leaveNow(k: Keep): never {
  k.ctx.out.spinner.stop()
  const left = k.mapper.mappings.map((m) => `${m.protocol} ${m.externalPort}`).join(', ')
  if (left)
    process.stderr.write(
      `upnp-native: stopped before the router confirmed; ${left} may still be mapped (delete with \`${unmapHint(k)}\`).\n`,
    )
  process.exit(EXIT.INTERRUPTED)
}

/** Deletes everything held and says so; the exit code. */
function closeAll(k: Keep, signal: NodeJS.Signals): Promise<ExitCode> {
  const { out } = k.ctx
  const s = out.out
  return k.mapper.close().then(
    () => {
      out.spinner.stop()
      for (const m of k.held) {
        out.line(
          k.plan.family === 'ipv6'
            ? `${s.green('Closed')} the IPv6 pinhole for ${m.protocol} ${m.externalPort}.`
            : `${s.green('Deleted')} ${m.protocol} ${m.externalPort} from the router.`,
        )
        jsonEvent(k, 'deleted', { mapping: asJson(m) })
      }
      jsonEvent(k, 'closed', { ok: true, exitCode: EXIT.OK, signal })
      return EXIT.OK as ExitCode
    },
    (error: unknown) => {
      out.spinner.stop()
      const failure = explainFailure(error as UPNPErrorInfo & Error)
      const cliError = new CliError(
        EXIT.FAILED,
        'DELETE_FAILED',
        `could not delete the mapping: ${codeText(failure)}`,
        `Delete it with \`${unmapHint(k)}\`; ${failure.fix}`,
        failure,
      )
      if (out.globals.json) jsonEvent(k, 'closed', { ok: false, exitCode: EXIT.FAILED, signal, error: errorJson(cliError) })
      else out.error(cliError, 'map')
      return EXIT.FAILED as ExitCode
    },
  )
}

/** The mapper's events as lines (and JSON Lines events) while it holds the mappings. */
function reportEvents(k: Keep): void {
  const { out } = k.ctx
  const s = out.out
  k.mapper.on('renewed', (m) => {
    out.info(s.dim(`${clock()}  renewed ${m.protocol} ${m.externalPort} (lease ${duration(m.lease)})`))
    jsonEvent(k, 'renewed', { mapping: asJson(m) })
  })
  k.mapper.on('lost', (m, reason) => {
    out.line(s.yellow(`${clock()}  lost ${m.protocol} ${m.externalPort}: ${reason}; mapping it again`))
    jsonEvent(k, 'lost', { mapping: asJson(m), reason })
  })
  k.mapper.on('restored', (m, previous) => {
    out.line(s.green(`${clock()}  restored ${mappingText(s, asJson(m))}`))
    jsonEvent(k, 'restored', { mapping: asJson(m), previousExternalPort: previous })
  })
  k.mapper.on('externalAddressChanged', (address, previous) => {
    out.line(s.yellow(`${clock()}  the external address changed: ${previous} ${arrow(s)} ${address}`))
    jsonEvent(k, 'external-address-changed', { externalAddress: address, previous })
  })
  k.mapper.on('error', (error) => {
    const failure = explainFailure(error)
    out.line(s.red(`${clock()}  ${error.message}; retrying`))
    jsonEvent(k, 'error', { failure })
  })
}

/** Maps each protocol of the plan in turn (all or nothing: the caller closes on a failure). */
async function mapAll(k: Keep): Promise<void> {
  const { plan } = k
  if (!k.gateway) k.ctx.out.spinner.start(`Asking the router (${routerOf(k.g) || 'default gateway'}) over ${VIA_NAME[k.via]}…`)
  for (const protocol of plan.protocols) {
    k.held.push(
      await k.mapper.map({
        internalPort: plan.internal,
        externalPort: plan.port,
        protocol,
        description: plan.description,
        lease: plan.lease,
        family: plan.family ?? 'ipv4',
      }),
    )
  }
}

/** Why the mapping could not be held, as the CLI's error. */
async function refusal(k: Keep, e: UPNPErrorInfo & Error): Promise<CliError> {
  const { plan, via, gateway } = k
  const router = routerOf(k.g)
  if (plan.family === 'ipv6' && !gateway && e.result === UPNPResult.INVALID_GATEWAY && e.resultCode == null) {
    // Towards a link-local router a PCP pinhole would be for this machine's link-local address.
    return new CliError(
      EXIT.FAILED,
      'PINHOLE_REFUSED',
      `cannot open an IPv6 pinhole over PCP: ${e.description.replace(/; give router6 .*$/, '')}`,
      "Name the router by its global or unique-local IPv6 address: --gateway <address> (or leave out --protocol pcp to use UPnP's IPv6 firewall service).",
      {
        ...explainFailure({ ...e, via }),
        meaning:
          "a PCP pinhole is for the address the request comes from, and towards a link-local router that is this machine's link-local address, which nothing beyond the LAN reaches.",
        fix: 'Name the router by its global or unique-local IPv6 address with --gateway.',
      },
    )
  }
  if (!gateway && e.resultCode == null) {
    // NAT-PMP/PCP got no answer at all: there is no such gateway, nothing was refused.
    return new CliError(
      EXIT.NO_GATEWAY,
      'NO_GATEWAY',
      `the router (${router || 'the default gateway'}) did not answer ${VIA_NAME[via]}: ${e.description}`,
      `Turn ${VIA_NAME[via]} on in the router's settings (it often comes with UPnP), or use --protocol upnp.`,
      explainFailure({ ...e, via }),
    )
  }
  const protocol = plan.protocols[k.held.length] ?? 'UDP'
  const over = gateway ? {} : { over: via }
  if (plan.family === 'ipv6') {
    const failure = via === 'upnp' ? explainPinholeFailure(e) : explainFailure(e)
    return refusalError('PINHOLE_REFUSED', `open an IPv6 pinhole for ${protocol} ${plan.port}`, failure, over)
  }
  const asked = { externalPort: plan.port, internalPort: plan.internal, internalGiven: plan.internal !== plan.port }
  const failure = gateway ? explainMapping(e, gateway, plan.lease, asked) : explainFailure(e)
  const holder = gateway ? await holderOf(gateway, plan.port, protocol, failure) : ''
  const client = gateway?.igdOurAddr ?? 'this machine'
  const to = `${arrow(k.ctx.out.err)} ${client}:${plan.internal}`
  return refusalError('MAPPING_REFUSED', `map ${protocol} ${plan.port} ${to}`, failure, { ...over, after: holder })
}

/** What is held now, and how to stop. */
function printHolding(k: Keep, found: Found | null): void {
  const { out } = k.ctx
  const s = out.out
  out.json(
    envelope('map', EXIT.OK, {
      keep: true,
      via: k.via,
      gateway: k.gateway && found ? gatewayJson(k.ctx.lib, k.gateway, found.selected) : null,
      mappings: k.held.map(asJson),
    }),
    true,
  )
  for (const m of k.held) {
    const renew =
      m.lease > 0
        ? `lease ${duration(m.lease)}, renewed every ${duration(Math.max(1, Math.floor(m.lease / 2)))}`
        : `permanent lease, checked every ${VERIFY_INTERVAL_MS / 60_000} min`
    out.line(`${s.green('Holding')} ${mappingText(s, asJson(m))}  ${s.dim(`(${renew})`)}`)
  }
  const what = k.plan.family === 'ipv6' ? 'close the pinhole' : 'delete the mapping'
  out.info(`Press ${s.bold('Ctrl-C')} to ${what}${k.held.length > 1 ? 's' : ''} and exit.`)
}
