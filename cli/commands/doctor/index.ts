/** `upnp-native doctor`: every check in order, a verdict and the fix. */
import { parsePort, parseProtocols } from '../../args.ts'
import { type Command, type Context, EXIT, type ExitCode, type Invocation, usage } from '../../command.ts'
import { DoctorRun } from './checks.ts'
import { doctorPxp } from './pxp.ts'
import { doctorUpnp } from './upnp.ts'
import { checkIpv6Inbound } from './pinhole.ts'
import { doctorStun } from './stun.ts'
import { stunServers } from '../check.ts'
import type { Replaced } from './redact.ts'
import { startReport, writeReport } from './report.ts'
import { seconds } from '../../format.ts'
import { defaultRoute, searchWhere } from '../../gateways.ts'
import { envelope, gatewayJson, protocolsJson } from '../../json.ts'
import { VIA_NAME } from '../../../lib/explain.ts'
import { type Protocol, type Via } from '../../../lib/types.ts'
import { runAs } from '../../invocation.ts'

async function run(parsed: Invocation, ctx: Context): Promise<ExitCode> {
  const { out } = ctx
  const g = parsed.globals
  if (parsed.positionals.length)
    throw usage(
      `\`doctor\` takes no arguments, got: ${parsed.positionals.join(' ')}`,
      `To test a particular port: ${runAs()} doctor --port 7777`,
    )
  const wantedPort = parsed.values.port === undefined ? null : parsePort(String(parsed.values.port), '--port')
  const protocol: Protocol = parseProtocols(parsed.values)[0] ?? 'UDP'
  const via: Via = g.protocol === 'auto' ? 'upnp' : g.protocol
  const stun = stunServers(parsed.values)
  const report = startReport(parsed.values)
  const run = new DoctorRun(g, ctx, via)
  const what = g.protocol === 'auto' ? 'UPnP, and whether NAT-PMP and PCP answer' : VIA_NAME[via]
  out.info(out.out.bold('upnp-native doctor') + out.out.dim(` (${what}; ${searchWhere(g)}, ${seconds(g.timeoutMs)} search)`))
  if (via === 'upnp') {
    await doctorUpnp(run, wantedPort, protocol)
    await checkIpv6Inbound(run)
  } else await doctorPxp(run, via, wantedPort, protocol)
  if (stun.length && !g.ipv6) await doctorStun(run, stun)
  return finishDoctor(run, report && ((doctor) => writeReport(report, ctx.lib, g, parsed.values, doctor)))
}

/** For `auto`: whether the router also speaks NAT-PMP and PCP (informational, no verdict). */
function recordProtocols(run: DoctorRun): void {
  const probed = run.probed
  if (run.g.protocol !== 'auto') return
  if (!probed || !probed.router) {
    run.record({ id: 'protocols', status: 'info', summary: `not asked: ${probed?.error ?? 'no IPv4 default gateway'}` })
    return
  }
  const yes = (['natpmp', 'pcp'] as const).filter((v) => probed[v].available).map((v) => VIA_NAME[v])
  const address =
    probed.natpmp.available && probed.natpmp.externalAddress
      ? ` (NAT-PMP says the external address is ${probed.natpmp.externalAddress})`
      : ''
  const summary =
    yes.length === 2
      ? `both answer at ${probed.router}${address}`
      : yes.length === 1
        ? `${yes[0]} answers at ${probed.router}, ${yes[0] === 'PCP' ? 'NAT-PMP' : 'PCP'} does not${address}`
        : `neither answers at ${probed.router}`
  run.record({ id: 'protocols', status: 'info', summary })
}

/** Writes the run's report (--report), given the doctor's document. */
type ReportWriter = (doctor: object) => Promise<{ file: string; redacted: boolean; replaced?: Replaced }>

