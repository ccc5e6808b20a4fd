// Discovery behind a VPN: the client gets a second interface that takes the way to the
// Internet away from the LAN (lab.sh vpn: a better default route, OpenVPN's 0/1 + 128/1, a
// tun device), so the system sends multicast into the VPN and a plain SSDP search finds
// nothing. upnp-native searches by unicast at the default gateways and by multicast on the
// interfaces that hold default routes, tunnels left out unless named.
import fs from 'node:fs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { defaultGateway, PortMapper, UPNP, UPNPResult } from '../../../index.ts'
import { LAB, runIn, upnpcDelete, upnpcList, vpnCtl } from '../../lab/lab.ts'

const PORT = 47400

/** Which interface the system itself sends SSDP's multicast group through. */
async function multicastRoute(): Promise<string> {
  const r = await runIn('client', 'ip', ['route', 'get', '239.255.255.250'])
  return /\bdev (\S+)/.exec(r.stdout)?.[1] ?? ''
}

/** Datagrams sent into the lab's tun0 (nothing reads it: each is counted as dropped). */
const tunDropped = () => Number(fs.readFileSync('/sys/class/net/tun0/statistics/tx_dropped', 'utf8'))

async function discover(multicastIf = '', timeout = 3000) {
  const upnp = new UPNP()
  upnp.discoverMulticastIf = multicastIf
  const started = performance.now()
  const result = await upnp.discover({ timeout, untilGateway: true })
  return { result, ms: performance.now() - started, gateway: upnp.getGateway() }
}

afterEach(async () => {
  await vpnCtl('off')
  await runIn('client', 'nft', ['delete', 'table', 'ip', 'wifi_drops_multicast'])
})

afterAll(async () => {
  await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
})

describe('behind a VPN the router is still found, and quickly', () => {
  it("a VPN with a better default route (metric 50 against the LAN's 100)", async () => {
    await vpnCtl('metric')
    expect(await multicastRoute()).toBe('vpn0') // the problem: the system multicasts into the VPN
    const { result, ms, gateway } = await discover()
    expect(result).toBe(UPNPResult.SUCCESS)
    expect(gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
    // Found on the first burst (the router replies within ~50 ms), not at the deadline.
    expect(ms).toBeLessThan(1500)
    // The system's default route is the VPN's: that is what defaultGateway() reports.
    expect(await defaultGateway()).toMatchObject({ gateway: '10.8.0.1', interface: 'vpn0', localAddress: '10.8.0.2' })
  })

  it("OpenVPN's redirect-gateway def1 (0.0.0.0/1 and 128.0.0.0/1 into the VPN)", async () => {
    await vpnCtl('split')
    expect(await multicastRoute()).toBe('vpn0')
    const { result, ms, gateway } = await discover()
    expect(result).toBe(UPNPResult.SUCCESS)
    expect(gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(ms).toBeLessThan(1500)
    expect(await defaultGateway()).toMatchObject({ gateway: LAB.routerLan, interface: 'lan0' })
  })

  it('a tun device with a better default route: found on the LAN, nothing sent into the tunnel', async () => {
    await vpnCtl('tun')
    expect(await multicastRoute()).toBe('tun0')
    const before = tunDropped()
    const { result, ms, gateway } = await discover()
    expect(result).toBe(UPNPResult.SUCCESS)
    expect(gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(ms).toBeLessThan(1500)
    expect(tunDropped()).toBe(before)
    // The tunnel's route has no gateway: the LAN's is the default gateway.
    expect(await defaultGateway()).toMatchObject({ gateway: LAB.routerLan, interface: 'lan0' })
  })

  it('a tunnel named in discoverMulticastIf is searched, and only it', async () => {
    await vpnCtl('tun')
    const before = tunDropped()
    const { result } = await discover('tun0', 600)
    expect(result).toBe(UPNPResult.NO_DEVICES)
    // Seven search types (Godot's five gateway types, TR-064's IGD and upnp:rootdevice,
    // crate/src/upnp/discovery/search.rs), sent twice (the retransmission).
    expect(tunDropped() - before).toBe(14)
  })

  it("discoverMulticastIf still wins: the VPN's interface alone finds nothing", async () => {
    await vpnCtl('metric')
    expect((await discover('vpn0', 600)).result).toBe(UPNPResult.NO_DEVICES)
    expect((await discover('lan0')).result).toBe(UPNPResult.SUCCESS)
  })

  it('Wi-Fi that drops multicast: the unicast search at the default gateway finds the router', async () => {
    // Every datagram to the SSDP group is dropped on its way out of the client.
    const nft = (...args: string[]) => runIn('client', 'nft', args)
    expect((await nft('add', 'table', 'ip', 'wifi_drops_multicast')).code).toBe(0)
    await nft('add', 'chain', 'ip', 'wifi_drops_multicast', 'out', '{ type filter hook output priority 0; }')
    expect((await nft('add', 'rule', 'ip', 'wifi_drops_multicast', 'out', 'ip', 'daddr', '239.255.255.250', 'counter', 'drop')).code).toBe(
      0,
    )
    const { result, ms, gateway } = await discover()
    expect(result).toBe(UPNPResult.SUCCESS)
    expect(gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(ms).toBeLessThan(1500)
    // The multicast search did go out, and was dropped.
    const counted = /counter packets (\d+)/.exec((await nft('list', 'table', 'ip', 'wifi_drops_multicast')).stdout)
    expect(Number(counted?.[1])).toBeGreaterThan(0)
  })

  it("PortMapper behind the VPN: NAT-PMP/PCP at the VPN's gateway get no answer, UPnP maps on the LAN", async () => {
    await vpnCtl('metric')
    const mapper = new PortMapper({ watchAnnouncements: false })
    try {
      const m = await mapper.map({ internalPort: PORT, protocol: 'UDP', lease: 600 })
      expect(m.via).toBe('upnp')
      expect((await upnpcList()).some((e) => e.externalPort === m.externalPort && e.internalClient === LAB.client)).toBe(true)
    } finally {
      await mapper.close()
    }
    expect((await upnpcList()).some((e) => e.externalPort === PORT)).toBe(false)
  })
})
