/**
 * Loads the native addon through napi-rs's generated `binding.js`, and when no binary fits
 * turns the loader's raw `require` failure into one clear error: which platform this is,
 * which package should have carried its binary, and how to fix it.
 *
 * `./index.ts` imports this module for its side effect before it re-exports the binding, so
 * the first `require('./binding.js')` of the process happens here, inside a try/catch.
 * `binding.js` itself stays exactly as `napi build` generates it (its
 * `NAPI_RS_NATIVE_LIBRARY_PATH` override included).
 */
import fs from 'node:fs'

/** The package's name and the prefix of its per-platform packages (`npm/<target>/`). */
export const PACKAGE_NAME = 'upnp-native'

/**
 * The targets a binary is published for, napi-rs's `<platform>-<arch>[-<abi>]` names
 * (`package.json` "napi.targets"; `__test__/package/install.test.ts` checks the two agree).
 */
export const PREBUILT_TARGETS: readonly string[] = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
  'win32-arm64-msvc',
]

/** The error thrown when no binary could be loaded; `cause` keeps napi's own chain. */
export const LOAD_ERROR_CODE = 'ERR_UPNP_NATIVE_LOAD'

export interface Host {
  platform: string
  arch: string
  /** 'gnu' or 'musl' on Linux, 'msvc' on Windows, null elsewhere (napi-rs's naming). */
  abi: string | null
}

/** Which libc this Linux process runs on, the way napi's loader decides it. */
function isMusl(): boolean {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // no ldd: ask the process report (a glibc build records the glibc version it runs on)
  }
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return report !== undefined && !report.header?.glibcVersionRuntime
}

export function currentHost(): Host {
  const { platform, arch } = process
  const abi = platform === 'linux' ? (isMusl() ? 'musl' : 'gnu') : platform === 'win32' ? 'msvc' : null
  return { platform, arch, abi }
}

export function targetName(host: Host): string {
  return [host.platform, host.arch, host.abi].filter(Boolean).join('-')
}

function describeHost(host: Host): string {
  const libc = host.abi === 'gnu' ? ', glibc' : host.abi === 'musl' ? ', musl libc' : ''
  return `${host.platform} ${host.arch}${libc}`
}

/**
 * What the loader tried, in its order: the first line of each message in napi's `cause`
 * chain (which holds the last attempt outermost), without its WASI fallbacks (none is shipped).
 */
function attempts(error: unknown): string[] {
  const lines: string[] = []
  const seen = new Set<unknown>()
  for (let e: unknown = error; e != null && !seen.has(e) && lines.length < 16;) {
    seen.add(e)
    const message = e instanceof Error ? e.message : String(e)
    const first = message.split('\n', 1)[0]?.trim()
    if (first && !first.startsWith('Cannot find native binding') && !/wasi/i.test(first)) lines.push(first)
    e = e instanceof Error ? e.cause : undefined
  }
  return lines.reverse()
}

export interface LoadContext {
  host: Host
  /** `NAPI_RS_NATIVE_LIBRARY_PATH`, when set. */
  overridePath?: string | undefined
  /** Whether `<PACKAGE_NAME>-<target>` resolves from here. */
  packageInstalled: boolean
  /** `process.versions.electron`, when running in Electron. */
  electron?: string | undefined
}

/** The message of the error thrown when no binary loads: what, why, and how to fix it. */
export function describeLoadFailure(context: LoadContext, error: unknown): string {
  const target = targetName(context.host)
  const pkg = `${PACKAGE_NAME}-${target}`
  const where = `${describeHost(context.host)} (${target}), Node ${process.versions.node}`
  const lines: string[] = []
  if (context.overridePath) {
    lines.push(
      `${PACKAGE_NAME}: could not load the native binary that NAPI_RS_NATIVE_LIBRARY_PATH names ` +
        `(${context.overridePath}) on ${where}.`,
      `Fix: point NAPI_RS_NATIVE_LIBRARY_PATH at an existing ${PACKAGE_NAME} .node file built for ${target}, ` +
        `or unset it to use the installed package ${pkg}.`,
    )
  } else if (!PREBUILT_TARGETS.includes(target)) {
    lines.push(
      `${PACKAGE_NAME}: no prebuilt native binary for ${where}.`,
      `Prebuilt binaries exist for: ${PREBUILT_TARGETS.join(', ')}.`,
      `Fix: build the addon from source (Rust toolchain; \`npm run build\` in a clone of the repository) ` +
        `and set NAPI_RS_NATIVE_LIBRARY_PATH to the .node file it produces.`,
    )
  } else if (!context.packageInstalled) {
    lines.push(
      `${PACKAGE_NAME}: the native binary for ${where} was not found: the optional package ${pkg} is not installed.`,
      `Fix: install dependencies with optional packages for this platform, e.g. \`npm install\` ` +
        `without --omit=optional / --no-optional, run on this machine (not copied from another OS or CPU). ` +
        `If a package-lock.json made elsewhere skipped it, delete node_modules and package-lock.json and ` +
        `run \`npm install\` again (npm/cli#4828), or add it explicitly: \`npm install ${pkg}\`. ` +
        `A custom binary can be given with NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/${PACKAGE_NAME}.${target}.node.`,
    )
  } else {
    lines.push(
      `${PACKAGE_NAME}: the package ${pkg} is installed but its native binary failed to load on ${where}.`,
      `Fix: reinstall ${pkg} at the same version as ${PACKAGE_NAME}; check the cause below ` +
        `(a libc or OS too old for the binary, a file blocked by antivirus, an unreadable file).`,
    )
  }
  if (context.electron) {
    lines.push(
      `Electron ${context.electron}: load ${PACKAGE_NAME} from the main, preload (with Node integration) or a ` +
        `utility process, and unpack native binaries from the asar archive (electron-builder ` +
        `"asarUnpack": ["**/*.node"], Electron Forge AutoUnpackNativesPlugin).`,
    )
  }
  const tried = attempts(error)
  if (tried.length) lines.push(`Tried: ${tried.join('; ')}`)
  return lines.join('\n')
}

function packageResolves(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`)
    return true
  } catch {
    return false
  }
}

function load(): void {
  try {
    require('./binding.js')
  } catch (error) {
    const host = currentHost()
    const message = describeLoadFailure(
      {
        host,
        overridePath: process.env.NAPI_RS_NATIVE_LIBRARY_PATH || undefined,
        packageInstalled: packageResolves(`${PACKAGE_NAME}-${targetName(host)}`),
        electron: process.versions.electron,
      },
      error,
    )
    const clear = new Error(message, { cause: error }) as Error & { code: string }
    clear.code = LOAD_ERROR_CODE
    throw clear
  }
}

load()
