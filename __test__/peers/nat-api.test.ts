// nat-api users' flows against upnp-native/nat-api and miniupnpd, checked on the router with
// upnpc -l: map / unmap / destroy over UPnP and NAT-PMP, the external port kept equal to the
// one asked for, callbacks, and @silentbot1/nat-api's own tests/basic.js (from its npm
// package, pinned 0.4.9, unmodified) run against the adapter.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NatAPI } from '../../lib/adapters/nat-api.ts'
import { LAB, repoRoot, upnpcAdd, upnpcDelete, upnpcList } from '../lab/lab.ts'

const ROOT = repoRoot()
const PORT = { upnp: 47901, pmp: 47902, taken: 47903, destroy: 47904, callback: 47905 }
const BASIC_PORT = 6690 // fixed in their tests/basic.js (the lab allows it: >= 1024)

afterAll(async () => {
  for (const externalPort of [...Object.values(PORT), BASIC_PORT]) {
    for (const protocol of ['UDP', 'TCP'] as const) {
      await upnpcDelete({ externalPort, protocol })
      await upnpcDelete({ externalPort, protocol, ns: 'client2' })
    }
  }
})

const onRouter = async (port: number) => (await upnpcList()).filter((m) => m.externalPort === port)

describe('NatAPI flows, checked on the router', () => {
  it('UPnP only: map(port) maps UDP and TCP on that very port; unmap deletes both', async () => {
    const client = new NatAPI({ enablePMP: false, enableUPNP: true, upnpPermanentFallback: false })
    expect(await client.map(PORT.upnp)).toBe(true)
    const held = await onRouter(PORT.upnp)
    expect(held.map((m) => m.protocol).sort()).toEqual(['TCP', 'UDP'])
    expect(held.every((m) => m.internalClient === LAB.client && m.internalPort === PORT.upnp && m.description === 'NatAPI')).toBe(true)
    expect(await client.externalIp()).toBe(LAB.extIp)
    expect(await client.unmap(PORT.upnp)).toBe(true)
    expect(await onRouter(PORT.upnp)).toEqual([])
    expect(await client.destroy()).toBe(true)
  })

  it('NAT-PMP first (both enabled, the default): the mapping is on the router, and unmap removes it', async () => {
    const client = new NatAPI()
    expect(await client.map({ publicPort: PORT.pmp, privatePort: PORT.pmp, protocol: 'TCP' })).toBe(true)
    const held = await onRouter(PORT.pmp)
    expect(held).toHaveLength(1)
    expect(held[0]).toMatchObject({ protocol: 'TCP', internalClient: LAB.client, internalPort: PORT.pmp })
    expect(held[0]?.description).toMatch(/NAT-PMP/) // miniupnpd's own label: it came over NAT-PMP
    expect(await client.unmap({ publicPort: PORT.pmp, privatePort: PORT.pmp, protocol: 'TCP' })).toBe(true)
    expect(await onRouter(PORT.pmp)).toEqual([])
    await client.destroy()
  })

  it('the external port is the one asked for: a port another host holds is refused, not moved', async () => {
    expect((await upnpcAdd({ ns: 'client2', externalPort: PORT.taken, internalPort: PORT.taken, protocol: 'UDP' })).ok).toBe(true)
    const client = new NatAPI({ enablePMP: false })
    expect(await client.map({ publicPort: PORT.taken, privatePort: PORT.taken, protocol: 'UDP' })).toBe(false)
    const held = await onRouter(PORT.taken)
    expect(held.map((m) => m.internalClient)).toEqual([LAB.client2])
    // Nothing of ours anywhere else either (PortMapper would have moved it; nat-api does not).
    expect((await upnpcList()).filter((m) => m.internalClient === LAB.client && m.internalPort === PORT.taken)).toEqual([])
    await client.destroy()
  })

  it('destroy() deletes what is still mapped; the client is then unusable, as nat-api', async () => {
    const client = new NatAPI({ enablePMP: false })
    expect(await client.map(PORT.destroy, PORT.destroy)).toBe(true)
    expect(await onRouter(PORT.destroy)).toHaveLength(2)
    expect(await client.destroy()).toBe(true)
    expect(await onRouter(PORT.destroy)).toEqual([])
    await expect(client.destroy()).rejects.toThrow('client already destroyed')
    await expect(client.map(PORT.destroy)).rejects.toThrow('client is destroyed')
  })

  it('callback forms: map(port, cb), unmap(port, cb), externalIp(cb), destroy(cb)', async () => {
    const client = new NatAPI({ enablePMP: false })
    const call = <T>(f: (cb: (e: Error | null, v?: T) => void) => unknown) =>
      new Promise<[Error | null, T | undefined]>((r) => void f((e, v) => r([e, v])))
    expect(await call<boolean>((cb) => client.map(PORT.callback, cb))).toEqual([null, true])
    expect(await onRouter(PORT.callback)).toHaveLength(2)
    expect(await call<string>((cb) => client.externalIp(cb))).toEqual([null, LAB.extIp])
    expect(await call<boolean>((cb) => client.unmap(PORT.callback, cb))).toEqual([null, true])
    expect(await onRouter(PORT.callback)).toEqual([])
    expect(await call<boolean>((cb) => client.destroy(cb))).toEqual([null, true])
    const [again] = await call<boolean>((cb) => client.destroy(cb))
    expect(again?.message).toBe('client already destroyed')
  })

  it('no protocol enabled: map and unmap are false, as nat-api', async () => {
    const client = new NatAPI({ enablePMP: false, enableUPNP: false })
    expect(await client.map(PORT.upnp)).toBe(false)
    expect(await client.unmap(PORT.upnp)).toBe(false)
    await client.destroy()
  })
})

describe("@silentbot1/nat-api's tests/basic.js, unmodified, against the adapter", () => {
  it('every enabled combination maps and unmaps port 6690 (TCP, UDP); nothing is left', async () => {
    const script = path.join(ROOT, 'node_modules/@silentbot1/nat-api/tests/basic.js')
    const hook = path.join(ROOT, '__test__/peers/nat-api-as-upnp-native.mjs')
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', hook, script], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout + stderr),
      )
    })
    const lines = out.split('\n').filter((l) => l.trim())
    // Their script prints a header per combination, then "mapped"/"unmapped ... Success: <bool>".
    const results = lines.filter((l) => /Success:/.test(l)).map((l) => /Success: (\w+)/.exec(l)?.[1])
    expect(lines.filter((l) => l.startsWith('enablePMP'))).toHaveLength(4)
    expect(results).toEqual([...Array(12).fill('true'), 'false', 'false', 'false', 'false'])
    expect(await onRouter(BASIC_PORT)).toEqual([])
  }, 150_000)
})
