// The default description's last fallback (lib/portmapper/entry-owner.ts): an app whose entry
// script has no package.json above it, up to the root, is named by its process title. Each
// app runs in a process of its own, its entry script in a fresh temporary folder, and what
// counts is what a router receives: the description of the AddPortMapping that a loopback
// stand-in records (__test__/helpers/soap-stub.ts). The control: the same script beside a
// package.json sends that package's name.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { packageName } from '../../lib/portmapper/entry-owner.ts'
import { repoRoot } from '../lab/lab.ts'

const ROOT = repoRoot()
const from = (file: string) => JSON.stringify(pathToFileURL(path.join(ROOT, file)).href)
/** A title with a control character, which the description must not carry. */
const TITLE = 'hg26 title\u0007 app'

// The title is set before the library is loaded: nothing it does at load time can see another.
const APP = `
process.title = ${JSON.stringify(TITLE)}
const { PortMapper } = await import(${from('index.ts')})
const { startSoapStub } = await import(${from('__test__/helpers/soap-stub.ts')})
const stub = await startSoapStub()
const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
const m = await mapper.map({ internalPort: 40030, protocol: 'UDP' })
const sent = stub.requests.find((r) => r.action === 'AddPortMapping')?.args.NewPortMappingDescription
await mapper.close()
await stub.close()
console.log(JSON.stringify({ description: m.description, sent }))
`

const folders: string[] = []
afterAll(() => {
  for (const f of folders) fs.rmSync(f, { recursive: true, force: true })
})

/** Runs APP as the entry script of a fresh folder (with `packageJson` beside it, if given). */
function runApp(packageJson?: object): Promise<{ folder: string; out: { description: string; sent: string } }> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-app-name-'))
  folders.push(folder)
  // .mts: an ES module (top-level await) whatever package.json says, or none.
  const entry = path.join(folder, 'app.mts')
  fs.writeFileSync(entry, APP)
  if (packageJson) fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(packageJson))
  return new Promise((resolve, reject) => {
    // cwd: where tsx is installed; the app is named from its entry script, not from here.
    execFile(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`the app failed: ${stderr || error.message}`))
      resolve({ folder, out: JSON.parse(stdout.trim().split('\n').at(-1) ?? '') })
    })
  })
}

it('an entry script with no package.json above it: the description is the process title, control characters removed', async () => {
  const { folder, out } = await runApp()
  // What makes this the fallback: nothing up to the root names the app.
  expect(packageName(folder)).toBeNull()
  expect(out).toEqual({ description: 'hg26 title app', sent: 'hg26 title app' })
})

it('the same script beside a package.json: that package is the name, not the title', async () => {
  const { out } = await runApp({ name: 'hg26-game' })
  expect(out).toEqual({ description: 'hg26-game', sent: 'hg26-game' })
})
