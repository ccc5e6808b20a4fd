// Runs a program through the real Godot engine: Debian 12's `godot3-server` (Godot 3.2.3,
// headless; its UPNP module is built on the miniupnpc it bundles), executing driver.gd.
// Called from inside the lab's client namespace, so Godot's searches stay in the lab.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from '../lab/lab.ts'
import type { Step, StepOutcome } from './program.ts'

export const GODOT = process.env.GODOT_BIN ?? 'godot3-server'
const DRIVER = path.join(repoRoot(), '__test__/godot/driver.gd')
const MARK = 'GDIFF '

export interface GodotRun {
  engine: string
  outcomes: StepOutcome[]
}

/** `godot3-server --version` ("3.2.3.stable.custom_build"), or null when Godot is not installed. */
export function godotVersion(): Promise<string | null> {
  return new Promise((resolve) => {
    // Godot 3 exits 255 after printing its version: judge by the output.
    execFile(GODOT, ['--version'], { timeout: 20_000 }, (_err, stdout) => {
      const version = String(stdout ?? '').trim()
      resolve(/^\d+\.\d+/.test(version) ? version : null)
    })
  })
}

// Godot writes its user data under HOME and its logs under the working directory (no
// project): both go to a temporary directory, never into the repository.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-godot-home-'))
process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }))

/**
 * Runs `steps` in a fresh Godot process. Godot blocks on every network call (discovery
 * alone can take 4x its timeout), so the process gets a generous deadline of its own.
 */
/** Godot 3's to_json() writes control characters in strings raw, which JSON forbids; the
 *  bytes Godot reads past igd_our_addr's buffer (ipv6-long-address) are pointer bytes that
 *  contain one in some runs. Escaped here, the value reaches the comparison as Godot had it. */
function escapeControls(json: string): string {
  return json.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export async function runGodot(steps: Step[], deadlineMs = 120_000): Promise<GodotRun> {
  const programFile = path.join(home, 'program.json')
  fs.writeFileSync(programFile, JSON.stringify({ steps }))
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      GODOT,
      ['--no-window', '-s', DRIVER],
      { cwd: home, timeout: deadlineMs, maxBuffer: 16 << 20, env: { ...process.env, HOME: home, LANG: 'en', GDIFF_PROGRAM: programFile } },
      (err, out, errOut) =>
        err ? reject(new Error(`Godot failed: ${err.message}\n${out}${errOut}`)) : resolve({ stdout: out, stderr: errOut }),
    )
  })
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith(MARK))
    .map((l) => JSON.parse(escapeControls(l.slice(MARK.length))) as Record<string, unknown>)
  const fatal = lines.find((l) => 'fatal' in l)
  if (fatal) throw new Error(`driver.gd: ${String(fatal.fatal)}`)
  const engine = String(lines.find((l) => 'engine' in l)?.engine ?? '?')
  const outcomes = lines.filter((l) => 'ms' in l).map((l) => ({ value: l.value ?? null, ms: Number(l.ms) }))
  if (!lines.some((l) => l.done) || outcomes.length !== steps.length) {
    throw new Error(`Godot stopped after ${outcomes.length} of ${steps.length} steps:\n${stdout}${stderr}`)
  }
  return { engine, outcomes }
}
