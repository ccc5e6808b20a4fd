/** doctor --stun: the view from outside (public address, NAT behaviour) and a probe mapping
 *  checked from outside, as `upnp-native check` does. */
import { behaviourText, natFor, probeMapperOptions, reachableWord } from '../check.ts'
import type { DoctorRun } from './checks.ts'
import type { ReachabilityReport } from '../../../lib/reachability/check.ts'

/** Records the view from outside (`public-address`) and the probe mapping's check from
 *  outside (`reachability`) in the doctor's run. */
export async function doctorStun(run: DoctorRun, stun: string[]): Promise<void> {
  const { g, out, ctx } = run
  out.spinner.start('Asking the STUN server how this network looks from outside…')
  const nat = await natFor(ctx.lib, g, stun).finally(() => out.spinner.stop())
  run.stun = { nat, reachability: null }
  const upstream = nat.relation === 'double-nat' || nat.relation === 'cgnat' || nat.relation === 'upstream-nat'
  if (!nat.publicAddress) {
    run.record({ id: 'public-address', status: 'warn', summary: `unknown: ${nat.notes[0] ?? 'no STUN server answered'}` })
  } else if (nat.relation === 'same' || nat.relation === 'no-nat' || nat.relation === 'unknown') {
    run.record({
      id: 'public-address',
      status: 'pass',
      summary: `${nat.publicAddress}: ${nat.explanation}; ${behaviourText(nat)}`,
    })
  } else {
    const fix =
      nat.relation === 'double-nat'
        ? 'Put the upstream modem/router in bridge mode, or forward the port on it as well.'
        : 'Ask the ISP for a public IPv4 address (or for the port to be forwarded on its NAT), or reach this machine over IPv6.'
    run.fail(
      { id: 'public-address', summary: nat.explanation, fix },
      { code: nat.relation, summary: `Seen from outside: ${nat.explanation}; ports mapped on the router are not reachable.`, fix },
    )
  }
  out.spinner.start('Mapping a probe port and asking for an answer from the other address…')
  let report: ReachabilityReport
  try {
    report = await ctx.lib.checkReachability({ stun, via: run.via, mapper: probeMapperOptions(g) })
  } catch (error) {
    out.spinner.stop()
    run.record({
      id: 'reachability',
      status: 'skip',
      summary: `skipped: the probe mapping could not be made (${(error as Error).message})`,
    })
    return
  }
  out.spinner.stop()
  run.stun.reachability = report
  const summary = `${reachableWord(report)}: ${report.reason}`
  if (report.verdict === 'reachable' || report.verdict === 'reachable-anyway') {
    run.record({ id: 'reachability', status: report.repaired ? 'warn' : 'pass', summary, ...(report.fix ? { fix: report.fix } : {}) })
  } else if (report.verdict === 'cannot-tell') {
    run.record({ id: 'reachability', status: 'warn', summary, fix: report.fix })
  } else if (upstream) {
    // The NAT beyond the router is already the verdict; this is its proof.
    run.record({ id: 'reachability', status: 'fail', summary, fix: report.fix })
  } else {
    run.fail(
      { id: 'reachability', summary, fix: report.fix },
      { code: 'not-reachable', summary: `The probe mapping was not reachable from outside: ${report.reason}.`, fix: report.fix },
    )
  }
}
