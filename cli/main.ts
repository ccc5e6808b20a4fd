#!/usr/bin/env node
/**
 * `upnp-native` on the command line: status, map, unmap, list, ip and doctor (`commands/`).
 *
 * Built on the package's public API only (`UPNP`, `UPNPDevice`, `PortMapper`, `probe`), loaded
 * once the command line is valid, so that a missing native binary becomes a message, not a
 * trace. Output is for people on a terminal (colours, a spinner with elapsed time while
 * searching), plain text when piped, and a stable JSON document with `--json` (schema in
 * docs/cli.md, "JSON output"). Exit codes:
 *   0 success, 1 the operation failed (the router said no, or did not answer a request),
 *   2 usage error, 3 no (usable) gateway, 130 interrupted by Ctrl-C before the work was done.
 * Every failure is one message that says what happened and what to do: never a stack trace.
 */
import { lenient, parseCommandLine } from './args.ts'
import { CliError, type Context, EXIT, type ExitCode, type Library, usage } from './command.ts'
import { COMMANDS } from './commands/index.ts'
import { commandHelp, mainHelp } from './help.ts'
import { showRecords } from './log.ts'
import { terminalSafe } from './terminal.ts'
import { Output } from './output.ts'
import { ownPackage } from './version.ts'

/** " at <issue tracker>" for a bug report, or "" when package.json names none. */
function reportAt(): string {
  const { bugs } = ownPackage()
  return bugs ? ` at ${bugs}` : ''
}

async function loadLibrary(): Promise<Library> {
  try {
    const [surface, gateways] = await Promise.all([import('../index.ts'), import('../lib/find-gateway.ts')])
    return { ...surface, searchGateways: gateways.searchGateways }
  } catch (error) {
    // The loader's message already says which binary is missing and how to get it, one fact
    // a line: what happened (and what was tried) becomes the message, its "Fix:" line the
    // fix, so that each is printed as a line of its own (never with a literal "\n").
    const lines = (error as Error).message
      .replace(/^upnp-native: /, '')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
    const fix = lines.find((line) => line.startsWith('Fix: '))
    throw new CliError(
      EXIT.FAILED,
      'NATIVE_LOAD_FAILED',
      lines.filter((line) => line !== fix).join(' '),
      fix?.slice('Fix: '.length) ??
        'Reinstall upnp-native on this machine (npm install upnp-native), so that npm fetches the binary for this platform.',
    )
  }
}

async function main(argv: string[]): Promise<ExitCode> {
  const early = lenient(argv, COMMANDS)
  let out = new Output({ json: early.json, quiet: false, noColor: early.noColor })
  let command: string | null = early.command
  try {
    const outcome = parseCommandLine(argv, COMMANDS)
    if (outcome.kind === 'version') {
      process.stdout.write(`${ownPackage().version}\n`)
      return EXIT.OK
    }
    if (outcome.kind === 'help') {
      const topic = COMMANDS.find((c) => c.name === outcome.command)
      process.stdout.write(`${topic ? commandHelp(topic) : mainHelp(COMMANDS, ownPackage().bugs)}\n`)
      return EXIT.OK
    }
    const { invocation } = outcome
    command = invocation.command
    out = new Output(invocation.globals)
    const ctx: Context = { out, lib: await loadLibrary(), onInterrupt: null }
    // Ctrl-C before the work is done: restore the terminal and say so (map --keep sets
    // `onInterrupt` to delete its mappings first).
    const interrupt = () => {
      if (ctx.onInterrupt) return ctx.onInterrupt()
      out.spinner.stop()
      if (!out.globals.json) process.stderr.write('upnp-native: interrupted\n')
      process.exit(EXIT.INTERRUPTED)
    }
    process.on('SIGINT', interrupt)
    const stopRecords = showRecords(out, invocation.globals)
    try {
      const run = COMMANDS.find((c) => c.name === invocation.command)
      if (!run) throw usage(`unknown command "${invocation.command}"`)
      return await run.run(invocation, ctx)
    } finally {
      stopRecords()
      process.off('SIGINT', interrupt)
    }
  } catch (caught) {
    out.spinner.stop()
    let error = caught
    if (error instanceof CliError && error.code === 'USAGE' && !error.fix) {
      error = usage(error.message, `See \`upnp-native ${command && command !== 'status' ? `${command} ` : ''}--help\`.`)
    }
    const e =
      error instanceof CliError
        ? error
        : new CliError(
            EXIT.FAILED,
            'INTERNAL',
            `unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
            `This is a bug in upnp-native; please report it${reportAt()} with the command you ran.`,
          )
    out.error(e, command)
    return e.exitCode
  }
}

// `upnp-native list | head -1`: a reader that leaves early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK)
  })
}
// Whatever slips through (an event handler's bug): one line, never a stack trace.
process.on('uncaughtException', (error) => {
  process.stderr.write(
    `\x1b[?25h\nupnp-native: unexpected failure: ${terminalSafe(error instanceof Error ? error.message : String(error))} (this is a bug; please report it${reportAt()})\n`,
  )
  process.exit(EXIT.FAILED)
})

main(process.argv.slice(2))
  .then(
    (code) => code,
    (error: unknown): ExitCode => {
      process.stderr.write(`upnp-native: unexpected failure: ${terminalSafe(error instanceof Error ? error.message : String(error))}\n`)
      return EXIT.FAILED
    },
  )
  .then((code) => {
    process.exitCode = code
    return code
  })
