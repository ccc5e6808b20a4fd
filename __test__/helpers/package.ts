// The package as the release publishes it, staged in a temporary directory (the repository
// tree is only read), and the small process runner the packing tests use. Shared by the unit
// loader test and the lab's install test.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readNapiConfig } from '@napi-rs/cli'
import { afterAll, beforeAll } from 'vitest'
import { repoRoot } from '../lab/lab.ts'

const ROOT = repoRoot()

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command; never throws for a non-zero exit (the assertion reads the output). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        env: opts.env ?? process.env,
        timeout: opts.timeout ?? 60_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && !err.killed) return reject(err)
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
      },
    )
  })
}

export async function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

export const readJson = (file: string): Record<string, any> => JSON.parse(fs.readFileSync(file, 'utf8'))
export const bin = (name: string) => path.join(ROOT, 'node_modules/.bin', name)

/** The root package, as published, in `stage`: a fresh build of the TypeScript surface, so a
 *  stale dist/ in the tree cannot pass, with the generated loader beside it (what `npm run
 *  build:ts` copies; no .node: the platform packages carry it), the static files and npm/. */
export async function stagePackage(stage: string): Promise<void> {
  const rootPkg = readJson(path.join(ROOT, 'package.json'))
  await ok(bin('tsc'), ['-p', 'tsconfig.build.json', '--outDir', path.join(stage, 'dist')])
  await ok(process.execPath, [path.join(ROOT, 'scripts/declaration-specifiers.mjs'), path.join(stage, 'dist')])
  for (const file of ['binding.js', 'binding.d.ts']) {
    fs.copyFileSync(path.join(ROOT, 'lib/native', file), path.join(stage, 'dist/lib/native', file))
  }
  for (const entry of (rootPkg.files as string[]).filter((f) => f !== 'dist' && !f.startsWith('!'))) {
    fs.cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true })
  }
  for (const file of ['package.json', 'README.md']) fs.copyFileSync(path.join(ROOT, file), path.join(stage, file))
  fs.cpSync(path.join(ROOT, 'npm'), path.join(stage, 'npm'), { recursive: true })
}

export interface Staged {
  /** napi's reading of package.json (targets, binary name). */
  napi: Awaited<ReturnType<typeof readNapiConfig>>
  /** A temporary directory, removed after the file's tests. */
  tmp: string
  /** The root package as published (`stagePackage`), inside `tmp`. */
  stage: string
}

/** Stages the package once for a test file (before its tests; removed after them). The
 *  returned object is filled in by the time the tests run. */
export function useStagedPackage(prefix: string): Staged {
  const staged = {} as Staged
  beforeAll(async () => {
    staged.napi = await readNapiConfig(path.join(ROOT, 'package.json'))
    staged.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    staged.stage = path.join(staged.tmp, 'stage')
    await stagePackage(staged.stage)
  }, 120_000)
  afterAll(() => {
    if (staged.tmp) fs.rmSync(staged.tmp, { recursive: true, force: true })
  })
  return staged
}
