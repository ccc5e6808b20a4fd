// Smoke test of a built package on any OS/CPU, with no network at all: what the release
// workflow runs on runners that cannot host the lab (macOS, Windows, arm64, musl containers).
// Needs the build (`npm run build`, or `npm run build:ts` with the platform's .node put in
// dist/lib/native/ beside binding.js).
// Usage: node __test__/smoke.mjs     (prints "smoke: N passed, N failed")
import assert from 'node:assert/strict'
import net from 'node:net'
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
  // Node 23+ also names a CommonJS module's whole exports 'module.exports' in its namespace.
  const names = Object.keys(esm)
    .filter((k) => !['default', '__esModule', 'module.exports'].includes(k))
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
  // The hot calls' own path (one completion channel per JS thread): rejects too, then works.
  await assert.rejects(native.__panicInCallForTests('smoke'), /panic in the native call: smoke/)
  assert.equal(await native.__panicInCallForTests(''), 0)
  // ...in its first step on this thread or after a wait on the runtime's.
  await assert.rejects(native.__panicInCallForTests('smoke later', true), /panic in the native call: smoke later/)
  assert.throws(() => native.__panicSyncForTests('smoke sync'), /smoke sync/)
})

await check('worker threads load the addon beside the main thread', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads')
    const native = require(${JSON.stringify(require.resolve('../dist/lib/native/index.js'))})
    native.__panicForTests('from a worker')
      .catch((e) => native.__panicInCallForTests('in a call').catch((f) => parentPort.postMessage(e.message + ' / ' + f.message)))`
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
  for (const m of messages) assert.match(m, /panic.* \/ panic in the native call: in a call/i)
  const native = require('../dist/lib/native/index.js')
  await assert.rejects(native.__panicForTests('after workers'), /panic/i)
  await assert.rejects(native.__panicInCallForTests('after workers'), /after workers/)
  assert.equal(await native.__panicInCallForTests(''), 0)
})

await check("defaultGateway(): this machine's default gateway (required where UPNP_SMOKE_EXPECT_GATEWAY=1)", async () => {
  // Reads the routing table only; nothing is sent.
  const gw = await esm.defaultGateway()
  if (gw === null) {
    assert.notEqual(process.env.UPNP_SMOKE_EXPECT_GATEWAY, '1', 'no default gateway found')
    console.log('     (no default gateway on this machine)')
    return
  }
  const v4 = gw.gateway !== '' && net.isIPv4(gw.gateway)
  const v6 = gw.gateway6 !== '' && net.isIPv6(gw.gateway6.split('%')[0])
  assert.ok(v4 || v6, `not an address: ${JSON.stringify(gw)}`)
  if (v4) assert.ok(net.isIPv4(gw.localAddress) && gw.interface !== '', JSON.stringify(gw))
  if (v6) assert.ok(net.isIPv6(gw.localAddress6) && gw.interface6 !== '', JSON.stringify(gw))
  const found = [v4 && `${gw.gateway} via ${gw.interface}`, v6 && `${gw.gateway6} via ${gw.interface6}`]
  console.log(`     (default gateway ${found.filter(Boolean).join(', ')})`)
})

let failed = 0
for (const [name, error] of results) {
  if (error) failed += 1
  console.log(`${error ? 'FAIL' : 'ok  '} ${name}${error ? `\n     ${error.stack ?? error}` : ''}`)
}
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`)
process.exitCode = failed ? 1 : 0
