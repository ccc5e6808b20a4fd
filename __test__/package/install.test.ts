// The package as users install it: the whole path npm pack -> offline install of the two
// tarballs -> ESM, CommonJS and TypeScript consumers -> a real mapping on the lab's miniupnpd.
// (The per-platform packages and the loader's messages need no lab: __test__/unit/loader.test.ts.)
//
// Everything is staged in a temporary directory; the repository tree is only read. The root
// package is staged the way the release workflow publishes it: a fresh TypeScript build, and
// optionalDependencies on every platform package at the root's version (what
// `napi pre-publish` writes). The host's platform package gets the freshly built .node through
// napi's own `artifacts` step.
import fs from 'node:fs'
import path from 'node:path'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { currentHost, PACKAGE_NAME, PREBUILT_TARGETS, targetName } from '../../lib/native/load.ts'
import { bin, ok, readJson, run, useStagedPackage } from '../helpers/package.ts'
import { repoRoot, upnpcDelete, upnpcList } from '../lab/lab.ts'

const ROOT = repoRoot()
const PORT = 47110
const BUNDLED_PORT = 47111
const DESC = 'upnp-native pack test'
const hostTarget = targetName(currentHost())
const hostPackage = `${PACKAGE_NAME}-${hostTarget}`

const rootPkg = readJson(path.join(ROOT, 'package.json'))

let rootTgz: string
let hostTgz: string
/** The consumer project: only the two tarballs installed, offline. */
let consumer: string

/** The root package as published; install.test.ts adds optionalDependencies. */
const staged = useStagedPackage('upnp-native-pack-')

/** The TypeScript compilers consumers are checked with: the repository's (5.x), and 4.9, the
 *  oldest docs/bundlers.md, "Module formats", promises (a project of its own, installed by
 *  lab.sh and .ci/run). Before issue 22 the declarations imported `./x.ts`, an error for 4.9
 *  (TS2691) that made the types `any` under skipLibCheck. */
const COMPILERS = {
  current: path.join(ROOT, 'node_modules/typescript/bin/tsc'),
  '4.9': path.join(ROOT, '__test__/package/typescript-4.9/node_modules/typescript/bin/tsc'),
}
type Compiler = keyof typeof COMPILERS

/** Type-checks files of the consumer project as a strict TypeScript user would, against the
 *  installed package's own declarations (skipLibCheck off). */
async function typecheckConsumer(
  mode: string,
  files: string[],
  compiler: Compiler = 'current',
): Promise<{ code: number | null; output: string }> {
  const config = path.join(consumer, `tsconfig.${mode}.${compiler}.${path.parse(files[0] ?? '').name}.json`)
  fs.writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2022',
        lib: ['ES2022'],
        module: mode,
        moduleResolution: mode,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
      },
      files,
    }),
  )
  // A few tsc runs side by side on a loaded 2-core machine: more than run()'s default minute.
  const r = await run(process.execPath, [COMPILERS[compiler], '-p', config], { cwd: consumer, timeout: 240_000 })
  return { code: r.code, output: `TypeScript ${compiler}, ${mode}:\n${r.stdout}${r.stderr}` }
}

/** Runs the consumer's `add` script, reads the router's table (upnpc), runs its `del` script
 *  and reads the table again: each script prints one JSON result and must end by itself. */
async function addThenDelete(port: number, add: string[], del: string[]) {
  const runJson = async (args: string[]) => JSON.parse(await ok(process.execPath, args, { cwd: consumer, timeout: 20_000 }))
  const onPort = async () => (await upnpcList()).filter((m) => m.externalPort === port)
  const added = await runJson(add)
  const listed = await onPort()
  const deleted = await runJson(del)
  return { added, listed, deleted, left: await onPort() }
}

afterAll(async () => {
  for (const port of [PORT, BUNDLED_PORT]) await upnpcDelete({ externalPort: port, protocol: 'UDP' }).catch(() => {})
})

