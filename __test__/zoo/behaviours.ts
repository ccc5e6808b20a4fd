// Behaviours real routers are known for (issue 11, "What to build" 4), each checked on the
// replay that shows it. zoo.test.ts runs them after the common checks of their device. Others are
// proved by the common checks alone, on the device that shows them (an ephemeral search reply
// port, LOCATION on TCP 1900, URLBase...): see docs/contributing/routers.md, "Tested routers".
import net from 'node:net'
import { expect } from 'vitest'
import { IGDStatus, UPNP, type UPNPDevice, UPNPResult } from '../../index.ts'
import { MAPPING_DESCRIPTION } from '../../lib/defaults.ts'
import { LAB } from '../lab/lab.ts'
import type { RunningDevice } from './zoo-lab.ts'

export interface Behaviour {
  device: string
  what: string
  check(device: RunningDevice, gw: UPNPDevice): Promise<void>
}

/** One raw POST from the client namespace; returns the reply's status line. */
function rawPost(host: string, port: number, path: string, head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => {
      socket.end(`POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
    let reply = ''
    socket.setTimeout(3000, () => socket.destroy(new Error('no reply')))
    socket.on('data', (d) => (reply += d.toString('latin1')))
    socket.on('end', () => resolve(reply.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
  })
}

export const BEHAVIOURS: Behaviour[] = [
  {
    device: 'linksys-wrt120n',
    what: 'routes a POST to UPnP only for "SOAPAction" (lower case gets HTTP 501); ours is spelled so',
    async check(_device, gw) {
      const control = new URL(gw.igdControlUrl)
      const action = `"${gw.igdServiceType}#GetExternalIPAddress"`
      const body = `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:GetExternalIPAddress xmlns:u="${gw.igdServiceType}"/></s:Body></s:Envelope>`
      const post = (name: string) =>
        rawPost(
          control.hostname,
          Number(control.port || 80),
          control.pathname + control.search,
          `${name}: ${action}\r\nContent-Type: text/xml\r\n`,
          body,
        )
      expect(await post('soapaction')).toMatch(/^HTTP\/1\.[01] 501 /)
      expect(await post('SOAPAction')).toMatch(/^HTTP\/1\.[01] 200 /)
      expect(await gw.queryExternalAddress()).toBe(LAB.extIp)
    },
  },
  {
    device: 'huawei-portable-sdk',
    what: 'refuses an empty description (402); Godot\'s "" is sent as the library\'s default',
    async check(device, gw) {
      expect(await gw.addPortMapping(40031, 0, '', 'TCP', 0)).toBe(UPNPResult.SUCCESS)
      expect((await device.mappings()).find((m) => m.externalPort === 40031)?.description).toBe(MAPPING_DESCRIPTION)
      expect(await gw.deletePortMapping(40031, 'TCP')).toBe(UPNPResult.SUCCESS)
    },
  },
  {
    device: 'bbox-miniupnpd-1.4',
    what: 'GetStatusInfo answers "Up" instead of "Connected"',
    async check(_device, gw) {
      expect(gw.connections).toEqual([expect.objectContaining({ connectionStatus: 'Up', igdStatus: IGDStatus.OK })])
    },
  },
  {
    device: 'mikrotik-chr-7.10',
    what: 'two WAN connections, the first one down: the second is used, both are listed',
    async check(device, gw) {
      expect(gw.connections.map((c) => [c.igdStatus, c.connectionStatus, c.externalAddress])).toEqual([
        [IGDStatus.DISCONNECTED, 'Disconnected', ''],
        [IGDStatus.OK, 'Connected', LAB.extIp],
      ])
      expect(gw.igdControlUrl).toBe(gw.connections[1]!.controlUrl)
      // Mappings go to the connection that is up.
      expect(await gw.addPortMapping(40033, 0, 'second link', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
      const posted = (await device.requests()).filter((r) => r.body.includes('<NewExternalPort>40033</NewExternalPort>'))
      expect(posted.map((r) => r.path)).toEqual([new URL(gw.connections[1]!.controlUrl).pathname])
      expect(await gw.deletePortMapping(40033, 'UDP')).toBe(UPNPResult.SUCCESS)
    },
  },
  {
    device: 'fritzbox-7590',
    what: 'answers the TR-064 search too: both descriptions are listed, the IGD first and in use',
    async check() {
      // The whole window, so that both replies are in (untilGateway stops at the IGD).
      const upnp = new UPNP()
      expect(await upnp.discover(1000)).toBe(UPNPResult.SUCCESS)
      const found = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!)
      expect(found.map((d) => d.descriptionUrl)).toEqual([
        'http://192.168.178.1:49000/igddesc.xml',
        'http://192.168.178.1:49000/tr64desc.xml',
      ])
      expect(found[1]!.connections.map((c) => c.serviceType)).toEqual([
        'urn:dslforum-org:service:WANPPPConnection:1',
        'urn:dslforum-org:service:WANIPConnection:1',
      ])
      expect(found.map((d) => d.igdStatus)).toEqual([IGDStatus.OK, IGDStatus.INVALID_CONTROL])
      expect(upnp.getGateway()).toBe(found[0])
    },
  },
  {
    device: 'sagemcom-fast3890v3',
    what: 'an empty "SERVER:" header',
    async check(_device, gw) {
      expect(gw.server).toBe('')
    },
  },
  {
    device: 'mitrastar-dsl-2401hn',
    what: 'headers without a space after the colon; a description declared ISO-8859-1',
    async check(device, gw) {
      expect(gw.friendlyName).toBe(device.spec.expect.friendlyName)
    },
  },
  {
    device: 'puma6-miniupnpd-1.9',
    what: 'a description starting with a UTF-8 BOM',
    async check(device, gw) {
      expect(gw.friendlyName).toBe(device.spec.expect.friendlyName)
    },
  },
  {
    device: 'upnp-device-host',
    what: '"ST:" without a space; chunked description and SOAP bodies',
    async check(device, gw) {
      expect(gw.friendlyName).toBe(device.spec.expect.friendlyName)
      expect(await gw.getPortMapping(40998, 'UDP')).toBeNull()
      expect(gw.lastError).toMatchObject({ upnpCode: 714, result: UPNPResult.NO_SUCH_ENTRY_IN_ARRAY })
    },
  },
  {
    device: 'tplink-archer-c8',
    what: 'LOCATION on TCP 1900; faults with the SOAP-ENV: prefix',
    async check(_device, gw) {
      expect(gw.descriptionUrl).toBe('http://192.168.0.1:1900/igd.xml')
      expect(await gw.deletePortMapping(40999, 'UDP')).toBe(UPNPResult.NO_SUCH_ENTRY_IN_ARRAY)
      expect(gw.lastError).toMatchObject({ upnpCode: 714, description: 'NoSuchEntryInArray', httpStatus: 500 })
    },
  },
  {
    device: 'actiontec-gt784wn',
    what: 'm: reply prefix, HTTP/1.0 description without Content-Length, Keep-Alive SOAP heads',
    async check(_device, gw) {
      expect(await gw.addPortMapping(40032, 0, 'prefix', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
      expect(await gw.getPortMapping(40032, 'UDP')).toMatchObject({ internalPort: 40032, description: 'prefix' })
      expect(await gw.deletePortMapping(40032, 'UDP')).toBe(UPNPResult.SUCCESS)
      expect(await gw.deletePortMapping(40032, 'UDP')).toBe(UPNPResult.NO_SUCH_ENTRY_IN_ARRAY)
    },
  },
  {
    device: 'linksys-wrt1900ac',
    what: '501 "PAL_UPNP_SOAP_E_ACTION_FAILED" instead of 714 for a missing entry, and past the table\'s end',
    async check(_device, gw) {
      expect(await gw.getPortMapping(40998, 'UDP')).toBeNull()
      expect(gw.lastError).toMatchObject({ result: UPNPResult.ACTION_FAILED, upnpCode: 501 })
      expect(await gw.listPortMappings()).toEqual([])
      expect(gw.lastError).toBeNull()
    },
  },
]

export function behavioursOf(id: string): Behaviour[] {
  return BEHAVIOURS.filter((b) => b.device === id)
}
