/** `map --keep`: a PortMapper holds and renews the mappings until Ctrl-C (or SIGTERM/SIGHUP),
 *  then deletes them; events are printed (or written as JSON Lines) as they happen. */
import { CliError, type Context, EXIT, type ExitCode, type Globals } from '../command.ts'
import { arrow, clock, duration } from '../format.ts'
import { type Found, routerOf } from '../gateways.ts'
import { JSON_SCHEMA, envelope, errorJson, gatewayJson, mappingJson } from '../json.ts'
import { explainMapping, holderOf, mappingText } from '../refusals.ts'
import { type UPNPErrorInfo, UPNPResult } from '../../lib/errors.ts'
import { VIA_NAME, codeText, explainFailure } from '../../lib/explain.ts'
import { explainPinholeFailure } from '../../lib/explain-pinholes.ts'
import { type UPNPDevice } from '../../lib/godot/device.ts'
import { type PortMapper } from '../../lib/portmapper/mapper.ts'
import { type Mapping } from '../../lib/portmapper/mapping.ts'
import { type Family, type Protocol, type Via } from '../../lib/types.ts'
import { runAs, whenOrphaned } from '../invocation.ts'

export interface MapPlan {
  port: number
  internal: number
  protocols: Protocol[]
  lease: number
  description: string
  /** 'ipv6': hold pinholes (this machine's own address and port). */
  family?: Family
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
  const { out } = ctx
  const s = out.out
  const router = routerOf(g)
  const ipv6 = plan.family === 'ipv6'
  const mapper: PortMapper = new ctx.lib.PortMapper({
    // UPnP: the gateway found above; NAT-PMP/PCP: the router (the default route's unless --gateway).
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
  const jsonEvent = (event: string, rest: object = {}) => out.json({ schema: JSON_SCHEMA, command: 'map', event, ...rest }, true)
  const asJson = (m: Mapping) => ({
    ...mappingJson(
      { via: m.via, protocol: m.protocol, externalPort: m.externalPort, internalPort: m.internalPort, description: m.description },
      m.externalAddress,
      m.internalClient,
      m.lease,
      m.requestedLease,
    ),
    ...(m.family === 'ipv6' ? { family: 'ipv6' as const } : {}),
  })

  const state: { stopping: Promise<ExitCode> | null } = { stopping: null }
  let resolveDone!: (code: ExitCode) => void
  const done = new Promise<ExitCode>((resolve) => {
    resolveDone = resolve
  })
  const stop = (signal: NodeJS.Signals) => {
    if (state.stopping) {
      // A second Ctrl-C: leave now, and say what may be left behind.
      out.spinner.stop()
      const left = mapper.mappings.map((m) => `${m.protocol} ${m.externalPort}`).join(', ')
      if (left)
        process.stderr.write(
          `upnp-native: stopped before the router confirmed; ${left} may still be mapped (delete with \`${runAs()} unmap ${plan.port}${ipv6 ? ' --ipv6' : ''}\`).\n`,
        )
      process.exit(EXIT.INTERRUPTED)
    }
    if (out.human && process.stdout.isTTY && signal === 'SIGINT') process.stdout.write('\n')
    out.spinner.start('Deleting the mapping…')
    state.stopping = mapper.close().then(
      () => {
        out.spinner.stop()
        for (const m of held) {
          out.line(
            ipv6
              ? `${s.green('Closed')} the IPv6 pinhole for ${m.protocol} ${m.externalPort}.`
              : `${s.green('Deleted')} ${m.protocol} ${m.externalPort} from the router.`,
          )
          jsonEvent('deleted', { mapping: asJson(m) })
        }
        jsonEvent('closed', { ok: true, exitCode: EXIT.OK, signal })
        return EXIT.OK as ExitCode
      },
      (error: unknown) => {
        out.spinner.stop()
        const e = error as UPNPErrorInfo & Error
        const failure = explainFailure(e)
        const cliError = new CliError(
          EXIT.FAILED,
          'DELETE_FAILED',
          `could not delete the mapping: ${codeText(failure)}`,
          `Delete it with \`${runAs()} unmap ${plan.port}${ipv6 ? ' --ipv6' : ''}\`; ${failure.fix}`,
          failure,
        )
        if (out.globals.json) jsonEvent('closed', { ok: false, exitCode: EXIT.FAILED, signal, error: errorJson(cliError) })
        else out.error(cliError, 'map')
        return EXIT.FAILED as ExitCode
      },
    )
    void state.stopping.then(resolveDone)
  }
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP']
  for (const signal of signals) process.on(signal, stop)
  ctx.onInterrupt = () => stop('SIGINT')
  // Through npx a SIGTERM for npm never reaches us, but its shell dies of it: same thing.
  const unwatch = whenOrphaned(() => stop('SIGTERM'))

  mapper.on('renewed', (m) => {
    out.info(s.dim(`${clock()}  renewed ${m.protocol} ${m.externalPort} (lease ${duration(m.lease)})`))
    jsonEvent('renewed', { mapping: asJson(m) })
  })
  mapper.on('lost', (m, reason) => {
    out.line(s.yellow(`${clock()}  lost ${m.protocol} ${m.externalPort}: ${reason}; mapping it again`))
    jsonEvent('lost', { mapping: asJson(m), reason })
  })
  mapper.on('restored', (m, previous) => {
    out.line(s.green(`${clock()}  restored ${mappingText(s, asJson(m))}`))
    jsonEvent('restored', { mapping: asJson(m), previousExternalPort: previous })
  })
  mapper.on('externalAddressChanged', (address, previous) => {
    out.line(s.yellow(`${clock()}  the external address changed: ${previous} ${arrow(s)} ${address}`))
    jsonEvent('external-address-changed', { externalAddress: address, previous })
  })
  mapper.on('error', (error) => {
    const failure = explainFailure(error)
    out.line(s.red(`${clock()}  ${error.message}; retrying`))
    jsonEvent('error', { failure })
  })

  const held: Mapping[] = []
  if (!gateway) out.spinner.start(`Asking the router (${router || 'default gateway'}) over ${VIA_NAME[via]}…`)
  try {
    for (const protocol of plan.protocols) {
      held.push(
        await mapper.map({
          internalPort: plan.internal,
          externalPort: plan.port,
          protocol,
          description: plan.description,
          lease: plan.lease,
          family: plan.family ?? 'ipv4',
        }),
      )
    }
  } catch (error) {
    out.spinner.stop()
    for (const signal of signals) process.off(signal, stop)
    ctx.onInterrupt = null
    unwatch()
    await mapper.close().catch(() => undefined) // all or nothing
    if (state.stopping) return state.stopping
    const e = error as UPNPErrorInfo & Error
    if (ipv6 && !gateway && e.result === UPNPResult.INVALID_GATEWAY && e.resultCode == null) {
      // Towards a link-local router a PCP pinhole would be for this machine's link-local address.
      throw new CliError(
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
      const failure = explainFailure({ ...e, via })
      throw new CliError(
        EXIT.NO_GATEWAY,
        'NO_GATEWAY',
        `the router (${router || 'the default gateway'}) did not answer ${VIA_NAME[via]}: ${e.description}`,
        `Turn ${VIA_NAME[via]} on in the router's settings (it often comes with UPnP), or use --protocol upnp.`,
        failure,
      )
    }
    const protocol = plan.protocols[held.length] ?? 'UDP'
    const by = gateway ? '' : ` over ${VIA_NAME[via]}`
    if (ipv6) {
      const failure = via === 'upnp' ? explainPinholeFailure(e) : explainFailure(e)
      throw new CliError(
        EXIT.FAILED,
        'PINHOLE_REFUSED',
        `the router refused${by} to open an IPv6 pinhole for ${protocol} ${plan.port}: ${codeText(failure)}`,
        failure.fix,
        failure,
      )
    }
    const asked = { externalPort: plan.port, internalPort: plan.internal, internalGiven: plan.internal !== plan.port }
    const failure = gateway ? explainMapping(e, gateway, plan.lease, asked) : explainFailure(e)
    const holder = gateway ? await holderOf(gateway, plan.port, protocol, failure) : ''
    const client = gateway?.igdOurAddr ?? 'this machine'
    throw new CliError(
      EXIT.FAILED,
      'MAPPING_REFUSED',
      `the router refused${by} to map ${protocol} ${plan.port} ${arrow(out.err)} ${client}:${plan.internal}: ${codeText(failure)}${holder}`,
      failure.fix,
      failure,
    )
  }
  out.spinner.stop()
  if (state.stopping) return done // Ctrl-C while mapping: close() deletes what was added

  out.json(
    envelope('map', EXIT.OK, {
      keep: true,
      via,
      gateway: gateway && found ? gatewayJson(ctx.lib, gateway, found.selected) : null,
      mappings: held.map(asJson),
    }),
    true,
  )
  for (const m of held) {
    const renew =
      m.lease > 0
        ? `lease ${duration(m.lease)}, renewed every ${duration(Math.max(1, Math.floor(m.lease / 2)))}`
        : 'permanent lease, checked every 5 min'
    out.line(`${s.green('Holding')} ${mappingText(s, asJson(m))}  ${s.dim(`(${renew})`)}`)
  }
  const what = ipv6 ? 'close the pinhole' : 'delete the mapping'
  out.info(`Press ${s.bold('Ctrl-C')} to ${what}${held.length > 1 ? 's' : ''} and exit.`)
  const code = await done
  for (const signal of signals) process.off(signal, stop)
  ctx.onInterrupt = null
  unwatch()
  return code
}