describe('npm pack -> offline install of the tarballs -> ESM, CJS, TypeScript, a real mapping', () => {
  beforeAll(async () => {
    // The root, as `napi pre-publish` leaves it: optionalDependencies on every platform package.
    const published = readJson(path.join(staged.stage, 'package.json'))
    published.optionalDependencies = Object.fromEntries(
      staged.napi.targets.map((t) => [`${staged.napi.packageName}-${t.platformArchABI}`, published.version]),
    )
    // napi's `artifacts` step (the release workflow's) puts the built .node into npm/<target>/;
    // only the host's binary exists here, so the staged config names only the host's target.
    const hostTriple = staged.napi.targets.find((t) => t.platformArchABI === hostTarget)!.triple
    fs.writeFileSync(
      path.join(staged.stage, 'package.json'),
      JSON.stringify({ ...published, napi: { ...published.napi, targets: [hostTriple] } }, null, 2),
    )
    const artifacts = path.join(staged.tmp, 'artifacts', `bindings-${hostTriple}`)
    fs.mkdirSync(artifacts, { recursive: true })
    fs.copyFileSync(
      path.join(ROOT, 'lib/native', `${staged.napi.binaryName}.${hostTarget}.node`),
      path.join(artifacts, `${staged.napi.binaryName}.${hostTarget}.node`),
    )
    await ok(bin('napi'), ['artifacts', '--cwd', staged.stage, '--output-dir', path.join(staged.tmp, 'artifacts'), '--npm-dir', 'npm'])
    fs.writeFileSync(path.join(staged.stage, 'package.json'), JSON.stringify(published, null, 2) + '\n')

    const out = path.join(staged.tmp, 'tarballs')
    fs.mkdirSync(out)
    const pack = async (dir: string) => {
      const [info] = JSON.parse(await ok('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir })) as { filename: string }[]
      return path.join(out, info!.filename)
    }
    rootTgz = await pack(staged.stage)
    hostTgz = await pack(path.join(staged.stage, 'npm', hostTarget))

    consumer = path.join(staged.tmp, 'consumer')
    fs.mkdirSync(consumer)
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
    // --offline and an empty cache: nothing but the two tarballs can be installed (the lab's
    // client namespace has no route to a registry anyway). The seven other optional platform
    // packages are not available and must not break the install.
    await ok('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(staged.tmp, 'npm-cache'), rootTgz, hostTgz], {
      cwd: consumer,
    })
  }, 120_000)

  it('the tarballs hold what they should', async () => {
    const list = async (tgz: string) =>
      (await ok('tar', ['tzf', tgz]))
        .trim()
        .split('\n')
        .map((f) => f.replace(/^package\//, ''))
        .sort()
    // dist/ whole (no .node), the ESM entry, the licence, package.json and README.
    const built = (fs.readdirSync(path.join(staged.stage, 'dist'), { recursive: true }) as string[])
      .filter((f) => fs.statSync(path.join(staged.stage, 'dist', f)).isFile() && !f.endsWith('.node'))
      .map((f) => `dist/${f.split(path.sep).join('/')}`)
    const statics = (rootPkg.files as string[])
      .filter((f) => f !== 'dist' && !f.startsWith('!'))
      .flatMap((f) =>
        fs.statSync(path.join(staged.stage, f)).isDirectory() ? fs.readdirSync(path.join(staged.stage, f)).map((x) => `${f}/${x}`) : [f],
      )
    expect(await list(rootTgz)).toEqual([...built, ...statics, 'package.json', 'README.md'].sort())
    expect(await list(hostTgz)).toEqual([`${staged.napi.binaryName}.${hostTarget}.node`, 'README.md', 'package.json'].sort())
    // Every module the packed code loads by relative path is packed too (a new root module
    // needs its .js and .d.ts in package.json "files").
    const packed = new Set(await list(rootTgz))
    const missing: string[] = []
    for (const file of packed) {
      // binding.js probes every platform's file in turn; those misses are its design.
      if (!/\.(c|m)?js$|\.d\.(m|c)?ts$/.test(file) || file.endsWith('/binding.js')) continue
      const source = fs.readFileSync(path.join(staged.stage, file), 'utf8')
      for (const m of source.matchAll(/(?:require\(|from\s+|import\s*\(?\s*)["'](\.\.?\/[^"']+)["']/g)) {
        const target = path.posix.join(path.posix.dirname(file), m[1]!)
        // A declaration file may name the module by its .js or (TypeScript resolves it to the
        // .d.ts) by its .ts source name.
        const candidates = file.includes('.d.')
          ? [target.replace(/\.(c|m)?js$/, '.d.$1ts'), target.replace(/\.(c|m)?ts$/, '.d.$1ts')]
          : [target]
        if (!candidates.some((c) => packed.has(c))) missing.push(`${file} -> ${m[1]}`)
      }
    }
    expect(missing, 'loaded by the package but not in package.json "files"').toEqual([])
    const bins = Object.values((rootPkg.bin ?? {}) as Record<string, string>).map((b) => path.posix.normalize(b))
    expect(
      bins.filter((b) => !packed.has(b)),
      'package.json "bin" entries not packed',
    ).toEqual([])
    for (const name of Object.keys(rootPkg.bin ?? {}))
      expect(fs.existsSync(path.join(consumer, 'node_modules/.bin', name)), name).toBe(true)
    const installed = readJson(path.join(consumer, 'node_modules', PACKAGE_NAME, 'package.json'))
    expect(Object.keys(installed.optionalDependencies).sort()).toEqual(PREBUILT_TARGETS.map((t) => `${PACKAGE_NAME}-${t}`).sort())
    expect(new Set(Object.values(installed.optionalDependencies))).toEqual(new Set([rootPkg.version]))
    expect(
      fs
        .readdirSync(path.join(consumer, 'node_modules'))
        .filter((d) => !d.startsWith('.'))
        .sort(),
    ).toEqual([PACKAGE_NAME, hostPackage].sort())
  })

  it('ESM import and CommonJS require: same names, same classes, the binary from the platform package', async () => {
    fs.writeFileSync(
      path.join(consumer, 'formats.mjs'),
      `
import * as esm from '${PACKAGE_NAME}'
import { UPNP, UPNPResult } from '${PACKAGE_NAME}'
import { createRequire } from 'node:module'
import fs from 'node:fs'
const require = createRequire(import.meta.url)
const cjs = require('${PACKAGE_NAME}')
const binaries = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((f) => f && f.endsWith('.node'))
console.log(JSON.stringify({
  // Node 23+ adds 'module.exports' to a CommonJS module's ES namespace.
  esm: Object.keys(esm).filter((k) => !['default', '__esModule', 'module.exports'].includes(k)).sort(),
  cjs: Object.keys(cjs).sort(),
  sameClass: UPNP === cjs.UPNP && esm.UPNPDevice === cjs.UPNPDevice,
  success: UPNPResult.SUCCESS,
  resolved: { import: import.meta.resolve('${PACKAGE_NAME}'), require: require.resolve('${PACKAGE_NAME}') },
  binaries: [...new Set(binaries)],
}))
`,
    )
    const r = JSON.parse(await ok(process.execPath, ['formats.mjs'], { cwd: consumer }))
    expect(r.esm).toEqual(r.cjs)
    expect(r.cjs).toEqual(expect.arrayContaining(['UPNP', 'UPNPDevice', 'UPNPResult', 'IGDStatus']))
    expect(r.sameClass).toBe(true)
    expect(r.success).toBe(0)
    expect(r.resolved.import).toMatch(new RegExp(`node_modules/${PACKAGE_NAME}/index\\.mjs$`))
    expect(r.resolved.require).toMatch(new RegExp(`node_modules/${PACKAGE_NAME}/dist/index\\.js$`))
    expect(r.binaries).toEqual([path.join(consumer, 'node_modules', hostPackage, `${staged.napi.binaryName}.${hostTarget}.node`)])
  })

  it('a TypeScript consumer type-checks strict, ESM and CJS, under node16 and nodenext, and with TypeScript 4.9', async () => {
    const body = (kind: string) => `
const upnp = new UPNP()
upnp.discoverIpv6 = false
const found: UPNPResult = await upnp.discover({ timeout: 1000, untilGateway: true })
const gateway: UPNPDevice | null = upnp.getGateway()
if (found === UPNPResult.SUCCESS && gateway?.igdStatus === IGDStatus.OK) {
  const added: UPNPResult = await gateway.addPortMapping(7777, 0, '${kind}', 'UDP', 0)
  const external: string = await upnp.queryExternalAddress()
  console.log(added, external, upnp.lastError?.upnpCode)
}
// @ts-expect-error the protocol is 'UDP' | 'TCP', so the types are real, not any
await upnp.addPortMapping(7777, 7777, '', 'ICMP')
`
    fs.writeFileSync(
      path.join(consumer, 'consumer.mts'),
      `import { IGDStatus, UPNP, UPNPDevice, UPNPResult } from '${PACKAGE_NAME}'\n${body('esm')}`,
    )
    // In a .cts the import compiles to require(): types come from the "require" condition.
    fs.writeFileSync(
      path.join(consumer, 'consumer.cts'),
      `import { IGDStatus, UPNP, UPNPDevice, UPNPResult } from '${PACKAGE_NAME}'\nimport whole = require('${PACKAGE_NAME}')\n` +
        `export async function main(): Promise<void> {\nconst same: typeof whole.UPNP = UPNP\nvoid same\n${body('cjs')}}\n`,
    )
    expect(fs.existsSync(COMPILERS['4.9']), 'TypeScript 4.9 (npm ci --prefix __test__/package/typescript-4.9)').toBe(true)
    // TypeScript 4.9's nodenext is its node16: one run of it is enough.
    const checks = [
      typecheckConsumer('node16', ['consumer.mts', 'consumer.cts']),
      typecheckConsumer('nodenext', ['consumer.mts', 'consumer.cts']),
      typecheckConsumer('node16', ['consumer.mts', 'consumer.cts'], '4.9'),
    ]
    for (const r of await Promise.all(checks)) expect(r, r.output).toMatchObject({ code: 0 })
  }, 300_000)

  it('the adapter subpaths (libp2p, nat-api, nat-upnp): ESM and CJS share one instance; types check', async () => {
    fs.writeFileSync(
      path.join(consumer, 'adapters.mjs'),
      `
import NatAPIDefault, { NatAPI } from '${PACKAGE_NAME}/nat-api'
import { portMappingClient } from '${PACKAGE_NAME}/libp2p'
import natUpnp, { Client, createClient } from '${PACKAGE_NAME}/nat-upnp'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
console.log(JSON.stringify({
  natApiDefault: NatAPIDefault === NatAPI,
  sameNatApi: NatAPI === require('${PACKAGE_NAME}/nat-api').NatAPI,
  sameClient: Client === require('${PACKAGE_NAME}/nat-upnp').Client && createClient() instanceof Client,
  // nat-upnp's users write \`import natUpnp from 'nat-upnp'\` (issue 22: no default export).
  natUpnpDefault: natUpnp.createClient === createClient && natUpnp.createClient() instanceof natUpnp.Client,
  libp2p: Object.keys(portMappingClient()).sort(),
  sameLibp2p: portMappingClient === require('${PACKAGE_NAME}/libp2p').portMappingClient,
}))
`,
    )
    const r = JSON.parse(await ok(process.execPath, ['adapters.mjs'], { cwd: consumer }))
    expect(r).toEqual({
      natApiDefault: true,
      sameNatApi: true,
      sameClient: true,
      natUpnpDefault: true,
      libp2p: ['findGateways', 'getGateway'],
      sameLibp2p: true,
    })
    fs.writeFileSync(
      path.join(consumer, 'adapters.mts'),
      `import NatAPI from '${PACKAGE_NAME}/nat-api'
import { portMappingClient, type Gateway } from '${PACKAGE_NAME}/libp2p'
import natUpnp, { type Client, createClient, type NatUpnpMapping } from '${PACKAGE_NAME}/nat-upnp'
const client: Client = natUpnp.createClient()
const api = new NatAPI({ enablePMP: true, enableUPNP: true, upnpPermanentFallback: false })
const mapped: boolean | undefined = await api.map({ publicPort: 7777, privatePort: 7777, protocol: 'UDP' })
const gateways: AsyncGenerator<Gateway> = portMappingClient().findGateways()
const list: NatUpnpMapping[] | undefined = await createClient().getMappings({ local: true })
console.log(mapped, gateways, list, client)
// @ts-expect-error ports are numbers: the types are real, not any
await api.map('7777')
`,
    )
    fs.writeFileSync(
      path.join(consumer, 'adapters.cts'),
      `import natUpnp from '${PACKAGE_NAME}/nat-upnp'\nexport const client = natUpnp.createClient({ timeout: 1000 })\n`,
    )
    const checks = (['current', '4.9'] as const).map((compiler) => typecheckConsumer('node16', ['adapters.mts', 'adapters.cts'], compiler))
    for (const checked of await Promise.all(checks)) expect(checked, checked.output).toMatchObject({ code: 0 })
  }, 300_000)

  it('discover + addPortMapping (ESM) and deletePortMapping (CJS) from the installed package, checked with upnpc', async () => {
    fs.writeFileSync(
      path.join(consumer, 'add.mjs'),
      `
import { UPNP } from '${PACKAGE_NAME}'
const upnp = new UPNP()
const found = await upnp.discover({ timeout: 5000, untilGateway: true })
const added = await upnp.addPortMapping(${PORT}, ${PORT}, '${DESC}', 'UDP', 0)
console.log(JSON.stringify({ found, gateway: upnp.getGateway()?.igdControlUrl ?? null, added, lastError: upnp.lastError }))
`,
    )
    fs.writeFileSync(
      path.join(consumer, 'delete.cjs'),
      `
const { UPNP } = require('${PACKAGE_NAME}')
;(async () => {
  const upnp = new UPNP()
  const found = await upnp.discover({ timeout: 5000, untilGateway: true })
  const deleted = await upnp.deletePortMapping(${PORT}, 'UDP')
  console.log(JSON.stringify({ found, deleted, lastError: upnp.lastError }))
})()
`,
    )
    // Each script must also end by itself: nothing of the addon keeps the event loop alive.
    const { added, listed, deleted, left } = await addThenDelete(PORT, ['add.mjs'], ['delete.cjs'])
    expect(added).toMatchObject({ found: 0, added: 0, lastError: null })
    expect(added.gateway).toMatch(/^http:\/\/192\.168\.77\.1:5000\//)
    expect(listed).toMatchObject([{ protocol: 'UDP', internalPort: PORT, internalClient: '192.168.77.10', description: DESC }])
    expect(deleted).toMatchObject({ found: 0, deleted: 0, lastError: null })
    expect(left).toEqual([])
  }, 60_000)

  it('esbuild bundles an app with the package external (docs/bundlers.md, "Bundlers"); the bundle maps and unmaps on miniupnpd', async () => {
    fs.writeFileSync(
      path.join(consumer, 'bundled-app.mjs'),
      `
import { UPNP } from '${PACKAGE_NAME}'
const upnp = new UPNP()
const found = await upnp.discover({ timeout: 5000, untilGateway: true })
const result = process.argv[2] === 'add'
  ? await upnp.addPortMapping(${BUNDLED_PORT}, ${BUNDLED_PORT}, 'bundled by esbuild', 'UDP', 0)
  : await upnp.deletePortMapping(${BUNDLED_PORT}, 'UDP')
console.log(JSON.stringify({ found, result, lastError: upnp.lastError }))
`,
    )
    const outfile = path.join(consumer, 'dist/app.mjs')
    await build({
      entryPoints: [path.join(consumer, 'bundled-app.mjs')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      external: [PACKAGE_NAME],
      logLevel: 'silent',
    })
    // The package stays a runtime import: napi's loader picks the platform's binary package
    // when the app runs, which no bundler can do for it.
    const bundle = fs.readFileSync(outfile, 'utf8')
    expect(bundle).toContain(`from "${PACKAGE_NAME}"`)
    expect(bundle).not.toContain('NAPI_RS_NATIVE_LIBRARY_PATH')
    const { added, listed, deleted, left } = await addThenDelete(BUNDLED_PORT, [outfile, 'add'], [outfile, 'delete'])
    expect(added).toMatchObject({ found: 0, result: 0, lastError: null })
    expect(listed).toMatchObject([
      { protocol: 'UDP', internalPort: BUNDLED_PORT, internalClient: '192.168.77.10', description: 'bundled by esbuild' },
    ])
    expect(deleted).toMatchObject({ found: 0, result: 0, lastError: null })
    expect(left).toEqual([])
  }, 60_000)

  it('a browser bundle gets the "browser" condition: it builds, and running it throws the reason', async () => {
    fs.writeFileSync(
      path.join(consumer, 'browser-app.mjs'),
      `import { UPNP } from '${PACKAGE_NAME}'\nimport { NatAPI } from '${PACKAGE_NAME}/nat-api'\nconsole.log(new UPNP(), NatAPI)\n`,
    )
    const outfile = path.join(consumer, 'dist/browser-app.js')
    // Without the condition this build fails on the addon's loader (node: modules, .node files).
    await build({ entryPoints: [path.join(consumer, 'browser-app.mjs')], outfile, bundle: true, platform: 'browser', logLevel: 'silent' })
    const r = await run(process.execPath, [outfile], { cwd: consumer })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('upnp-native cannot run in a browser: it is a native Node-API addon')
    expect(r.stderr).toContain("code: 'ERR_UPNP_NATIVE_BROWSER'")
  })
})
