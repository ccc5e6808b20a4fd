// A loopback stand-in for a router's connection service, for the unit project (no lab, no
// network beyond loopback): it answers every SOAP action at once with a success, or a fault
// where the real router would have nothing (714, 713), keeps a mapping table, and records
// what it was asked. `hold(action)` keeps that action's replies back until released, so a
// test can abort a call after the "router" has carried it out but before it answered.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { IGDStatus, UPNPDevice } from '../../index.ts'
import { soapArgs } from '../fake-gateway/soap-args.ts'

const SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:2'

export interface SoapStub {
  /** The control URL (http://127.0.0.1:PORT/ctl). */
  url: string
  /** Every action received, in order, with its `New*` arguments and its whole body. */
  requests: Array<{ action: string; args: Record<string, string>; body: string }>
  /** The mappings held, by "PROTO PORT". */
  mappings: Map<string, Record<string, string>>
  /** Replies to `action` wait until the returned function is called. */
  hold(action: string): () => void
  /** A device whose calls go to this stub (a valid gateway, as discovery would make it). */
  device(): UPNPDevice
  close(): Promise<void>
}

function envelope(inner: string): string {
  return `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>${inner}</s:Body></s:Envelope>`
}

function fault(code: number, text: string): string {
  return envelope(
    `<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${text}</errorDescription></UPnPError></detail></s:Fault>`,
  )
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function answer(stub: SoapStub, action: string, args: Record<string, string>): [number, string] {
  const key = `${args.NewProtocol} ${args.NewExternalPort}`
  const reply = (values: Record<string, string> = {}) =>
    envelope(
      `<u:${action}Response xmlns:u="${SERVICE}">${Object.entries(values)
        .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
        .join('')}</u:${action}Response>`,
    )
  switch (action) {
    case 'AddPortMapping':
      stub.mappings.set(key, args)
      return [200, reply()]
    case 'DeletePortMapping':
      return stub.mappings.delete(key) ? [200, reply()] : [500, fault(714, 'NoSuchEntryInArray')]
    case 'GetSpecificPortMappingEntry': {
      const m = stub.mappings.get(key)
      if (!m) return [500, fault(714, 'NoSuchEntryInArray')]
      return [
        200,
        reply({
          NewInternalPort: m.NewInternalPort ?? '',
          NewInternalClient: m.NewInternalClient ?? '',
          NewEnabled: '1',
          NewPortMappingDescription: m.NewPortMappingDescription ?? '',
          NewLeaseDuration: m.NewLeaseDuration ?? '0',
        }),
      ]
    }
    case 'GetGenericPortMappingEntry': {
      const m = [...stub.mappings.values()][Number(args.NewPortMappingIndex)]
      if (!m) return [500, fault(713, 'SpecifiedArrayIndexInvalid')]
      return [
        200,
        reply({
          NewRemoteHost: '',
          NewExternalPort: m.NewExternalPort ?? '',
          NewProtocol: m.NewProtocol ?? '',
          NewInternalPort: m.NewInternalPort ?? '',
          NewInternalClient: m.NewInternalClient ?? '',
          NewEnabled: '1',
          NewPortMappingDescription: m.NewPortMappingDescription ?? '',
          NewLeaseDuration: m.NewLeaseDuration ?? '0',
        }),
      ]
    }
    case 'GetExternalIPAddress':
      return [200, reply({ NewExternalIPAddress: '11.22.33.44' })]
    case 'GetFirewallStatus':
      return [200, reply({ FirewallEnabled: '1', InboundPinholeAllowed: '1' })]
    case 'AddPinhole':
      return [200, reply({ UniqueID: '7' })]
    case 'GetPinholePackets':
      return [200, reply({ PinholePackets: '0' })]
    case 'CheckPinholeWorking':
      return [200, reply({ IsWorking: '1' })]
    case 'GetOutboundPinholeTimeout':
      return [200, reply({ OutboundPinholeTimeout: '120' })]
    default:
      return [200, reply()]
  }
}

export async function startSoapStub(): Promise<SoapStub> {
  const held = new Map<string, Array<() => void>>()
  const holding = new Set<string>()
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const action = /#(\w+)"?$/.exec(String(req.headers.soapaction ?? ''))?.[1] ?? ''
      const args = soapArgs(body)
      stub.requests.push({ action, args, body })
      // Carried out on arrival, as a router does; only the reply may be held back.
      const [status, text] = answer(stub, action, args)
      const send = () => res.writeHead(status, { 'Content-Type': 'text/xml; charset="utf-8"' }).end(text)
      if (holding.has(action)) held.set(action, [...(held.get(action) ?? []), send])
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const stub: SoapStub = {
    url: `http://127.0.0.1:${port}/ctl`,
    requests: [],
    mappings: new Map(),
    hold(action) {
      holding.add(action)
      return () => {
        holding.delete(action)
        for (const send of held.get(action)?.splice(0) ?? []) send()
      }
    },
    device() {
      const d = new UPNPDevice()
      d.igdStatus = IGDStatus.OK
      d.igdControlUrl = stub.url
      d.igdServiceType = SERVICE
      d.igdOurAddr = '127.0.0.1'
      d.firewallControlUrl = stub.url
      d.firewallServiceType = 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1'
      d.requestTimeout = 2000
      return d
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return stub
}
