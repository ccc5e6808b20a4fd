// The runtime matrix's lab mapping: .ci/node-matrix.sh runs this file, threads.test.ts and
// lib/portmapper/electron-quit.test.ts under every Node version package.json claims, and
// .ci/runtimes.sh runs it and threads.test.ts under Bun and Deno. The runtime is the one asked
// for, and a mapping made through PortMapper (discovery, add) forwards a real packet from the
// WAN and is deleted again.
import { afterAll, describe, expect, it } from 'vitest'
import { PortMapper } from '../../index.ts'
import { LAB, receiveOnce, sendFromWan, upnpcDelete, upnpcList } from '../lab/lab.ts'

const PORT = 47700

/** "node v24.1.0", "bun 1.4.4" or "deno 2.9.6": what runs this file (Bun and Deno also set
 *  process.version, to the Node version they emulate). */
const runtime = process.versions.bun
  ? `bun ${process.versions.bun}`
  : process.versions.deno
    ? `deno ${process.versions.deno}`
    : `node ${process.version}`

afterAll(async () => {
  await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
})

describe(runtime, () => {
  it('runs under the runtime the matrix asked for', () => {
    // Set by lab.sh matrix / lab.sh runtime; a plain `npm test` runs with whatever node is
    // first on PATH.
    expect(runtime).toBe(process.env.UNL_EXPECT_RUNTIME ?? runtime)
  })

  it('maps a port on miniupnpd: upnpc lists it, a packet from the WAN arrives, close() removes it', async () => {
    const mapper = new PortMapper({ protocol: 'upnp', lease: 600, watchAnnouncements: false })
    try {
      const m = await mapper.map({ internalPort: PORT, protocol: 'UDP', description: runtime })
      expect(m).toMatchObject({ externalPort: PORT, externalAddress: LAB.extIp, internalClient: LAB.client })
      const entry = (await upnpcList()).find((e) => e.externalPort === PORT && e.protocol === 'UDP')
      expect(entry).toMatchObject({ internalClient: LAB.client, internalPort: PORT, description: runtime })
      const listener = receiveOnce('udp', PORT, 3000)
      await listener.ready
      await sendFromWan('udp', PORT, `hello ${runtime}`)
      expect(await listener.result).toEqual({ payload: `hello ${runtime}`, from: LAB.wanHost })
    } finally {
      await mapper.close()
    }
    expect((await upnpcList()).some((e) => e.externalPort === PORT)).toBe(false)
  })
})
