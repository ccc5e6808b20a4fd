/**
 * What every command is and gets: a command declares its name, summary, usage text, options
 * and `run`; `run` receives the parsed invocation and a context (output, the loaded library,
 * the Ctrl-C hook). Exit codes and the CLI's one error type live here too.
 */
import type { ParseArgsConfig } from 'node:util'
import type { Explanation } from '../lib/explain.ts'
import type { Via } from '../lib/types.ts'
import type { Output } from './output.ts'

/** How one option is parsed (node:util parseArgs). */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string]

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NO_GATEWAY: 3, INTERRUPTED: 130 } as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** A failure the CLI explains: what happened (`message`), what to do (`fix`), the exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    /** Stable identifier for scripts (`error.code` in JSON). */
    readonly code: string,
    message: string,
    readonly fix?: string,
    readonly failure?: Explanation,
  ) {
    super(message)
  }
}

/** A usage error; without `fix`, main() points to the command's --help. */
export function usage(message: string, fix?: string): CliError {
  return new CliError(EXIT.USAGE, 'USAGE', message, fix)
}

/** --protocol: `auto` is UPnP for mappings and every protocol for status/doctor (docs/cli.md,
 *  "Command line"). */
export type ProtocolChoice = Via | 'auto'

/** The options every command takes, parsed. */
export interface Globals {
  protocol: ProtocolChoice
  json: boolean
  quiet: boolean
  noColor: boolean
  /** Discovery window, ms. */
  timeoutMs: number
  iface: string
  gateway: string
  ipv6: boolean
  /** --verbose: what the library decided, as it happens (stderr). */
  verbose: boolean
  /** --log-http: the wire transcript of every exchange (stderr). */
  logHttp: boolean
}

export type OptionValues = Record<string, string | boolean | undefined>

/** One run of a command: its arguments and the options given. */
export interface Invocation {
  command: string
  positionals: string[]
  values: OptionValues
  globals: Globals
}

/** What the commands use of the library: its public surface, and the gateway search PortMapper
 *  and the adapters share (`lib/find-gateway.ts`), loaded with it. */
export type Library = typeof import('../index.ts') & Pick<typeof import('../lib/find-gateway.ts'), 'searchGateways'>

/** What a running command can use. */
export interface Context {
  readonly out: Output
  /** The library, loaded once the command line is valid (a missing binary is a message). */
  readonly lib: Library
  /** What Ctrl-C does while the command runs; null = stop at once (exit 130). */
  onInterrupt: (() => void) | null
}

export interface Command {
  readonly name: string
  /** One line for the main help. */
  readonly summary: string
  /** `map <port>`: how the main help names it. */
  readonly synopsis: string
  /** The command's own help, before the options every command takes. */
  readonly help: string
  /** Its own options (beyond the global ones). */
  readonly options: Readonly<Record<string, OptionSpec>>
  run(invocation: Invocation, ctx: Context): Promise<ExitCode>
}
