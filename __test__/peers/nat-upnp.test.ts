// nat-upnp's own test file, unmodified, against upnp-native/nat-upnp and miniupnpd:
// node_modules/nat-upnp/test/api-test.js (nat-upnp 1.1.1 from npm, pinned) run by mocha,
// with `require('..')` resolved to the adapter and its random ports kept >= 1024 (see
// nat-upnp-as-upnp-native.cjs). Its ssdp-test.js is not run: it tests nat-upnp's own SSDP
// class (`natUpnp.ssdp`), which the adapter does not offer. Then the fork's promise API
// (@runonflux/nat-upnp's names) and what the router holds afterwards.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Client, createClient } from '../../lib/adapters/nat-upnp.ts'
import { LAB, repoRoot, upnpcDelete, upnpcList } from '../lab/lab.ts'

const ROOT = repoRoot()
const PORT = { promise: 47801, callback: 47802 }

afterAll(async () => {
  for (const [externalPort, protocol] of [
    [PORT.promise, 'TCP'],
    [PORT.callback, 'UDP'],
  ] as const)
    await upnpcDelete({ externalPort, protocol })
})

interface MochaReport {
  stats: { tests: number; passes: number; failures: number; pending: number }
  passes: Array<{ fullTitle: string }>
  failures: Array<{ fullTitle: string; err: { message: string } }>
}

function mocha(): Promise<{ code: number; report: MochaReport; stderr: string }> {
  const args = [
    path.join(ROOT, 'node_modules/mocha/bin/mocha.js'),
    '--require',
    path.join(ROOT, '__test__/peers/nat-upnp-as-upnp-native.cjs'),
    '--reporter',
    'json',
    '--timeout',
    '60000',
    path.join(ROOT, 'node_modules/nat-upnp/test/api-test.js'),
  ]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 120_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? Number(err.code) : 0, report: JSON.parse(stdout) as MochaReport, stderr })
    })
  })
}

describe("nat-upnp's test/api-test.js (mocha), unmodified, against the adapter", () => {
  it('all three of its tests pass, and they leave nothing on the router', async () => {
    const { code, report, stderr } = await mocha()
    expect(report.failures.map((f) => `${f.fullTitle}: ${f.err.message}`)).toEqual([])
    expect(report.passes.map((p) => p.fullTitle)).toEqual([
      'NAT-UPNP/Client should add port mapping/unmapping',
      'NAT-UPNP/Client should find port after mapping',
      'NAT-UPNP/Client should get external ip address',
    ])
    expect(report.stats).toMatchObject({ tests: 3, passes: 3, failures: 0, pending: 0 })
    expect(code, stderr).toBe(0)
    expect((await upnpcList()).filter((m) => m.description.startsWith('node:nat:upnp'))).toEqual([])
  }, 120_000)
})

describe('the promise API of the fork (@runonflux/nat-upnp) and callbacks', () => {
  it('createMapping / getMappings / getPublicIp / removeMapping, checked with upnpc -l', async () => {
    const client = new Client()
    const { address } = (await client.getGateway())!
    expect(address).toBe(LAB.client)
    await client.createMapping({ public: PORT.promise, private: 7000, ttl: 0, description: 'flux promise' })
    expect((await upnpcList()).find((m) => m.externalPort === PORT.promise)).toMatchObject({
      protocol: 'TCP',
      internalClient: LAB.client,
      internalPort: 7000,
      description: 'flux promise',
    })
    const listed = await client.getMappings({ local: true, description: /flux/ })
    expect(listed).toContainEqual(
      expect.objectContaining({
        public: { host: '', port: PORT.promise },
        private: { host: LAB.client, port: 7000 },
        protocol: 'tcp',
        local: true,
      }),
    )
    expect(await client.getPublicIp()).toBe(LAB.extIp)
    await client.removeMapping({ public: { port: PORT.promise } })
    expect((await upnpcList()).find((m) => m.externalPort === PORT.promise)).toBeUndefined()
    client.close()
  })

  it("callbacks get (err, value); a refused mapping gets the router's error, no throw", async () => {
    const client = createClient({ gateway: LAB.routerDescUrl })
    const err = await new Promise<Error | null>(
      (r) => void client.portMapping({ public: PORT.callback, private: PORT.callback, protocol: 'udp' }, r),
    )
    expect(err).toBeNull()
    expect((await upnpcList()).find((m) => m.externalPort === PORT.callback)?.protocol).toBe('UDP')
    const ip = await new Promise<[Error | null, string | undefined]>((r) => void client.externalIp((e, v) => r([e, v])))
    expect(ip).toEqual([null, LAB.extIp])
    const refused = await new Promise<Error | null>((r) => void client.portMapping({ public: 80, private: 80 }, r))
    expect(refused?.message).toMatch(/UPnP 606/)
    const removed = await new Promise<Error | null>((r) => void client.portUnmapping({ public: PORT.callback, protocol: 'UDP' }, r))
    expect(removed).toBeNull()
    expect((await upnpcList()).find((m) => m.externalPort === PORT.callback)).toBeUndefined()
  })
})
