// UPNPDevice keeps one prepared native service (its control URL parsed once) for add and
// delete: every call must still go where the device's fields say at the time of the call.
// Two loopback SOAP routers stand in for gateways; nothing leaves this machine.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IGDStatus, UPNPDevice, UPNPResult } from '../../index.ts'

interface Heard {
  router: string
  path: string
  soapAction: string
}

const heard: Heard[] = []
const routers: http.Server[] = []
const origins: string[] = []

/** A router that answers every action with its success reply, and notes what it heard. */
function router(name: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const soapAction = String(req.headers.soapaction ?? '')
      heard.push({ router: name, path: req.url ?? '', soapAction })
      const action = soapAction.replace(/"/g, '').split('#')[1] ?? ''
      const body = `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="urn:x"/></s:Body></s:Envelope>`
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), Connection: 'close' })
      res.end(body)
    })
  })
  routers.push(server)
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  )
}

beforeAll(async () => {
  origins.push(await router('a'), await router('b'))
})
afterAll(() => routers.forEach((r) => r.close()))

const IP1 = 'urn:schemas-upnp-org:service:WANIPConnection:1'
const IP2 = 'urn:schemas-upnp-org:service:WANIPConnection:2'

describe('the prepared service follows the device', () => {
  it('a changed control URL, service type or timeout is used by the very next call', async () => {
    const d = new UPNPDevice()
    d.igdStatus = IGDStatus.OK
    d.igdOurAddr = '127.0.0.1'
    d.igdControlUrl = `${origins[0]}/ctl/one`
    d.igdServiceType = IP1
    const last = () => heard.at(-1)!

    expect(await d.addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(last()).toEqual({ router: 'a', path: '/ctl/one', soapAction: `"${IP1}#AddPortMapping"` })
    expect(await d.deletePortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(last()).toEqual({ router: 'a', path: '/ctl/one', soapAction: `"${IP1}#DeletePortMapping"` })

    d.igdControlUrl = `${origins[1]}/ctl/two`
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(last()).toEqual({ router: 'b', path: '/ctl/two', soapAction: `"${IP1}#AddPortMapping"` })

    d.igdServiceType = IP2
    expect(await d.deletePortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(last()).toEqual({ router: 'b', path: '/ctl/two', soapAction: `"${IP2}#DeletePortMapping"` })

    // A control URL that cannot be parsed fails that call, and the next good one works.
    d.igdControlUrl = 'http://router.invalid/ctl'
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.HTTP_ERROR)
    d.igdControlUrl = `${origins[0]}/ctl/three`
    d.requestTimeout = 2000
    expect(await d.addPortMapping(7777)).toBe(UPNPResult.SUCCESS)
    expect(last()).toEqual({ router: 'a', path: '/ctl/three', soapAction: `"${IP2}#AddPortMapping"` })
  })

  it('two devices never share a service', async () => {
    const make = (origin: string, path: string) => {
      const d = new UPNPDevice()
      d.igdStatus = IGDStatus.OK
      d.igdOurAddr = '127.0.0.1'
      d.igdControlUrl = `${origin}${path}`
      d.igdServiceType = IP1
      return d
    }
    const [one, two] = [make(origins[0]!, '/x'), make(origins[1]!, '/y')]
    await Promise.all([one.addPortMapping(1000), two.addPortMapping(1001)])
    const paths = heard.slice(-2).map((h) => `${h.router}${h.path}`)
    expect(paths.sort()).toEqual(['a/x', 'b/y'])
  })
})
