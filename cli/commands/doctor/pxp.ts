/** doctor over NAT-PMP or PCP: the router answers, its address, a test mapping held and
 *  deleted by a PortMapper. */
import { DOCTOR_DESCRIPTION, DOCTOR_LEASE, DoctorRun, checkExternal, pickTestPort } from './checks.ts'
import { arrow, duration, serverUp } from '../../format.ts'
import { findEverything, pxpNoAnswer, routerOf } from '../../gateways.ts'
import { runAs } from '../../invocation.ts'
import type { UPNPErrorInfo } from '../../../lib/errors.ts'
import { VIA_NAME, codeText, explainFailure } from '../../../lib/explain.ts'
import { type PortMapper } from '../../../lib/portmapper/mapper.ts'
import { type Mapping } from '../../../lib/portmapper/mapping.ts'
import { type Protocol } from '../../../lib/types.ts'

/** doctor over NAT-PMP or PCP: the router answers, its address, a test mapping held and deleted
 *  by a PortMapper (these protocols keep no table to list). */
export async function doctorPxp(run: DoctorRun, via: 'natpmp' | 'pcp', wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { g, out, ctx } = run
  const s = out.out
  const name = VIA_NAME[via]
  const { probed } = await findEverything(ctx, g, 'all')
  run.probed = probed
  const report = probed?.[via]
  if (!probed || !report?.available) {
    const e = pxpNoAnswer(probed, g)
    run.fail(
      { id: 'discovery', summary: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.failure ? { failure: e.failure } : {}) },
      {
        code: 'no-gateway',
        summary: `The router${probed?.router ? ` ${probed.router}` : ''} does not answer ${name}.`,
        fix: e.fix ?? '',
      },
    )
    run.skipRest('discovery', 'skipped: no gateway')
    return
  }
  const up = report.epoch != null ? `, ${serverUp(report.epoch)}` : ''
  run.record({
    id: 'discovery',
    status: 'pass',
    summary: `${name} at ${probed.router} answered in ${Math.max(0.1, Math.round(report.latencyMs * 10) / 10)} ms${up}`,
  })
  if (via === 'natpmp') {
    run.record({
      id: 'connection',
      status: 'pass',
      summary: `connected: the router reports an external address; this machine is ${probed.localAddress}`,
    })
  } else {
    run.record({ id: 'connection', status: 'skip', summary: 'PCP does not say; the test mapping shows it' })
  }
  if (via === 'natpmp') {
    run.external = report.externalAddress
    checkExternal(run)
  }

  const router = routerOf(g)
  const mapper: PortMapper = new ctx.lib.PortMapper({
    via,
    ...(router ? { router } : {}),
    pxpBudget: Math.max(g.timeoutMs, 500),
    portRange: wantedPort ? [wantedPort, wantedPort] : [49152, 65535],
    maxAttempts: 1,
    cleanupOnExit: false,
  })
  mapper.on('error', () => undefined) // the checks below report failures
  const port = wantedPort ?? pickTestPort([])
  // NAT-PMP and PCP know a mapping by this machine's internal port: a test from the port the
  // user asked about would renew their own mapping of it (and then delete it). The test uses
  // an internal port of its own and asks for `port` outside; a taken port shows as another.
  let internal = port
  if (wantedPort !== null) while (internal === wantedPort) internal = pickTestPort([])
  out.spinner.start(`Test mapping ${protocol} ${port} over ${name}…`)
  let mapping: Mapping
  try {
    mapping = await mapper.map({
      internalPort: internal,
      externalPort: port,
      protocol,
      description: DOCTOR_DESCRIPTION,
      lease: DOCTOR_LEASE,
    })
  } catch (error) {
    out.spinner.stop()
    const failure = explainFailure({ ...(error as UPNPErrorInfo), via })
    if (via === 'pcp') run.record({ id: 'external-address', status: 'skip', summary: 'skipped: PCP tells it only with a mapping' })
    run.fail(
      {
        id: 'mapping',
        summary: `${protocol} ${port} ${arrow(s)} ${probed.localAddress}:${internal} refused: ${codeText(failure)}`,
        fix: failure.fix,
        failure,
      },
      {
        code: 'mapping-refused',
        summary: `The router refused the test mapping ${protocol} ${port} over ${name} with ${codeText(failure)}: ${failure.meaning}`,
        fix: failure.fix,
      },
    )
    run.skipRest('mapping', 'skipped: nothing was mapped')
    await mapper.close().catch(() => undefined)
    return
  }
  out.spinner.stop()
  if (via === 'pcp') {
    run.external = mapping.externalAddress
    checkExternal(run)
  }
  recordMapping(run, mapping, port, internal, wantedPort)
  run.record({ id: 'listed', status: 'skip', summary: `${name} keeps no table to read back; the router's answer is the confirmation` })
  out.spinner.start('Deleting the test mapping…')
  try {
    await mapper.close()
    out.spinner.stop()
    run.record({ id: 'cleanup', status: 'pass', summary: 'test mapping deleted' })
  } catch (error) {
    out.spinner.stop()
    const failure = explainFailure({ ...(error as UPNPErrorInfo), via })
    const fix = `It expires by itself in ${duration(mapping.lease)}.`
    run.record({ id: 'cleanup', status: 'warn', summary: `could not delete the test mapping: ${codeText(failure)}`, fix, failure })
    run.problems.push({
      code: 'cleanup-failed',
      summary: `The test mapping ${protocol} ${mapping.externalPort} could not be deleted.`,
      fix,
    })
  }
}

/** Check 4 over NAT-PMP/PCP: what the router granted the test mapping. When the port asked
 *  about is held (a mapping of this machine or another device's) or not allowed, these routers
 *  offer another rather than refuse: a warning, and nothing on that port was changed. */
function recordMapping(run: DoctorRun, mapping: Mapping, port: number, internal: number, wantedPort: number | null): void {
  const { protocol } = mapping
  const moved = mapping.externalPort !== port ? ` (the router chose external port ${mapping.externalPort})` : ''
  const inside = internal !== port ? ` (to a test port, so that a mapping of this machine's ${port} is left alone)` : ''
  const summary = `${protocol} ${mapping.externalPort} ${arrow(run.out.out)} ${mapping.internalClient}:${internal} accepted for ${duration(mapping.lease)}${moved}${inside}`
  if (wantedPort === null || mapping.externalPort === wantedPort) {
    run.record({ id: 'mapping', status: 'pass', summary })
    return
  }
  const fix = `Mappings work, but not on ${wantedPort}: use another port (1024 or above), or find what holds it (\`${runAs()} list\` shows UPnP mappings).`
  run.record({ id: 'mapping', status: 'warn', summary, fix })
  run.problems.push({
    code: 'port-unavailable',
    summary: `${protocol} ${wantedPort} is taken or not allowed on the router: it gave the test mapping ${mapping.externalPort} instead (and changed nothing on ${wantedPort}).`,
    fix,
  })
}
