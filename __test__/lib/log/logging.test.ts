// The library's logging (issue 24) against miniupnpd: nothing is built while nobody listens
// (the addon's counter of trace events proves it), a logger receives every exchange of its
// calls before they settle, diagnostics_channel subscribers receive the documented records,
// and PortMapper's logger is in effect for all its work. NODE_DEBUG and hostile devices:
// node-debug.test.ts.
import diagnosticsChannel from 'node:diagnostics_channel'
import { afterAll, describe, expect, it } from 'vitest'
import * as native from '../../../lib/native/index.ts'
import { channelName, LOG_SECTIONS, type LogRecord, PortMapper, probe, UPNP, UPNPResult } from '../../../index.ts'
import { LAB, upnpcDelete } from '../../lab/lab.ts'
import { trackMappers } from '../../helpers/mappers.ts'

const P = { off: 41101, logger: 41102, channel: 41103, mapper: 41104 }
const track = trackMappers()

afterAll(async () => {
  for (const externalPort of Object.values(P)) await upnpcDelete({ externalPort, protocol: 'UDP' })
})

const built = (): number => native.__traceEventsBuiltForTests()

/** discover, then add and delete a mapping through the Godot surface. */
async function roundTrip(upnp: UPNP, port: number): Promise<void> {
  expect(await upnp.discover({ timeout: 2000, untilGateway: true })).toBe(UPNPResult.SUCCESS)
  const gateway = upnp.getGateway()!
  expect(await gateway.addPortMapping(port, 0, 'logging test', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
  expect(await gateway.deletePortMapping(port, 'UDP')).toBe(UPNPResult.SUCCESS)
}

describe('logging off', () => {
  it('builds no trace event for discover, add, delete and a probe (the addon counts them)', async () => {
    const before = built()
    await roundTrip(new UPNP(), P.off)
    await probe({ fresh: true })
    expect(built()).toBe(before)
  })
})

describe('a logger', () => {
  it("receives every exchange of its UPNP's calls and of the devices it found, before each call settles", async () => {
    const records: LogRecord[] = []
    const upnp = new UPNP({ logger: (r) => records.push(r) })
    const before = built()
    expect(await upnp.discover({ timeout: 2000, untilGateway: true })).toBe(UPNPResult.SUCCESS)
    const events = records.map((r) => r.event)
    expect(events).toContain('ssdp.sent')
    expect(events).toContain('ssdp.received')
    expect(events).toContain('upnp.described')
    expect(events.at(-1)).toBe('upnp.discovered')
    const gateway = upnp.getGateway()!
    expect(gateway.logger).toBe(upnp.logger)

    records.length = 0
    expect(await gateway.addPortMapping(P.logger, 0, 'logging test', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
    // Delivered by the time the promise settled: request, reply and outcome of the action.
    const add = records.filter((r) => r.section !== 'upnp')
    expect(add.map((r) => r.event)).toEqual(['http.connection', 'http.request', 'http.response', 'soap.result'])
    const [, request, response, result] = add as [LogRecord, LogRecord, LogRecord, LogRecord]
    expect(request).toMatchObject({ section: 'http', action: 'POST', url: '/ctl/IPConn', peer: '192.168.77.1:5000' })
    expect(request.head).toMatch(
      /^POST \/ctl\/IPConn HTTP\/1\.1\r\n[\s\S]*SOAPAction: "urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping"\r\n/,
    )
    expect(request.body).toContain(`<NewExternalPort>${P.logger}</NewExternalPort>`)
    expect(response).toMatchObject({ status: 200, exchange: request.exchange, bodyEncoding: 'utf8' })
    expect(response.body).toContain('AddPortMappingResponse')
    expect(result).toMatchObject({ section: 'soap', action: 'AddPortMapping', detail: 'ok', status: 200 })
    expect(new Set(add.map((r) => r.call)).size).toBe(1)
    expect(built()).toBeGreaterThan(before)

    records.length = 0
    expect(await gateway.deletePortMapping(P.logger, 'UDP')).toBe(UPNPResult.SUCCESS)
    expect(records.map((r) => r.event)).toContain('soap.result')
    expect(records.find((r) => r.event === 'soap.result')).toMatchObject({ action: 'DeletePortMapping', detail: 'ok' })
    // A router's refusal is a record too, with its code (miniupnpd refuses ports below 1024).
    records.length = 0
    expect(await gateway.addPortMapping(80, 0, 'logging test', 'UDP', 0)).toBe(UPNPResult.NOT_AUTHORIZED)
    expect(records.find((r) => r.event === 'soap.result')).toMatchObject({
      code: 606,
      status: 500,
      detail: expect.stringMatching(/^NOT_AUTHORIZED: /),
    })
  })

  it('a logger that throws is reported once as a warning; the calls go on', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error): void => void warnings.push(w)
    process.on('warning', onWarning)
    try {
      const upnp = new UPNP({
        logger: () => {
          throw new Error('broken logger')
        },
      })
      expect(await upnp.discover({ timeout: 2000, untilGateway: true })).toBe(UPNPResult.SUCCESS)
      expect(await upnp.queryExternalAddress()).toBe(LAB.extIp)
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings.filter((w) => /logger threw/.test(w.message))).toHaveLength(1)
    } finally {
      process.off('warning', onWarning)
    }
  })

  it("PortMapper's logger gets its decisions, the probe's NAT-PMP/PCP datagrams and its events", async () => {
    const records: LogRecord[] = []
    const mapper = track(new PortMapper({ logger: (r) => records.push(r), cleanupOnExit: false, watchAnnouncements: false }))
    const m = await mapper.map({ internalPort: P.mapper, protocol: 'UDP' })
    expect(m.via).toBe('pcp')
    const events = records.map((r) => r.event)
    expect(events).toContain('upnp.probed')
    expect(events).toContain('mapper.candidates')
    expect(events).toContain('mapper.mapped')
    // The probe is cached from the test before (it says so); the MAP went out.
    expect(records.find((r) => r.event === 'upnp.probed')?.message).toMatch(/^probe \(cached\)/)
    const sent = records.filter((r) => r.event === 'pxp.sent')
    expect(sent.map((r) => r.message)).toContainEqual(expect.stringMatching(/^PCP MAP to 192\.168\.77\.1:5351/))
    for (const r of sent) expect(r).toMatchObject({ section: 'pxp', bodyEncoding: 'hex', body: expect.stringMatching(/^(00|02)/) })
    expect(records.find((r) => r.event === 'mapper.mapped')?.message).toMatch(
      new RegExp(`^mapped UDP ${LAB.extIp.replace(/\./g, '\\.')}:\\d+ → ${LAB.client}:${P.mapper} via PCP`),
    )
    // Its timers' work (a renewal is one) is still its own: close() deletes, and says so.
    records.length = 0
    await mapper.close()
    expect(records.filter((r) => r.event === 'pxp.sent').length).toBeGreaterThanOrEqual(1)
  })
})

describe('diagnostics_channel', () => {
  it('each section has its channel; subscribers receive the documented records', async () => {
    const got = new Map<string, LogRecord[]>()
    const subscribers = LOG_SECTIONS.map((section) => {
      const onRecord = (message: unknown): void => {
        const list = got.get(section) ?? []
        list.push(message as LogRecord)
        got.set(section, list)
      }
      diagnosticsChannel.subscribe(channelName(section), onRecord)
      return [section, onRecord] as const
    })
    const before = built()
    try {
      await roundTrip(new UPNP(), P.channel)
      await probe({ fresh: true })
    } finally {
      for (const [section, onRecord] of subscribers) diagnosticsChannel.unsubscribe(channelName(section), onRecord)
    }
    expect(built()).toBeGreaterThan(before)
    for (const [section, records] of got) for (const r of records) expect(r.section, r.event).toBe(section)
    const one = (event: string): LogRecord => {
      const r = [...got.values()].flat().find((x) => x.event === event)
      expect(r, event).toBeDefined()
      return r!
    }
    expect(one('ssdp.sent')).toMatchObject({ head: expect.stringMatching(/^M-SEARCH \* HTTP\/1\.1\r\n/), peer: expect.any(String) })
    expect(one('ssdp.received')).toMatchObject({ body: expect.stringContaining(`LOCATION: ${LAB.routerDescUrl}`), bodyEncoding: 'utf8' })
    expect(one('http.connection')).toMatchObject({ peer: '192.168.77.1:5000', detail: expect.stringMatching(/^(opened|reused a spare)$/) })
    expect(one('http.request')).toMatchObject({ action: 'GET', url: '/rootDesc.xml', exchange: expect.any(Number) })
    expect(one('http.response').body).toMatch(/<UDN>uuid:/)
    expect(one('soap.result')).toMatchObject({ url: LAB.routerControlUrl })
    expect(one('upnp.described')).toMatchObject({ url: LAB.routerDescUrl, code: 0 })
    expect(one('upnp.discovered').message).toMatch(/^discovery: \d+ search replies, 1 device in \d+ ms/)
    expect(one('pxp.sent')).toMatchObject({ peer: '192.168.77.1:5351', attempt: 1, bodyEncoding: 'hex' })
    expect(one('pxp.received')).toMatchObject({ detail: 'the answer', elapsedMs: expect.any(Number) })
    expect(one('upnp.probed').message).toMatch(/natpmp SUCCESS, pcp SUCCESS/)
    // Nobody subscribed any more: nothing is built.
    const after = built()
    await probe({ fresh: true })
    expect(built()).toBe(after)
  })
})
