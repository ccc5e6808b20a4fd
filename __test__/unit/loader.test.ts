// The package without the lab: the per-platform packages agree with napi's config, and the
// loader explains a missing binary (CJS and ESM, the NAPI_RS_NATIVE_LIBRARY_PATH override,
// unsupported platforms). Loading the addon opens no socket.
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { currentHost, describeLoadFailure, LOAD_ERROR_CODE, PACKAGE_NAME, PREBUILT_TARGETS, targetName } from '../../lib/native/load.ts'
import { cli } from '../helpers/cli-run.ts'
import { readJson, type Run, run, useStagedPackage } from '../helpers/package.ts'
import { repoRoot } from '../lab/lab.ts'

const ROOT = repoRoot()
const hostTarget = targetName(currentHost())
const hostPackage = `${PACKAGE_NAME}-${hostTarget}`
const rootPkg = readJson(path.join(ROOT, 'package.json'))

/** The root package as published, without optionalDependencies (nothing is installed here). */
const staged = useStagedPackage('upnp-native-loader-')

describe('per-platform packages (npm/)', () => {
  it('one per napi target, the names the loader knows', () => {
    expect(staged.napi.targets.map((t) => t.platformArchABI).sort()).toEqual([...PREBUILT_TARGETS].sort())
    expect(PREBUILT_TARGETS).toContain(hostTarget)
  })

  it.each(PREBUILT_TARGETS)('%s: os/cpu/libc, main/files = its binary, same version, no scripts', (name) => {
    const target = staged.napi.targets.find((t) => t.platformArchABI === name)!
    const p = readJson(path.join(ROOT, 'npm', name, 'package.json'))
    expect(p.name).toBe(`${PACKAGE_NAME}-${name}`)
    expect(p.version).toBe(rootPkg.version)
    expect(p.os).toEqual([target.platform])
    expect(p.cpu).toEqual([target.arch])
    if (target.platform === 'linux') expect(p.libc).toEqual([target.abi === 'musl' ? 'musl' : 'glibc'])
    else expect(p.libc).toBeUndefined()
    expect(p.main).toBe(`${staged.napi.binaryName}.${name}.node`)
    expect(p.files).toEqual([p.main])
    expect(p.license).toBe(rootPkg.license)
    expect(p.engines).toEqual(rootPkg.engines)
    // Nothing runs at install: no lifecycle scripts, no downloads.
    expect(p.scripts ?? {}).toEqual({})
  })

  it('the root has no install-time scripts either', () => {
    for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) expect(rootPkg.scripts?.[s]).toBeUndefined()
  })
})

