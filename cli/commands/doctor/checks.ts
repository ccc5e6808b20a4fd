/** The doctor's checks: their order and titles, one run's record of them, the verdict codes. */
import type { Context, Globals } from '../../command.ts'
import { natFix, natKind } from '../../format.ts'
import { type Found } from '../../gateways.ts'
import { type Output } from '../../output.ts'
import { type Explanation } from '../../../lib/explain.ts'
import { type ProbeReport } from '../../../lib/probe.ts'
import type { NatView } from '../../../lib/reachability/nat-view.ts'
import type { ReachabilityReport } from '../../../lib/reachability/check.ts'
import { type JsonIpv6Inbound } from '../../ipv6.ts'
import type { PortMappingEntry, Via } from '../../../lib/types.ts'

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'info'
export type CheckId =
  | 'discovery'
  | 'connection'
  | 'external-address'
  | 'mapping'
  | 'listed'
  | 'cleanup'
  | 'ipv6'
  | 'protocols'
  | 'public-address'
  | 'reachability'
export interface Check {
  id: CheckId
  title: string
  status: CheckStatus
  summary: string
  fix?: string
  failure?: Explanation
}
export type VerdictCode =
  | 'ok'
  | 'no-gateway'
  | 'not-connected'
  | 'gateway-unusable'
  | 'double-nat'
  | 'cgnat'
  | 'no-external-address'
  | 'mapping-refused'
  | 'port-taken'
  | 'port-unavailable'
  | 'not-listed'
  | 'cleanup-failed'
  | 'discovery-failed'
  | 'ipv6-blocked'
  | 'upstream-nat'
  | 'not-reachable'
export interface Problem {
  code: VerdictCode
  summary: string
  fix: string
}

export const DOCTOR_DESCRIPTION = 'upnp-native doctor (test)'
export const DOCTOR_LEASE = 120
const CHECK_ORDER: CheckId[] = ['discovery', 'connection', 'external-address', 'mapping', 'listed', 'cleanup']
const CHECK_TITLES: Record<CheckId, string> = {
  discovery: 'Gateway',
  connection: 'Connection',
  'external-address': 'External address',
  mapping: 'Test mapping',
  listed: 'Listed',
  cleanup: 'Cleanup',
  ipv6: 'IPv6 inbound',
  protocols: 'NAT-PMP, PCP',
  'public-address': 'From outside',
  reachability: 'Reachable',
}

/** One doctor run: the checks as they are made (printed at once), the problems found. */
export class DoctorRun {
  readonly checks: Check[] = []
  readonly problems: Problem[] = []
  found: Found | null = null
  probed: ProbeReport | null = null
  external = ''
  /** Whether inbound IPv6 can be opened (null: no UPnP gateway to ask). */
  ipv6Inbound: JsonIpv6Inbound | null = null
  /** With --stun: the view from outside and the probe mapping's check. */
  stun: { nat: NatView; reachability: ReachabilityReport | null } | null = null

  constructor(
    readonly g: Globals,
    readonly ctx: Context,
    readonly via: Via,
  ) {}

  get out(): Output {
    return this.ctx.out
  }

  record(check: Omit<Check, 'title'>): void {
    const s = this.out.out
    const mark: Record<CheckStatus, string> = {
      pass: s.green('✔'),
      warn: s.yellow('!'),
      fail: s.red('✖'),
      skip: s.dim('–'),
      info: s.cyan('ℹ'),
    }
    const full = { ...check, title: CHECK_TITLES[check.id] }
    this.checks.push(full)
    this.out.info(`${mark[full.status]} ${s.bold(full.title.padEnd(17))}${full.status === 'skip' ? s.dim(full.summary) : full.summary}`)
  }

  fail(check: Omit<Check, 'title' | 'status'>, problem: Problem): void {
    this.record({ ...check, status: 'fail' })
    this.problems.push(problem)
  }

  skipRest(after: CheckId, why: string): void {
    for (const id of CHECK_ORDER.slice(CHECK_ORDER.indexOf(after) + 1)) this.record({ id, status: 'skip', summary: why })
  }
}

/** Check 3: the external address is public, private (double NAT), shared (CGNAT) or missing. */
export function checkExternal(run: DoctorRun): void {
  const external = run.external
  const nat = natKind(run.ctx.lib, external)
  if (nat === 'none') {
    run.record({ id: 'external-address', status: 'pass', summary: `${external} is public (no double NAT)` })
  } else if (nat === 'unknown') {
    const fix = "Check the router's Internet (WAN) connection; restart it if the address stays empty."
    run.fail(
      { id: 'external-address', summary: 'the gateway reports no external address', fix },
      { code: 'no-external-address', summary: 'The gateway does not report an external address.', fix },
    )
  } else {
    const fix = natFix(nat)
    run.fail(
      {
        id: 'external-address',
        summary: nat === 'cgnat' ? `${external} is carrier-grade NAT (100.64.0.0/10)` : `${external} is private: double NAT`,
        fix,
      },
      {
        code: nat,
        summary:
          nat === 'cgnat'
            ? `Carrier-grade NAT: the router's external address ${external} is shared by the ISP; ports it maps are not reachable from the Internet.`
            : `Double NAT: the router's external address ${external} is private, so another router or the ISP does NAT upstream; ports mapped here are not reachable from the Internet.`,
        fix,
      },
    )
  }
}

/** A high port nobody uses on the router (IANA's dynamic range). */
export function pickTestPort(taken: PortMappingEntry[]): number {
  const used = new Set(taken.map((e) => e.externalPort))
  for (let i = 0; i < 100; i++) {
    const port = 49152 + Math.floor(Math.random() * (65535 - 49152))
    if (!used.has(port)) return port
  }
  return 54321
}
