// Their code, not ours: a real js-libp2p node with @libp2p/upnp-nat (versions pinned in
// package.json) uses upnp-native's portMappingClient against miniupnpd. It maps its listen
// port, announces the external address, and a libp2p node on the WAN side dials it through
// the mapping; after stop() nothing is left on the router (upnpc -l).
//
// The lab's external address 11.22.33.44 is only reported, never routed (no namespace has a
// route to it, by design), so the WAN node dials the router's WAN address 10.99.0.1 at the
// announced external port: the same DNAT rule serves both, and identify then shows that the
// node announced 11.22.33.44 at that port.
import './node20-polyfill.ts'
import path from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT, type UPnPNATInit } from '@libp2p/upnp-nat'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { pmpNat, portMappingClient } from '../../lib/adapters/libp2p.ts'
import { LAB, repoRoot, runIn, upnpcDelete, upnpcList } from '../lab/lab.ts'

// Compile-time proof (tsc --noEmit): what uPnPNAT's option takes.
const typed: NonNullable<UPnPNATInit['portMappingClient']> = portMappingClient()
void typed

const DIALER = path.join(repoRoot(), '__test__/peers/libp2p-wan-dialer.mts')
let node: Libp2p | undefined
let mappedPort = 0

afterEach(async () => {
  await node?.stop()
  node = undefined
  if (mappedPort) await upnpcDelete({ externalPort: mappedPort, protocol: 'TCP' })
  mappedPort = 0
})

async function startNode(init: UPnPNATInit): Promise<Libp2p> {
  node = await createLibp2p({
    addresses: { listen: [`/ip4/0.0.0.0/tcp/0`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), upnpNAT: uPnPNAT(init) },
  })
  return node
}

