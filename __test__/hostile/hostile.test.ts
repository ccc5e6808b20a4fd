// A hostile LAN (issue 10, SECURITY.md): an attacker's device in the lab's fake namespace
// (hostile-device.ts, or the fake gateway playing a rogue IGD) beside the real
// miniupnpd, one test per attack. Each asserts the defended behaviour: memory and deadlines
// hold, the real router stays the gateway, nothing raw reaches a terminal or a script,
// nothing is fetched off the responder, nobody else's mapping is deleted, a broken journal
// is set aside, and spoofed or stormy NOTIFYs cost the router nothing or a bounded amount.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { IGDStatus, PortMapper, probe, UPNP, UPNPDevice, UPNPResult } from '../../index.ts'
import { useFakeGateway } from '../lab/fake-fixture.ts'
import { type Device, LAB, repoRoot, runIn, upnpcAdd, upnpcDelete, upnpcList } from '../lab/lab.ts'
import { aliveNotify, igdDescription, routerHttpCounter, runChild, searchReply, soapOk, useHostileDevice, workingIgd } from './hostile.ts'
import { shown, terminalSafe } from '../../cli/terminal.ts'

const hostile = useHostileDevice()
const fake = useFakeGateway()
const ROOT = repoRoot()
const CLI = path.join(ROOT, 'cli/main.ts')
const MiB = 1024
const hasIpv6 = Object.values(os.networkInterfaces())
  .flat()
  .some((a) => a?.address === LAB.ip6.client)
/** Ports this file maps on miniupnpd. */
const P = { hijack: 48101, sweep: 48102, notify: 48103, notifyGw: 48104, theirs: 48105, list: 48106 }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const mappers: PortMapper[] = []
const track = (m: PortMapper) => (mappers.push(m), m)

afterAll(async () => {
  await Promise.all(mappers.map((m) => m.close().catch(() => undefined)))
  for (const port of Object.values(P)) {
    for (const protocol of ['UDP', 'TCP'] as const) {
      await upnpcDelete({ externalPort: port, protocol })
      await upnpcDelete({ ns: 'client2', externalPort: port, protocol })
    }
  }
})

/** An entity expansion: one entity of `entityBytes`, referenced until the body is `totalBytes`. */
function entityBomb(entityBytes: number, totalBytes: number): string {
  const entity = 'A'.repeat(entityBytes)
  const refs = '&a;'.repeat(Math.max(1, Math.floor((totalBytes - entityBytes - 600) / 3)))
  return igdDescription({ prolog: `<!DOCTYPE root [<!ENTITY a "${entity}">]>`, friendlyName: refs })
}