describe('loader: a clear error when no binary fits', () => {
  /** The built package alone: no .node beside it, no node_modules, like a missing optional dependency. */
  let bare: string
  beforeAll(() => {
    bare = path.join(staged.tmp, 'bare')
    fs.cpSync(staged.stage, bare, { recursive: true, filter: (src) => !src.endsWith('.node') && path.basename(src) !== 'npm' })
  })

  const loadIn = (dir: string, env: NodeJS.ProcessEnv, esm = false) =>
    run(
      process.execPath,
      esm
        ? [
            '--input-type=module',
            '-e',
            "import('./index.mjs').then(() => console.log('LOADED'), (e) => { console.log(JSON.stringify({ code: e.code, message: e.message, cause: !!e.cause })); process.exit(3) })",
          ]
        : [
            '-e',
            "try { require('.'); console.log('LOADED') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: !!e.cause })); process.exit(3) }",
          ],
      { cwd: dir, env: { ...process.env, ...env } },
    )

  const failure = (r: Run): { code: string; message: string; cause: boolean } => {
    expect(r.code, r.stdout + r.stderr).toBe(3)
    return JSON.parse(r.stdout.trim().split('\n').pop()!)
  }

  it('no binary anywhere: names the platform, the missing package and the fix (CJS and ESM)', async () => {
    for (const esm of [false, true]) {
      const e = failure(await loadIn(bare, { NAPI_RS_NATIVE_LIBRARY_PATH: '' }, esm))
      expect(e.code).toBe(LOAD_ERROR_CODE)
      expect(e.cause).toBe(true)
      expect(e.message).toMatch(/^upnp-native: /)
      const host = currentHost()
      expect(e.message).toContain(`${host.platform} ${host.arch}`)
      if (host.abi === 'gnu') expect(e.message).toContain('glibc')
      expect(e.message).toContain(`the optional package ${hostPackage} is not installed`)
      expect(e.message).toContain('npm install')
      expect(e.message).toContain('--omit=optional')
      expect(e.message).toContain('NAPI_RS_NATIVE_LIBRARY_PATH')
      expect(e.message).toContain(`Tried: Cannot find module './${staged.napi.binaryName}.${hostTarget}.node'`)
    }
  })

  it('NAPI_RS_NATIVE_LIBRARY_PATH naming a missing file: says so, with the path', async () => {
    const e = failure(await loadIn(bare, { NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/upnp-native.node' }))
    expect(e.code).toBe(LOAD_ERROR_CODE)
    expect(e.message).toContain('NAPI_RS_NATIVE_LIBRARY_PATH names (/nonexistent/upnp-native.node)')
    expect(e.message).toContain(hostTarget)
  })

  it('NAPI_RS_NATIVE_LIBRARY_PATH naming a real binary: loads it (the override works)', async () => {
    const node = path.join(ROOT, 'lib/native', `${staged.napi.binaryName}.${hostTarget}.node`)
    const r = await loadIn(bare, { NAPI_RS_NATIVE_LIBRARY_PATH: node })
    expect(r.stdout.trim(), r.stderr).toBe('LOADED')
  })

  it('the CLI prints the load error as lines: what happened, then what to do (issue 22: a literal \\n)', async () => {
    const r = await cli(['status'], { offline: true, env: { NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/upnp-native.node' } })
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).not.toContain('\\n')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      /^upnp-native: could not load the native binary that NAPI_RS_NATIVE_LIBRARY_PATH names \(\/nonexistent\/upnp-native\.node\) on .* Tried: /,
    )
    expect(lines[1]).toMatch(/^ {2}What to do: point NAPI_RS_NATIVE_LIBRARY_PATH at an existing upnp-native \.node file/)
    const doc = JSON.parse(
      (await cli(['status', '--json'], { offline: true, env: { NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/upnp-native.node' } })).stdout,
    )
    expect(doc.error).toMatchObject({ code: 'NATIVE_LOAD_FAILED', fix: expect.stringMatching(/^point NAPI_RS_NATIVE_LIBRARY_PATH/) })
    expect(doc.error.message).not.toContain('\n')
  })

  it('an unsupported platform lists what exists and how to build; Electron gets the asar hint', () => {
    const message = describeLoadFailure(
      { host: { platform: 'freebsd', arch: 'x64', abi: null }, packageInstalled: false, electron: '33.0.0' },
      new Error("Cannot find module 'upnp-native-freebsd-x64'"),
    )
    expect(message).toContain('no prebuilt native binary for freebsd x64 (freebsd-x64)')
    expect(message).toContain(PREBUILT_TARGETS.join(', '))
    expect(message).toContain('NAPI_RS_NATIVE_LIBRARY_PATH')
    expect(message).toContain('asarUnpack')
    const broken = describeLoadFailure(
      { host: { platform: 'linux', arch: 'arm64', abi: 'musl' }, packageInstalled: true },
      new Error('Error relocating upnp-native.linux-arm64-musl.node: symbol not found'),
    )
    expect(broken).toContain('upnp-native-linux-arm64-musl is installed but its native binary failed to load')
    expect(broken).toContain('musl libc')
    expect(broken).toContain('Tried: Error relocating')
  })
})
