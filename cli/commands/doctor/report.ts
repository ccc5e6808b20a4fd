/**
 * `doctor --report FILE`: one self-contained JSON file with everything the run saw, for a bug
 * report that becomes a zoo device (`__test__/zoo/from-report.ts`, `lab.sh replay FILE`):
 * every exchange (SSDP replies, descriptions, SOAP, NAT-PMP/PCP, with timings), the route and
 * interfaces, and the doctor's own document (checks, verdict, gateways). Redacted unless
 * --no-redact (`redact.ts`); the schema is `report-schema.json` (docs/troubleshooting.md,
 * "The report"), versioned by `version`.
 *
 * The records come from the library's `diagnostics_channel` channels: subscribing to them
 * for the run is what makes the library trace its calls.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { channelName, LOG_SECTIONS, type LogRecord } from '../../../lib/log/records.ts'
import { CliError, EXIT, type Globals, type Library, type OptionValues, usage } from '../../command.ts'
import { packageVersion } from '../../version.ts'
import { REDACTION_NOTE, type RedactionKind, redact, type Replaced } from './redact.ts'

/** What the file says it is, and its schema's version (bumped only for a breaking change). */
export const REPORT_FORMAT = 'upnp-native-doctor-report'
export const REPORT_VERSION = 1
/** Records one report keeps (each bounded by the library's caps); more are counted. */
const MAX_RECORDS = 20_000

/** One exchange in the file: the record, and when it happened since the run started. */
export type ReportExchange = Omit<LogRecord, 'time'> & { t: number }

/** A requested report: where it goes, whether it is redacted, what it has recorded so far. */
export class ReportRecorder {
  readonly exchanges: ReportExchange[] = []
  dropped = 0
  readonly #started = Date.now()
  readonly #take = (message: unknown): void => {
    if (this.exchanges.length >= MAX_RECORDS) {
      this.dropped++
      return
    }
    const { time, ...rest } = message as LogRecord
    this.exchanges.push({ t: time - this.#started, ...rest })
  }

  constructor(
    readonly file: string,
    readonly redacted: boolean,
  ) {
    for (const section of LOG_SECTIONS) diagnosticsChannel.subscribe(channelName(section), this.#take)
  }

  stop(): void {
    for (const section of LOG_SECTIONS) diagnosticsChannel.unsubscribe(channelName(section), this.#take)
  }

  get startedAt(): number {
    return this.#started
  }
}

/** `--report FILE` / `--no-redact`: checked before the run (a usage error, exit 2), then recording. */
export function startReport(values: OptionValues): ReportRecorder | null {
  const file = values.report
  if (values['no-redact'] && typeof file !== 'string') throw usage('--no-redact goes with --report <file>')
  if (typeof file !== 'string') return null
  if (!file.trim()) throw usage('--report needs a file name')
  const dir = path.dirname(path.resolve(file))
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw usage(`--report: the directory ${dir} does not exist`)
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw usage(`--report: ${file} is a directory`)
  return new ReportRecorder(file, values['no-redact'] !== true)
}

/** What the report says about the file's redaction, at its top. */
function redactionSummary(redacted: boolean, replaced: Replaced | null): object {
  if (!redacted || !replaced) {
    return {
      redacted: false,
      note: 'Not redacted (--no-redact): this file holds your public address, device identifiers and names as the devices sent them. Do not publish it.',
    }
  }
  return {
    redacted: true,
    note:
      'Identifying values were replaced by placeholders, the same value by the same placeholder everywhere in this file, ' +
      "so the router's structure and quirks stay. Private, CGNAT and link-local addresses are kept.",
    replaced,
    placeholders: Object.fromEntries(Object.entries(REDACTION_NOTE).map(([k, v]) => [k as RedactionKind, v])),
  }
}

/** The route and interfaces this machine had (names, addresses; no MAC addresses). */
async function network(lib: Library): Promise<object> {
  const interfaces = Object.entries(os.networkInterfaces()).flatMap(([name, list]) =>
    (list ?? []).map((a) => ({ name, family: a.family, address: a.address, cidr: a.cidr ?? '', internal: a.internal })),
  )
  return { defaultGateway: await lib.defaultGateway(), interfaces }
}

/** Writes the report of a finished run; returns what the doctor says about it. */
export async function writeReport(
  recorder: ReportRecorder,
  lib: Library,
  g: Globals,
  values: OptionValues,
  doctor: object,
): Promise<{ file: string; redacted: boolean; replaced?: Replaced }> {
  recorder.stop()
  const body = {
    createdAt: new Date(recorder.startedAt).toISOString(),
    tool: { name: 'upnp-native', version: packageVersion(), node: process.version, platform: process.platform, arch: process.arch },
    invocation: {
      protocol: g.protocol,
      ipv6: g.ipv6,
      timeoutMs: g.timeoutMs,
      interface: g.iface,
      gateway: g.gateway,
      port: typeof values.port === 'string' ? Number(values.port) : null,
      transport: values.tcp ? 'TCP' : 'UDP',
    },
    network: await network(lib),
    doctor,
    exchanges: recorder.exchanges,
    droppedExchanges: recorder.dropped,
  }
  const redacted = recorder.redacted ? redact(body, (a) => lib.classifyAddress(a)) : null
  const document = {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    redaction: redactionSummary(recorder.redacted, redacted?.replaced ?? null),
    ...(redacted?.document ?? body),
  }
  try {
    // Owner-only: an unredacted report holds what identifies the user.
    fs.writeFileSync(recorder.file, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 })
  } catch (error) {
    throw new CliError(EXIT.FAILED, 'REPORT_FAILED', `could not write the report to ${recorder.file}: ${(error as Error).message}`)
  }
  return { file: recorder.file, redacted: recorder.redacted, ...(redacted ? { replaced: redacted.replaced } : {}) }
}