function ssdpFrom(ip: string, port: number, extra: Record<string, string> = {}) {
  return { from: ip, text: searchReply(`http://${ip}:${port}/d.xml`, extra) }
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The CLI in a real pseudo-terminal (script(1)), with colours: everything it wrote, raw. */
async function cliInTerminal(args: string[]): Promise<string> {
  const quoted = [process.execPath, '--import', 'tsx', CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const r = await runIn('client', 'script', ['-qec', quoted, '/dev/null'], 30_000)
  return r.stdout
}

/** What is left of terminal output once the CLI's own styling is taken out: colours, the
 *  spinner's line erase, cursor hide/show. Anything else that moves the cursor, clears,
 *  retitles or reorders text came from the network. */
function foreignControls(raw: string): string[] {
  const own = raw
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/\r\x1b\[2K/g, '')
    .replace(/\x1b\[\?25[lh]/g, '')
  return [...own.matchAll(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g)].map((m) => m[0])
}

describe('1. bounded parsing: entity expansion', () => {
  it('a 240 KB description with internal entities: memory stays flat, discover() keeps its deadline, no work outlives it', async () => {
    await hostile.script({
      http: [{ ip: LAB.fakeA, port: 6001, routes: { 'GET /d.xml': { body: entityBomb(120 * 1024, 240 * 1024) }, ...workingIgd() } }],
      ssdp: [ssdpFrom(LAB.fakeA, 6001)],
    })
    const r = await runChild({ mode: 'discover', timeout: 2000 })
    expect(r.maxRssAfterKiB - r.maxRssBeforeKiB).toBeLessThan(64 * MiB)
    expect(r.elapsedMs).toBeLessThan(2000 + 300)
    expect(r.cpuAfterMs).toBeLessThan(200) // nothing still parsing after the promise resolved
    const bomb = r.devices.find((d) => d.descriptionUrl.startsWith(`http://${LAB.fakeA}:6001/`))
    expect(bomb?.igdStatus).toBe(IGDStatus.NO_IGD)
    expect(bomb?.lastError).toMatch(/entit/i)
    expect(r.gateway).toBe(LAB.routerDescUrl)
  })

  it('six 45 KB entity descriptions: discover(1500) resolves in time and still lists the real router', async () => {
    const body = entityBomb(15 * 1024, 45 * 1024)
    const servers = [LAB.fakeA, LAB.fakeB].flatMap((ip) =>
      [6001, 6002, 6003].map((port) => ({ ip, port, routes: { 'GET /d.xml': { body } } })),
    )
    await hostile.script({ http: servers, ssdp: servers.map((s) => ssdpFrom(s.ip, s.port)) })
    const r = await runChild({ mode: 'discover', timeout: 1500 })
    expect(r.elapsedMs).toBeLessThan(1500 + 300)
    expect(r.maxRssAfterKiB - r.maxRssBeforeKiB).toBeLessThan(64 * MiB)
    expect(r.devices.find((d) => d.descriptionUrl === LAB.routerDescUrl)?.igdStatus).toBe(IGDStatus.OK)
    expect(r.devices.filter((d) => d.igdStatus === IGDStatus.NO_IGD)).toHaveLength(6)
  })
})

describe('2. who may be the gateway', () => {
  const rogue = (): Device => ({ id: 'rogue', ip: LAB.fakeA, port: 6001, description: { kind: 'igd-v2' }, externalIp: '6.6.6.6' })

  it("a faster rogue IGD: the default route's router is getGateway(), for untilGateway too, and first in the list", async () => {
    await fake.setScenario({ devices: [rogue()] })
    const upnp = new UPNP()
    expect(await upnp.discover(1500)).toBe(UPNPResult.SUCCESS)
    expect(upnp.getDeviceCount()).toBe(2)
    expect(upnp.getDevice(0)?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(upnp.getGateway()?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect(await upnp.queryExternalAddress()).toBe(LAB.extIp)
    const early = new UPNP()
    await early.discover({ timeout: 2000, untilGateway: true })
    expect(early.getGateway()?.descriptionUrl).toBe(LAB.routerDescUrl)
  })

  it('probe() and PortMapper({ protocol: "upnp" }) use the real router; the rogue gets nothing', async () => {
    await fake.setScenario({ devices: [rogue()] })
    const report = await probe({ fresh: true, budgetMs: 1000 })
    expect(report.upnp.device?.descriptionUrl).toBe(LAB.routerDescUrl)
    const mapper = track(new PortMapper({ protocol: 'upnp', cleanupOnExit: false, watchAnnouncements: false }))
    const m = await mapper.map({ internalPort: P.hijack, description: 'not for the rogue' })
    expect(m.externalAddress).toBe(LAB.extIp)
    expect(mapper.gateway?.descriptionUrl).toBe(LAB.routerDescUrl)
    expect((await upnpcList()).find((e) => e.externalPort === P.hijack)).toMatchObject({ internalClient: LAB.client })
    expect((await fake.mappings()).rogue).toEqual([])
    await mapper.close()
  })

  it('a gateway the user chose always wins, rogue or not', async () => {
    await fake.setScenario({ devices: [rogue()] })
    const upnp = new UPNP()
    await upnp.discover(1500)
    const chosen = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!).find((d) =>
      d.descriptionUrl.includes(LAB.fakeA),
    )!
    const mapper = track(new PortMapper({ gateway: chosen, cleanupOnExit: false, watchAnnouncements: false }))
    const m = await mapper.map({ internalPort: P.hijack + 50 })
    expect(m.externalAddress).toBe('6.6.6.6')
    expect((await fake.mappings()).rogue).toHaveLength(1)
    await mapper.close()
  })
})

describe('3. terminal safety', () => {
  // XML cannot carry ESC, but newlines, C1 controls (U+009B is CSI) and bidi overrides it can.
  const poisonedName = 'Evil\n\u2714 Verdict: all good\u009b2J\u202eesrever'
  const poisoned = () =>
    hostile.script({
      http: [
        {
          ip: LAB.fakeA,
          port: 6001,
          routes: { 'GET /d.xml': { body: igdDescription({ friendlyName: poisonedName }) }, ...workingIgd() },
        },
      ],
      ssdp: [ssdpFrom(LAB.fakeA, 6001, { SERVER: 'Linux \x1b[2J\x1b[1;1H\x1b]0;pwned\x07 UPnP/1.1 \u009b6n' })],
    })

  it('status and doctor in a real terminal: no raw control byte from the network, no forged line', async () => {
    await poisoned()
    for (const args of [
      ['status', '--timeout', '1'],
      ['doctor', '--gateway', LAB.fakeA, '--timeout', '1'],
    ]) {
      const raw = await cliInTerminal(args)
      expect(raw).toMatch(LAB.fakeA) // the hostile device was listed...
      expect(foreignControls(raw)).toEqual([]) // ...but only in escaped form
      expect(raw).not.toMatch(/^\s*\u2714 Verdict: all good/m)
    }
  })

  it('the one sanitiser: controls, C1 and bidi visibly escaped, length capped, only our own colours kept', () => {
    expect(shown('a\x1b[2Jb\nc\u009bd\u202ee\x07')).toBe('a\\x1b[2Jb\\nc\\u009bd\\u202ee\\x07')
    expect(shown('x'.repeat(10), 4)).toBe('xxxx…')
    expect(terminalSafe('\x1b[1mbold\x1b[22m \x1b[8mhidden\x1b[0m\r')).toBe('\x1b[1mbold\x1b[22m \\x1b[8mhidden\\x1b[0m\\r')
  })

  it('--json keeps the exact strings (JSON escapes them itself)', async () => {
    await poisoned()
    const r = await cli(['status', '--json', '--timeout', '1'])
    const doc = JSON.parse(r.stdout) as { gateways: Array<{ address: string; server: string }> }
    expect(doc.gateways.find((g) => g.address === LAB.fakeA)?.server).toContain('\x1b[2J')
  })

  it('a mapping description with ESC stored by another LAN client: list works for everyone and shows it escaped', async () => {
    const evil = '\x1b[2J\x1b[31mPWNED\x07'
    expect((await upnpcAdd({ ns: 'client2', internalPort: P.theirs, protocol: 'UDP', description: evil })).ok).toBe(true)
    const r = await cli(['list'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(String(P.theirs))
    expect(r.stdout + r.stderr).not.toContain('\x1b')
    expect(r.stdout).toContain('\\x1b[2J')
    const doc = JSON.parse((await cli(['list', '--json'])).stdout) as { mappings: Array<{ externalPort: number; description: string }> }
    expect(doc.mappings.find((m) => m.externalPort === P.theirs)?.description).toMatch(/PWNED/)
  })
})

describe('4. no fetch off the responder', () => {
  it.runIf(hasIpv6)('IPv6: LOCATION on loopback, on this host, or on another link host is never fetched; the router still is', async () => {
    const hits: string[] = []
    const http = await import('node:http')
    const traps = await Promise.all(
      ['::1', LAB.ip6.client].map(
        (host) =>
          new Promise<import('node:http').Server>((resolve) => {
            const s = http.createServer((req, res) => {
              hits.push(`${host}${req.url}`)
              res.end()
            })
            s.listen(6099, host, () => resolve(s))
          }),
      ),
    )
    await hostile.script({
      http: [{ ip: LAB.fakeB, port: 6099, routes: { '*': { body: igdDescription() } } }],
      ssdp: [
        { from: '::', text: searchReply('http://[::1]:6099/loopback.xml') },
        { from: '::', text: searchReply(`http://[${LAB.ip6.client}]:6099/self.xml`) },
        { from: '::', text: searchReply('http://[fd77::11]:6099/client2.xml') },
        { from: '::', text: searchReply('http://[ff02::1]:6099/multicast.xml') },
      ],
    })
    try {
      const upnp = new UPNP()
      upnp.discoverIpv6 = true
      await upnp.discover(1500)
      const urls = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!.descriptionUrl)
      expect(hits).toEqual([])
      expect(urls).toEqual([LAB.routerDescUrl6])
      expect(upnp.getGateway()?.descriptionUrl).toBe(LAB.routerDescUrl6)
    } finally {
      await Promise.all(traps.map((s) => new Promise((r) => s.close(r))))
    }
  })

  it('IPv4: LOCATION on another host or on loopback is ignored (still holds)', async () => {
    await hostile.script({
      ssdp: [
        { from: LAB.fakeA, text: searchReply('http://127.0.0.1:5000/rootDesc.xml') },
        { from: LAB.fakeA, text: searchReply(`http://${LAB.client2}:6099/x.xml`) },
      ],
    })
    const upnp = new UPNP()
    await upnp.discover(1000)
    expect(Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!.descriptionUrl)).toEqual([LAB.routerDescUrl])
  })
})

describe('5. validated values', () => {
  const gatewayWith = (externalIp: string) =>
    fake.setScenario({
      devices: [
        {
          id: 'odd',
          ip: LAB.fakeA,
          port: 6001,
          description: { kind: 'igd-v2' },
          soap: { GetExternalIPAddress: { body: soapOk('GetExternalIPAddress', { NewExternalIPAddress: externalIp }) } },
        },
      ],
    })
  const handBuilt = () => {
    const d = new UPNPDevice()
    d.igdStatus = IGDStatus.OK
    d.igdControlUrl = `http://${LAB.fakeA}:6001/ctl/IPConn`
    d.igdServiceType = 'urn:schemas-upnp-org:service:WANIPConnection:2'
    return d
  }

  for (const [name, value] of [
    ['shell text', '6.6.6.6\n$(touch /tmp/pwned)'],
    ['60 KB', '6'.repeat(60_000)],
    ['a host name', 'evil.example'],
  ] as const) {
    it(`an external address that is ${name}: "" and INVALID_RESPONSE, never the text`, async () => {
      await gatewayWith(value)
      const d = handBuilt()
      expect(await d.queryExternalAddress()).toBe('')
      expect(d.lastError?.result).toBe(UPNPResult.INVALID_RESPONSE)
      expect(d.lastError?.description.length).toBeLessThan(300)
      expect(d.lastError?.description).not.toContain('touch')
    })
  }

  it('`upnp-native ip` prints only a validated address: nothing on stdout for a poisoned one', async () => {
    await gatewayWith('6.6.6.6\n$(touch /tmp/pwned)')
    const r = await cli(['ip', '--gateway', LAB.fakeA, '--timeout', '1'])
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).not.toContain('touch')
  })

  for (const [name, port, lease] of [
    ['port', '70000', '0'],
    ['lease', '40000', '99999999999'],
  ] as const) {
    it(`an out-of-range ${name} in a mapping entry is INVALID_RESPONSE, no raw body in the error`, async () => {
      await fake.setScenario({
        devices: [
          {
            id: 'odd',
            ip: LAB.fakeA,
            port: 6001,
            description: { kind: 'igd-v2' },
            soap: {
              GetSpecificPortMappingEntry: {
                body: soapOk('GetSpecificPortMappingEntry', {
                  NewInternalPort: port,
                  NewInternalClient: LAB.client,
                  NewEnabled: '1',
                  NewPortMappingDescription: 'x'.repeat(5000),
                  NewLeaseDuration: lease,
                }),
              },
            },
          },
        ],
      })
      const d = handBuilt()
      expect(await d.getPortMapping(40000)).toBeNull()
      expect(d.lastError?.result).toBe(UPNPResult.INVALID_RESPONSE)
      expect(d.lastError?.description).not.toContain('xxxx')
    })
  }
})

describe('6 and 7. the crash journal', () => {
  const journalDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-journal-'))
  const write = (file: string, entries: unknown[]) => fs.writeFileSync(file, JSON.stringify({ version: 1, pid: 999_999_999, entries }))

  it('6. the sweep never deletes a mapping that forwards to another machine', async () => {
    await fake.setScenario({ devices: [{ id: 'gw', ip: LAB.fakeA, port: 6001, description: { kind: 'igd-v2' } }] })
    const d = new UPNPDevice()
    d.igdStatus = IGDStatus.OK
    d.igdControlUrl = `http://${LAB.fakeA}:6001/ctl/IPConn`
    d.igdServiceType = 'urn:schemas-upnp-org:service:WANIPConnection:2'
    // Another machine's mapping (the fake does not check who asks).
    const add = await fetch(d.igdControlUrl, {
      method: 'POST',
      headers: { SOAPAction: `"${d.igdServiceType}#AddPortMapping"`, 'Content-Type': 'text/xml' },
      body: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:AddPortMapping xmlns:u="${d.igdServiceType}"><NewRemoteHost></NewRemoteHost><NewExternalPort>${P.sweep}</NewExternalPort><NewProtocol>UDP</NewProtocol><NewInternalPort>${P.sweep}</NewInternalPort><NewInternalClient>${LAB.client2}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>theirs</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>`,
    })
    expect(add.status).toBe(200)
    const file = path.join(journalDir(), 'j.json')
    write(file, [
      {
        via: 'upnp',
        controlUrl: d.igdControlUrl,
        serviceType: d.igdServiceType,
        internalClient: LAB.client2,
        internalPort: P.sweep,
        externalPort: P.sweep,
        protocol: 'UDP',
      },
    ])
    // Adoption off: the sweep runs at the start, before the map.
    const mapper = track(new PortMapper({ gateway: d, journal: file, cleanupOnExit: false, watchAnnouncements: false, adoptWindow: 0 }))
    await mapper.map({ internalPort: P.sweep + 1 })
    expect((await fake.requests()).filter((r) => r.action === 'DeletePortMapping')).toEqual([])
    expect((await fake.mappings()).gw?.find((m) => m.externalPort === P.sweep)).toMatchObject({ internalClient: LAB.client2 })
    await mapper.close()
  })

  for (const [name, content] of [
    ['null', 'null'],
    ['an array', '[1,2]'],
    ['{"entries":5}', '{"entries":5}'],
    ['entries of junk', '{"entries":[null,7,{"via":"upnp","externalPort":"x"}]}'],
    ['not JSON', '{"entr'],
  ] as const) {
    it(`7. a journal of ${name} is set aside with a warning, and PortMapper works`, async () => {
      const dir = journalDir()
      const file = path.join(dir, 'j.json')
      fs.writeFileSync(file, content)
      const mapper = track(new PortMapper({ protocol: 'upnp', journal: file, cleanupOnExit: false, watchAnnouncements: false }))
      const errors: string[] = []
      mapper.on('error', (e) => errors.push(e.message))
      const m = await mapper.map({ internalPort: P.list, description: 'journal case' })
      expect(m.externalPort).toBe(P.list)
      await mapper.close()
      const aside = fs.readdirSync(dir).filter((f) => f.startsWith('j.json.corrupt'))
      if (content.startsWith('{"entries":[')) {
        // Readable, with unusable entries: those are skipped and said so; the file is kept.
        expect(errors.join('\n')).toMatch(/journal/)
      } else {
        expect(aside).toHaveLength(1)
        expect(fs.readFileSync(path.join(dir, aside[0]!), 'utf8')).toBe(content)
        expect(errors.join('\n')).toMatch(/set aside/)
      }
    })
  }

  it('7. a symlink planted at the temporary path is not followed; the journal is private (0600)', async () => {
    const dir = journalDir()
    const file = path.join(dir, 'j.json')
    const victim = path.join(dir, 'victim.txt')
    fs.writeFileSync(victim, 'precious')
    for (let pid = process.pid - 5; pid <= process.pid + 5; pid++) fs.symlinkSync(victim, `${file}.${pid}.tmp`)
    const mapper = track(new PortMapper({ protocol: 'upnp', journal: file, cleanupOnExit: false, watchAnnouncements: false }))
    await mapper.map({ internalPort: P.list + 1 })
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious')
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).sections[0].entries).toHaveLength(1)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(`${file}.lock`).mode & 0o777).toBe(0o600)
    await mapper.close()
  })
})

describe('8. NOTIFY', () => {
  it('1000 NOTIFYs with new BOOTIDs from a host that is not the gateway cost the router nothing', async () => {
    const mapper = track(new PortMapper({ protocol: 'upnp', cleanupOnExit: false, verifyInterval: 600_000 }))
    await mapper.map({ internalPort: P.notify })
    await sleep(300)
    const counter = await routerHttpCounter()
    try {
      expect(await hostile.notify({ from: LAB.fakeA, text: aliveNotify('{{i}}9'), count: 1000, intervalMs: 1 })).toBe(1000)
      await sleep(1500)
      expect(await counter.read()).toBe(0)
    } finally {
      await counter.remove()
      await mapper.close()
    }
  })

  it("a NOTIFY storm from the gateway's own address triggers at most the rate-limited checks", async () => {
    const mapper = track(new PortMapper({ protocol: 'upnp', cleanupOnExit: false, verifyInterval: 600_000 }))
    await mapper.map({ internalPort: P.notifyGw })
    await sleep(300)
    const counter = await routerHttpCounter()
    try {
      const script =
        `const s=require('dgram').createSocket('udp4');s.bind(0,'${LAB.routerLan}',async()=>{` +
        `s.setMulticastInterface('${LAB.routerLan}');for(let i=0;i<1000;i++){await new Promise(r=>s.send(process.argv[1].replace('{{i}}',String(5000+i)),1900,'239.255.255.250',r));` +
        `if(i%10===0)await new Promise(r=>setTimeout(r,25))}s.close()})`
      const started = Date.now()
      const r = await runIn('router', process.execPath, ['-e', script, aliveNotify('{{i}}')], 30_000)
      expect(r.code).toBe(0)
      await sleep(1500)
      // A check is two requests (GetSpecificPortMappingEntry, GetExternalIPAddress), at most
      // one per 10 s window: the first NOTIFY's right away, then one per window started.
      const windows = 1 + Math.floor((Date.now() - started) / 10_000)
      const requests = await counter.read()
      expect(requests).toBeGreaterThanOrEqual(2)
      expect(requests).toBeLessThanOrEqual(2 * windows)
    } finally {
      await counter.remove()
      await mapper.close()
    }
  })
})

describe('9. unbounded lists', () => {
  it('10,000 LOCATIONs from one host: a handful of devices, the real router still found', async () => {
    await hostile.script({
      http: [{ ip: LAB.fakeA, port: 6001, routes: { '*': { body: igdDescription() } } }],
      ssdp: [
        {
          from: LAB.fakeA,
          text: searchReply(`http://${LAB.fakeA}:6001/d{{i}}.xml`, { USN: 'uuid:{{i}}::upnp:rootdevice' }),
          copies: 10_000,
        },
      ],
    })
    const r = await runChild({ mode: 'discover', timeout: 1500 })
    const fromAttacker = r.devices.filter((d) => d.descriptionUrl.includes(LAB.fakeA))
    expect(fromAttacker.length).toBeGreaterThan(0)
    expect(fromAttacker.length).toBeLessThanOrEqual(4)
    expect(r.devices.length).toBeLessThanOrEqual(64)
    expect(r.devices.some((d) => d.descriptionUrl === LAB.routerDescUrl)).toBe(true)
    expect((await hostile.log()).http.filter((h) => h.method === 'GET').length).toBeLessThanOrEqual(4)
    const status = await cli(['status', '--timeout', '1.5'])
    expect(status.stdout.split('\n').length).toBeLessThan(30)
  })

  it('a mapping table of huge entries: listPortMappings stays within its byte budget and says so', async () => {
    const entry = soapOk('GetGenericPortMappingEntry', {
      NewRemoteHost: '',
      NewExternalPort: '40000',
      NewProtocol: 'UDP',
      NewInternalPort: '40000',
      NewInternalClient: LAB.client,
      NewEnabled: '1',
      NewPortMappingDescription: 'D'.repeat(60_000),
      NewLeaseDuration: '0',
    })
    const huge = entry.replace('D'.repeat(60_000), 'D'.repeat(500_000))
    await hostile.script({
      http: [
        {
          ip: LAB.fakeA,
          port: 6001,
          routes: { 'POST /big#GetGenericPortMappingEntry': { body: huge }, 'POST /fat#GetGenericPortMappingEntry': { body: entry } },
        },
      ],
    })
    const big = await runChild({ mode: 'list', controlUrl: `http://${LAB.fakeA}:6001/big`, max: 1024 })
    expect(big.maxRssAfterKiB - big.maxRssBeforeKiB).toBeLessThan(64 * MiB)
    expect(big.result).toBe(UPNPResult.INVALID_RESPONSE)
    const fat = await runChild({ mode: 'list', controlUrl: `http://${LAB.fakeA}:6001/fat`, max: 1024 })
    expect(fat.maxRssAfterKiB - fat.maxRssBeforeKiB).toBeLessThan(64 * MiB)
    const v = fat.value as { entries: number; bytes: number; error: string }
    expect(v.bytes).toBeLessThan(2 * 1024 * 1024)
    expect(v.error).toMatch(/budget|too large|first \d+/)
  })
})

describe('10. a remote-triggered panic', () => {
  it('a controlURL with a multi-byte character is judged, not a caught panic', async () => {
    await hostile.script({
      http: [{ ip: LAB.fakeA, port: 6001, routes: { 'GET /d.xml': { body: igdDescription({ controlURL: '/ctl/Ié' }) } } }],
      ssdp: [ssdpFrom(LAB.fakeA, 6001)],
    })
    const upnp = new UPNP()
    await upnp.discover(1000)
    const d = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!).find((x) => x.descriptionUrl.includes(LAB.fakeA))
    expect(d).toBeDefined()
    expect(d?.igdStatus).toBe(IGDStatus.INVALID_CONTROL)
    expect(d?.lastError?.description ?? '').not.toMatch(/panick/)
  })
})
