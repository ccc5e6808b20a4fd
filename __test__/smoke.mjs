// Smoke test of a built package on any OS/CPU, with no network at all: what the release
// workflow runs on runners that cannot host the lab (macOS, Windows, arm64, musl containers).
// Needs the build (`npm run build`, or `npm run build:ts` with the platform's .node put in
// dist/lib/native/ beside binding.js).
// Usage: node __test__/smoke.mjs     (prints "smoke: N passed, N failed")
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import * as esm from '../index.mjs'

const require = createRequire(import.meta.url)
const results = []
async function check(name, fn) {
  try {
    await fn()
    results.push([name, null])
  } catch (error) {
    results.push([name, error])
  }
}

await check('ESM and CommonJS entries: same names, same classes', () => {
  const cjs = require('../dist/index.js')
  const names = Object.keys(esm)
    .filter((k) => k !== 'default' && k !== '__esModule')
    .sort()
  assert.deepEqual(names, Object.keys(cjs).sort())
  assert.equal(esm.UPNP, cjs.UPNP)
  assert.equal(esm.UPNPResult.SUCCESS, 0)
  assert.equal(esm.UPNPResult.UNKNOWN_ERROR, 28)
})

await check('the Godot checks run before any I/O', async () => {
  const upnp = new esm.UPNP()
  assert.equal(await upnp.addPortMapping(7777), esm.UPNPResult.NO_GATEWAY)
  const device = new esm.UPNPDevice()
  assert.equal(await device.addPortMapping(7777), esm.UPNPResult.INVALID_GATEWAY)
})

await check('the addon runs async work on its runtime; a panic rejects, never crashes', async () => {
  const native = require('../dist/lib/native/index.js')
  await assert.rejects(native.__panicForTests('smoke'), /panic/i)
  assert.throws(() => native.__panicSyncForTests('smoke sync'), /smoke sync/)
})

await check('worker threads load the addon beside the main thread', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads')
    const native = require(${JSON.stringify(require.resolve('../dist/lib/native/index.js'))})
    native.__panicForTests('from a worker').catch((e) => parentPort.postMessage(String(e.message)))`
  const run = () =>
    new Promise((resolve, reject) => {
      const worker = new Worker(code, { eval: true })
      worker.once('message', (m) => {
        resolve(m)
        void worker.terminate()
      })
      worker.once('error', reject)
    })
  const messages = await Promise.all([run(), run(), run()])
  for (const m of messages) assert.match(m, /panic/i)
  const native = require('../dist/lib/native/index.js')
  await assert.rejects(native.__panicForTests('after workers'), /panic/i)
})

let failed = 0
for (const [name, error] of results) {
  if (error) failed += 1
  console.log(`${error ? 'FAIL' : 'ok  '} ${name}${error ? `\n     ${error.stack ?? error}` : ''}`)
}
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`)
process.exitCode = failed ? 1 : 0
