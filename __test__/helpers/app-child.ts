// An app holding mappings in a process of its own (__test__/fixtures/exit-child.ts), for the
// tests that end processes: its output read line by line, its end awaited. Tests stop only
// the children they started, by their pid.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import type { ChildOptions } from '../fixtures/exit-child.ts'
import { repoRoot } from '../lab/lab.ts'

export type { ChildOptions }

/** A started app process and what it said. */
export interface AppChild {
  child: ChildProcess
  /** Resolves with the first output line (so far or to come) matching `pattern`. */
  line(pattern: RegExp, ms?: number): Promise<RegExpExecArray>
  /** How it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Its output lines so far. */
  lines(): string[]
  /** Everything it wrote to stderr so far. */
  stderr(): string
}

/** Starts exit-child.ts with `options` in this (the lab client's) namespace. */
export function startApp(options: ChildOptions): AppChild {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot(), '__test__/fixtures/exit-child.ts'), JSON.stringify(options)],
    {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  const waiting = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    for (const check of waiting) check()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const check of waiting) check()
      resolve({ code, signal })
    })
  })
  const line = (pattern: RegExp, ms = 20_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const found = out
          .split('\n')
          .map((l) => pattern.exec(l))
          .find((m) => m !== null)
        if (found) {
          done()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`the app ended before ${pattern}: ${out}${err}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no ${pattern} within ${ms} ms: ${out}${err}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        waiting.delete(check)
      }
      waiting.add(check)
      check()
    })
  return { child, line, exited, lines: () => out.split('\n').filter(Boolean), stderr: () => err }
}