/** The node's own listen port on the LAN, and its announced external one once mapped. */
async function announced(n: Libp2p, withinMs = 30_000): Promise<{ listenPort: number; externalPort: number }> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const addrs = n.getMultiaddrs().map((a) => a.toString())
    const lan = addrs.map((a) => new RegExp(`^/ip4/${LAB.client}/tcp/(\\d+)/`).exec(a)).find(Boolean)
    const ext = addrs.map((a) => new RegExp(`^/ip4/${LAB.extIp.replace(/\./g, '\\.')}/tcp/(\\d+)/`).exec(a)).find(Boolean)
    if (lan && ext) return { listenPort: Number(lan[1]), externalPort: Number(ext[1]) }
    if (Date.now() > deadline) throw new Error(`no external address announced within ${withinMs} ms: ${addrs.join(' ')}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('js-libp2p + @libp2p/upnp-nat with upnp-native as its portMappingClient', () => {
  it('maps the listen port, announces the external address, is dialled from the WAN through it, and cleans up', async () => {
    const n = await startNode({ portMappingClient: portMappingClient({ description: 'libp2p via upnp-native' }), autoConfirmAddress: true })
    const { listenPort, externalPort } = await announced(n)
    mappedPort = externalPort
    expect(externalPort).toBe(listenPort)
    const onRouter = (await upnpcList()).find((m) => m.externalPort === externalPort && m.protocol === 'TCP')
    expect(onRouter).toMatchObject({ internalClient: LAB.client, internalPort: listenPort, description: 'libp2p via upnp-native' })

    const inbound: string[] = []
    n.addEventListener('connection:open', (event) => inbound.push(event.detail.remoteAddr.toString()))
    const target = `/ip4/${LAB.routerWan}/tcp/${externalPort}/p2p/${n.peerId.toString()}`
    const dial = await runIn('wan', process.execPath, ['--import', 'tsx', DIALER, target], 40_000)
    expect(dial.code, dial.stderr).toBe(0)
    const seen = JSON.parse(dial.stdout.trim().split('\n').pop() ?? '{}') as { remotePeer: string; listenAddrs: string[] }
    expect(seen.remotePeer).toBe(n.peerId.toString())
    // What the node told the remote peer about itself: the router's external address.
    expect(seen.listenAddrs).toContain(`/ip4/${LAB.extIp}/tcp/${externalPort}`)
    // And on this side the connection came in from the WAN host, through the router's DNAT.
    expect(
      inbound.some((a) => a.startsWith(`/ip4/${LAB.wanHost}/tcp/`)),
      inbound.join(' '),
    ).toBe(true)

    await n.stop()
    node = undefined
    expect((await upnpcList()).find((m) => m.externalPort === externalPort)).toBeUndefined()
  }, 90_000)

  it('a gateway given by its description URL (getGateway): mapped without a search, deleted on stop', async () => {
    const n = await startNode({
      portMappingClient: portMappingClient({ description: 'libp2p static gateway' }),
      gateways: [LAB.routerDescUrl],
      autoConfirmAddress: true,
    })
    const { externalPort } = await announced(n)
    mappedPort = externalPort
    expect((await upnpcList()).find((m) => m.externalPort === externalPort)?.description).toBe('libp2p static gateway')
    await n.stop()
    node = undefined
    expect((await upnpcList()).find((m) => m.externalPort === externalPort)).toBeUndefined()
  }, 60_000)
})

describe('the client contract on its own (what nat-port-mapper callers use)', () => {
  it('findGateways yields the router; map/unmap/externalIp/stop behave as nat-port-mapper documents', async () => {
    const client = portMappingClient({ description: 'contract' })
    const found = []
    for await (const g of client.findGateways({ signal: AbortSignal.timeout(5000) })) found.push(g)
    expect(found.map((g) => [g.id, g.host, g.port, g.family])).toEqual([[LAB.routerDescUrl, LAB.routerLan, 5000, 'IPv4']])
    const gateway = found[0]!
    expect(await gateway.externalIp()).toBe(LAB.extIp)
    const m = await gateway.map(47701, LAB.client, { protocol: 'udp', ttl: 600_000 })
    expect(m).toEqual({ externalHost: LAB.extIp, externalPort: 47701, internalHost: LAB.client, internalPort: 47701, protocol: 'UDP' })
    expect(await gateway.map(47701, LAB.client, { protocol: 'UDP' })).toEqual(m) // held already: same mapping
    expect((await upnpcList()).filter((x) => x.externalPort === 47701)).toHaveLength(1)
    await expect(gateway.map(47702, LAB.client2)).rejects.toThrow(/not this host's address/)
    await gateway.unmap(47701)
    expect((await upnpcList()).find((x) => x.externalPort === 47701)).toBeUndefined()
    await gateway.unmap(47701) // not mapped: a no-op
    await gateway.map(47703, LAB.client)
    await gateway.stop()
    expect((await upnpcList()).find((x) => x.externalPort === 47703)).toBeUndefined()
    await expect(client.getGateway(new URL(`http://${LAB.routerLan}:5999/rootDesc.xml`))).rejects.toThrow(/HTTP_ERROR/)
  })

  it('pmpNat(router): the same Gateway over NAT-PMP', async () => {
    const gateway = pmpNat(LAB.routerLan)
    expect([gateway.id, gateway.host, gateway.port, gateway.family]).toEqual([`natpmp:${LAB.routerLan}`, LAB.routerLan, 5351, 'IPv4'])
    expect(await gateway.externalIp()).toBe(LAB.extIp)
    const m = await gateway.map(47711, LAB.client, { protocol: 'UDP' })
    expect(m).toEqual({ externalHost: LAB.extIp, externalPort: 47711, internalHost: LAB.client, internalPort: 47711, protocol: 'UDP' })
    expect((await upnpcList()).find((x) => x.externalPort === 47711)?.description).toMatch(/NAT-PMP/)
    await expect(gateway.map(47712, LAB.client2, { protocol: 'UDP' })).rejects.toThrow(/not this host's address/)
    expect((await upnpcList()).find((x) => x.externalPort === 47712)).toBeUndefined()
    await gateway.stop()
    expect((await upnpcList()).find((x) => x.externalPort === 47711)).toBeUndefined()
  })
})