async function finishDoctor(run: DoctorRun, writeReportOf: ReportWriter | null): Promise<ExitCode> {
  const { out, found, via, ctx } = run
  recordProtocols(run)
  const s = out.out
  const first = run.problems[0]
  const ok = !first
  const verdict = first ?? {
    code: 'ok' as const,
    summary: run.g.ipv6
      ? `IPv6 pinholes work: ports opened on this router are reachable at this machine's own address ${run.external} (as far as the router can tell: a firewall at the ISP is not visible from here).`
      : `${VIA_NAME[via]} port forwarding works: ports mapped on this router are reachable at ${run.external} (as far as the router can tell: a firewall at the ISP is not visible from here).`,
    fix: '',
  }
  const exitCode: ExitCode = ok
    ? EXIT.OK
    : ['no-gateway', 'not-connected', 'gateway-unusable'].includes(verdict.code)
      ? EXIT.NO_GATEWAY
      : EXIT.FAILED
  const document = {
    via,
    verdict: { code: verdict.code, summary: verdict.summary, ...(verdict.fix ? { fix: verdict.fix } : {}) },
    problems: run.problems.map((v) => ({ code: v.code, summary: v.summary, fix: v.fix })),
    checks: run.checks.map(({ title: _title, ...c }) => c),
    gateways: (found?.devices ?? []).map((d) => gatewayJson(ctx.lib, d, found?.selected ?? null)),
    protocols: protocolsJson(run.probed),
    defaultRoute: found?.route ?? (await defaultRoute(ctx.lib)),
    ipv6Inbound: run.ipv6Inbound,
    ...(run.stun ? { stun: run.stun } : {}),
  }
  const report = writeReportOf && (await writeReportOf(envelope('doctor', exitCode, document)))
  if (out.globals.json) {
    out.json(envelope('doctor', exitCode, { ...document, ...(report ? { report } : {}) }))
    return exitCode
  }
  if (!out.globals.quiet) out.line()
  const label = ok ? s.green(s.bold('Verdict:')) : s.red(s.bold('Verdict:'))
  out.line(`${label} ${verdict.summary}`)
  if (verdict.fix && !out.globals.quiet) out.line(`${s.bold('Fix:')} ${verdict.fix}`)
  for (const more of run.problems.slice(1)) {
    if (!out.globals.quiet) out.line(`${s.bold('Also:')} ${more.summary} ${s.dim(more.fix)}`)
  }
  if (report) out.info(reportLine(report))
  return exitCode
}

function reportLine(report: { file: string; redacted: boolean; replaced?: Replaced }): string {
  if (!report.redacted)
    return `Report: ${report.file} (not redacted: it holds your public address and device identifiers; do not publish it)`
  const what = Object.entries(report.replaced ?? {})
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : kind.endsWith('s') ? 'es' : 's'}`)
  return `Report: ${report.file} (redacted${what.length ? `: ${what.join(', ')} replaced` : ''}; attach it to an issue)`
}

export const doctorCommand: Command = {
  name: 'doctor',
  synopsis: 'doctor',
  summary: 'check everything, say what is wrong and how to fix it',
  options: {
    port: { type: 'string' },
    udp: { type: 'boolean' },
    tcp: { type: 'boolean' },
    stun: { type: 'string', multiple: true },
    report: { type: 'string' },
    'no-redact': { type: 'boolean' },
  },
  help: `Usage: upnp-native doctor [--port <port>] [--udp|--tcp] [options]

Runs every check in order and ends with a verdict and the fix:
  1. a gateway answers           (else: UPnP off? wrong interface? --interface)
  2. it is connected             (else: the router's Internet link is down)
  3. its external address        (private or 100.64/10: double NAT / carrier-grade NAT)
  4. a test mapping is accepted  (else: the router's error code and what it means)
  5. the router lists it         (else: the router pretends)
  6. the test mapping is deleted
  and whether inbound IPv6 can be opened (the router's IPv6 firewall lets programs open
  pinholes) and whether the router also speaks NAT-PMP and PCP. With --ipv6 (a search over
  IPv6) checks 3-6 test an IPv6 pinhole instead: this machine's IPv6 address, a test
  pinhole opened, held and closed. --protocol pmp or pcp runs the same
  checks over NAT-PMP or PCP instead.
  --port <port>        the port to test (default: a free one from 49152-65535)
  --udp, --tcp         the protocol to test (default UDP)
  --stun <host[:port]> also the view from outside: the public address against the router's,
                       the NAT's behaviour, and a UDP probe mapping checked from outside
                       (as \`upnp-native check\`; a STUN server with RFC 5780, none built in)
  --report <file>      also write everything the run saw (every exchange, the route, the
                       verdict) to <file> as JSON, redacted: public addresses, MAC addresses,
                       UUIDs, serial numbers and personal names become placeholders. Attach it
                       to an issue: it replays as your router in upnp-native's test lab.
  --no-redact          with --report: keep the real values (for your own use)

Exit: 0 all good, 1 a problem was found, 3 no usable gateway.

Examples:
  upnp-native doctor
  upnp-native doctor --port 25565 --tcp
  upnp-native doctor --protocol pmp
  upnp-native doctor --interface wlan0 --json
  upnp-native doctor --ipv6
  upnp-native doctor --report router.json`,
  run,
}
