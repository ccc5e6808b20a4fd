/**
 * Output for people and for scripts: colours only on a terminal (NO_COLOR, FORCE_COLOR), a
 * spinner with elapsed time on stderr while waiting, result lines on stdout, notes on stderr,
 * one JSON document with --json, and errors with what they mean and what to do.
 */
import type { CliError, Globals } from './command.ts'
import { envelope, errorJson } from './json.ts'
import { terminalSafe } from './terminal.ts'

export interface Style {
  enabled: boolean
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  cyan(s: string): string
}

export function styleFor(stream: NodeJS.WriteStream, noColor: boolean): Style {
  const env = process.env
  let enabled: boolean
  if (noColor || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) enabled = false
  else if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') enabled = env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  else enabled = Boolean(stream.isTTY) && env.TERM !== 'dumb'
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s)
  return { enabled, bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) }
}

/** Braille spinner with elapsed time, on stderr, only on a terminal (never with --json or --quiet). */
export class Spinner {
  static readonly FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  #timer: NodeJS.Timeout | null = null
  #frame = 0
  #text = ''
  #started = 0

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled: boolean,
    private readonly style: Style,
  ) {}

  start(text: string): void {
    if (!this.enabled) return
    this.#text = text
    if (this.#timer) return
    this.#started = performance.now()
    this.stream.write('\x1b[?25l') // hide the cursor while the line animates
    this.#render()
    this.#timer = setInterval(() => this.#render(), 80)
  }

  #render(): void {
    const frame = Spinner.FRAMES[this.#frame++ % Spinner.FRAMES.length] ?? ''
    const elapsed = ((performance.now() - this.#started) / 1000).toFixed(1)
    this.stream.write(`\r\x1b[2K${this.style.cyan(frame)} ${this.#text} ${this.style.dim(`${elapsed}s`)}`)
  }

  /** Clears the line so that other output can be written; `resume()` brings it back. */
  clear(): void {
    if (this.#timer) this.stream.write('\r\x1b[2K')
  }

  resume(): void {
    if (this.#timer) this.#render()
  }

  stop(): void {
    if (!this.#timer) return
    clearInterval(this.#timer)
    this.#timer = null
    this.stream.write('\r\x1b[2K\x1b[?25h')
  }
}

export class Output {
  readonly out: Style
  readonly err: Style
  readonly spinner: Spinner

  constructor(readonly globals: Pick<Globals, 'json' | 'quiet' | 'noColor'>) {
    this.out = styleFor(process.stdout, globals.noColor)
    this.err = styleFor(process.stderr, globals.noColor)
    const spin = Boolean(process.stderr.isTTY) && !globals.json && !globals.quiet && process.env.TERM !== 'dumb'
    this.spinner = new Spinner(process.stderr, spin, this.err)
  }

  get human(): boolean {
    return !this.globals.json
  }

  /** A result line (stdout), in human mode. Every human line passes terminalSafe(): no
   *  control character a router put in it reaches the terminal raw. */
  line(text = ''): void {
    if (this.globals.json) return
    this.#write(process.stdout, `${terminalSafe(text)}\n`)
  }

  /** A line that --quiet drops (headings, notes, hints), on stdout. */
  info(text = ''): void {
    if (this.globals.quiet) return
    this.line(text)
  }

  /** A note for a person on stderr (kept off stdout, e.g. beside `ip`'s bare address). */
  note(text: string): void {
    if (this.globals.json || this.globals.quiet) return
    this.#write(process.stderr, `${terminalSafe(text)}\n`)
  }

  /** Diagnostic lines (--verbose, --log-http) on stderr, each made safe: asked for, so shown
   *  even with --json or --quiet. */
  diagnostic(lines: string[]): void {
    this.#write(process.stderr, lines.map((line) => `${terminalSafe(line)}\n`).join(''))
  }

  json(document: object, compact = false): void {
    if (!this.globals.json) return
    this.#write(process.stdout, `${JSON.stringify(document, null, compact ? undefined : 2)}\n`)
  }

  error(error: CliError, command: string | null): void {
    if (this.globals.json) {
      this.json(envelope(command, error.exitCode, { error: errorJson(error) }))
      return
    }
    const s = this.err
    // Messages quote what routers said (their error words, names): each line made safe.
    let text = `${s.red(s.bold('upnp-native:'))} ${terminalSafe(error.message)}\n`
    if (error.failure?.meaning && !this.globals.quiet) text += `  ${s.bold('What it means:')} ${terminalSafe(error.failure.meaning)}\n`
    if (error.fix && !this.globals.quiet) text += `  ${s.bold('What to do:')} ${terminalSafe(error.fix)}\n`
    this.#write(process.stderr, text)
  }

  #write(stream: NodeJS.WriteStream, text: string): void {
    this.spinner.clear()
    stream.write(text)
    this.spinner.resume()
  }
}
