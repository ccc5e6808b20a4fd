// The Node matrix's lab mapping (.ci/node-matrix.sh runs this file, threads.test.ts and
// lib/portmapper/electron-quit.test.ts under every Node version package.json claims): the Node version is the
// one asked for, and a mapping made through PortMapper forwards a real packet from the WAN.
import { afterAll, describe, expect, it } from 'vitest'
import { PortMapper } from '../../index.ts'
import { LAB, receiveOnce, sendFromWan, upnpcDelete, upnpcList } from '../lab/lab.ts'

const PORT = 47700

afterAll(async () => {
  await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
})

describe(`Node ${process.version}`, () => {
  it('runs under the Node binary the matrix asked for', () => {
    // Set by lab.sh matrix; a plain `npm test` runs with whatever node is first on PATH.
    const expected = process.env.UNL_EXPECT_NODE ?? process.version
    expect(process.version).toBe(expected)
  })

  it('maps a port on miniupnpd: upnpc lists it, a packet from the WAN arrives, close() removes it', async () => {
    const mapper = new PortMapper({ protocol: 'upnp', lease: 600, watchAnnouncements: false })
    try {
      const m = await mapper.map({ internalPort: PORT, protocol: 'UDP', description: `node ${process.version}` })
      expect(m).toMatchObject({ externalPort: PORT, externalAddress: LAB.extIp, internalClient: LAB.client })
      const entry = (await upnpcList()).find((e) => e.externalPort === PORT && e.protocol === 'UDP')
      expect(entry).toMatchObject({ internalClient: LAB.client, internalPort: PORT, description: `node ${process.version}` })
      const listener = receiveOnce('udp', PORT, 3000)
      await listener.ready
      await sendFromWan('udp', PORT, `hello ${process.version}`)
      expect(await listener.result).toEqual({ payload: `hello ${process.version}`, from: LAB.wanHost })
    } finally {
      await mapper.close()
    }
    expect((await upnpcList()).some((e) => e.externalPort === PORT)).toBe(false)
  })
})
