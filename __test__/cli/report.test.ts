// `doctor --report` and its replay (issue 24), against miniupnpd, the fake gateway's shapes
// (double NAT, CGNAT, disconnected, a router that does not list what it accepted, one whose
// description carries the lab's MAC addresses and a personal name) and three zoo devices:
// each report validates against report-schema.json; none of the lab's real UUIDs, MAC
// addresses, serials or external addresses is in it (searched for, and found in an
// unredacted report, so the search can fail); and the report, replayed as a zoo device
// (from-report.ts, the zoo's replay), gives the same doctor verdicts and the same Godot-surface
// results as the original device. Reports of miniupnpd over PCP and NAT-PMP (`--protocol
// pcp|pmp`, no UPnP at all) replay as the router's NAT-PMP/PCP answers alone (pxp-replay.ts);
// their lines, and the NAT-PMP/PCP line of every `auto` run, are compared word for word.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyAddress, UPNP, type UPNPDevice } from '../../index.ts'
import { fakeDevice, useFakeGateway } from '../lab/fake-fixture.ts'
import { type Device, LAB, repoRoot, runIn, upnpcDelete } from '../lab/lab.ts'
import { loadDevice, loadReplay } from '../zoo/device-spec.ts'
import { deviceFromReport, doctorOptions, relocation, type Report, reportGateway } from '../zoo/from-report.ts'
import type { ZooHost } from '../zoo/zoo-lab.ts'
import { useZoo } from '../zoo/zoo-fixture.ts'

const fake = useFakeGateway()
const ROOT = repoRoot()
// The built CLI (lab.sh test builds dist/ first): a tsx start would cost ~1.5 s per run.
const CLI = path.join(ROOT, 'dist/cli/main.js')
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-native-report-test-'))
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'cli/commands/doctor/report-schema.json'), 'utf8')) as object
const validate = new Ajv2020({ allErrors: true, strict: true, validateFormats: false }).compile(schema)
/** The Godot-surface round trip's port (>= 1024: miniupnpd refuses lower ones). */
const PORT = 41301

function doctor(args: string[]): Promise<{ code: number; json: any }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'doctor', '--json', '--timeout', '1', ...args], { cwd: ROOT, timeout: 25_000 }, (err, stdout) =>
      resolve({ code: err ? Number(err.code) : 0, json: JSON.parse(stdout) }),
    )
  })
}

/** A NAT-PMP/PCP line with what differs from run to run masked: the latency, the router's
 *  uptime, the test mapping's ports (picked at random). */
const masked = (line: string): string =>
  line
    .replace(/answered in [\d.]+ ms/g, 'answered in * ms')
    .replace(/server (?:up [^,;)]+|just started)/g, 'server up *')
    .replace(/\b(UDP|TCP) \d+/g, '$1 *')
    .replace(/(\d+\.\d+\.\d+\.\d+):\d+/g, '$1:*')

/** What the doctor concluded, check by check; the NAT-PMP/PCP lines word for word (the whole
 *  run over NAT-PMP or PCP, the `protocols` line under auto), with the original's router
 *  address moved as its replay's was (`relocate`). */
const verdicts = (doc: any, relocate: (text: string) => string = (t) => t): unknown => ({
  verdict: doc.verdict.code,
  exitCode: doc.exitCode,
  checks: doc.checks.map((c: { id: string; status: string }) => `${c.id} ${c.status}`),
  pxp: [...doc.checks, { id: 'verdict', status: doc.verdict.code, summary: doc.verdict.summary }]
    .filter((c: { id: string }) => doc.via !== 'upnp' || c.id === 'protocols')
    .map((c: { id: string; status: string; summary: string }) => masked(relocate(`${c.id} ${c.status}: ${c.summary}`))),
})

/** Godot's surface on the device (found by a search, or opened from its URL): its fields and
 *  what its calls answer. Addresses in URLs are left out (a replay may have moved), and a
 *  public external address counts by its kind: a redacted report holds a stand-in, which a
 *  replay answers with the lab's (private and CGNAT addresses are kept, and compared). */
const kind = (address: string): string => (classifyAddress(address) === 'public' ? 'a public address' : address)

async function godotSurface(url: string | null): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  let gateway: UPNPDevice | null
  if (url) gateway = await UPNP.deviceFromUrl(url)
  else {
    const upnp = new UPNP()
    out.discover = await upnp.discover({ timeout: 2000, untilGateway: true })
    gateway = upnp.getGateway() ?? upnp.getDevice(0)
  }
  if (!gateway) return { ...out, gateway: null }
  const where = (u: string): string => (u ? `${new URL(u).port} ${new URL(u).pathname}${new URL(u).search}` : '')
  Object.assign(out, {
    serviceType: gateway.serviceType,
    igdServiceType: gateway.igdServiceType,
    igdStatus: gateway.igdStatus,
    valid: gateway.isValidGateway(),
    description: where(gateway.descriptionUrl),
    control: where(gateway.igdControlUrl),
    igdOurAddr: gateway.igdOurAddr,
    friendlyName: gateway.friendlyName,
    manufacturer: gateway.manufacturer,
    modelName: gateway.modelName,
    doubleNat: gateway.doubleNat,
    externalAddress: kind(gateway.externalAddress),
  })
  out.queryExternalAddress = kind(await gateway.queryExternalAddress())
  out.add = await gateway.addPortMapping(PORT, 0, 'report test', 'UDP', 0)
  out.addFailure = gateway.lastError && { result: gateway.lastError.result, upnpCode: gateway.lastError.upnpCode }
  out.delete = await gateway.deletePortMapping(PORT, 'UDP')
  return out
}

interface Original {
  name: string
  file: string
  report: Report
  doctor: unknown
  /** Null for a run without UPnP (`--protocol pcp|pmp`): its report holds nothing of it. */
  godot: Record<string, unknown> | null
  /** The original's description URL when the doctor opened it with --gateway. */
  url: string | null
  /** Values that must not be in the report. */
  secrets: string[]
}

/** Runs the doctor with --report on what is set up now, and Godot's surface after it (unless
 *  the run was over NAT-PMP or PCP alone). */
async function original(name: string, url: string | null, secrets: string[], extra: string[] = []): Promise<Original> {
  const file = path.join(TMP, `${name}.json`)
  const run = await doctor([...(url ? ['--gateway', url] : []), '--report', file, ...extra])
  expect(run.json.report, name).toMatchObject({ file, redacted: true })
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report
  const godot = run.json.via === 'upnp' ? await godotSurface(url) : null
  return { name, file, report, doctor: verdicts(run.json, relocation(report)), godot, url, secrets }
}

/** Each report: valid against its schema, and none of the values it must not hold. */
function checkRedacted(o: Original): void {
  expect(validate(o.report), `${o.name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true)
  expect(o.report.redaction.redacted).toBe(true)
  const text = fs.readFileSync(o.file, 'utf8').toLowerCase()
  for (const secret of o.secrets) expect(text.includes(secret.toLowerCase()), `${o.name} holds ${secret}`).toBe(false)
}

/** The report replayed as a zoo device: the doctor as the report ran it (`lab.sh replay`'s
 *  options), Godot's surface, and
 *  how many NAT-PMP/PCP requests the replay's responder got. */
async function replay(zoo: ZooHost, o: Original): Promise<{ doctor: unknown; godot: Record<string, unknown> | null; pxpRequests: number }> {
  const dir = path.join(TMP, `device-${o.name}`)
  deviceFromReport(o.report, dir, classifyAddress)
  const device = await zoo.load(loadReplay(dir))
  try {
    const run = await doctor(doctorOptions(o.report))
    const url = o.url && relocation(o.report)(o.url)
    return { doctor: verdicts(run.json), godot: o.godot && (await godotSurface(url)), pxpRequests: await device.pxpRequests() }
  } finally {
    await device.stop()
  }
}

let labSecrets: string[] = []
const originals: Original[] = []

beforeAll(async () => {
  // What identifies the lab: miniupnpd's UUIDs and serial, the interfaces' MAC addresses, and
  // the external addresses the router and the fake report.
  const desc = await (await fetch(LAB.routerDescUrl)).text()
  const ids = [...desc.matchAll(/<(?:UDN|serialNumber)>(?:uuid:)?([^<]+)</g)].map((m) => m[1]!)
  expect(ids).toContain('UNL7E41A9')
  const macs = await Promise.all(
    (
      [
        ['client', 'lan0'],
        ['router', 'br0'],
        ['router', 'wan0'],
        ['fake', 'lan0'],
      ] as const
    ).map(async ([host, dev]) => (await runIn(host, 'cat', [`/sys/class/net/${dev}/address`])).stdout.trim()),
  )
  labSecrets = [...new Set([...ids, ...macs, ...macs.map((m) => m.replace(/:/g, '')), LAB.extIp, '11.22.33.45'])]
}, 30_000)

afterAll(async () => {
  await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
  fs.rmSync(TMP, { recursive: true, force: true })
})

describe('doctor --report', () => {
  it('miniupnpd and the fake gateway shapes: each report validates and holds none of the lab’s identifiers', async () => {
    originals.push(await original('miniupnpd', null, labSecrets))
    originals.push(await original('miniupnpd-pcp', null, labSecrets, ['--protocol', 'pcp']))
    originals.push(await original('miniupnpd-pmp', null, labSecrets, ['--protocol', 'pmp']))
    const shapes: Array<[string, Partial<Device>, string[]]> = [
      ['double-nat', { externalIp: '10.0.0.2' }, []],
      ['cgnat', { externalIp: '100.64.1.2' }, []],
      ['disconnected', { connectionStatus: 'Disconnected' }, []],
      [
        'not-listed',
        {
          soap: {
            GetSpecificPortMappingEntry: { fault: { code: 714, description: 'NoSuchEntryInArray' } },
            GetGenericPortMappingEntry: { fault: { code: 713, description: 'SpecifiedArrayIndexInvalid' } },
          },
        },
        ['--port', '50000'],
      ],
    ]
    for (const [name, overrides, extra] of shapes) {
      const {
        devices: [located],
      } = await fake.setScenario({ devices: [fakeDevice(overrides)] })
      originals.push(await original(name, located!.location, labSecrets, extra))
    }
    for (const o of originals) checkRedacted(o)
    const expected = ['ok', 'ok', 'ok', 'double-nat', 'cgnat', 'not-connected', 'not-listed']
    expect(originals.map((o) => (o.doctor as { verdict: string }).verdict)).toEqual(expected)
    // Private and shared external addresses are kept: they are what the verdict is about.
    const named = (name: string): Original => originals.find((o) => o.name === name)!
    expect(fs.readFileSync(named('double-nat').file, 'utf8')).toContain('10.0.0.2')
    expect(fs.readFileSync(named('cgnat').file, 'utf8')).toContain('100.64.1.2')
    // The NAT-PMP/PCP datagrams are in the miniupnpd report, their addresses replaced too.
    const pxp = named('miniupnpd').report.exchanges.filter((e) => e.event === 'pxp.received')
    expect(pxp.length).toBeGreaterThanOrEqual(2)
    expect(JSON.stringify(pxp)).not.toContain('0b16212c') // 11.22.33.44 in hex
  }, 180_000)

  it('a description with MAC addresses, a serial, a UDN and a personal name: each becomes a placeholder', async () => {
    const macs = labSecrets.filter((s) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s))
    const [clientMac = '', routerMac = '', , fakeMac = ''] = macs
    const {
      devices: [plain],
    } = await fake.setScenario({ devices: [fakeDevice()] })
    const generated = await (await fetch(plain!.location)).text()
    const serial = fakeMac.replace(/:/g, '').toUpperCase()
    const body = generated
      .replace(/<friendlyName>[^<]*<\/friendlyName>/, `<friendlyName>Anna's router ${fakeMac}</friendlyName>`)
      .replace(/<serialNumber>[^<]*<\/serialNumber>/, `<serialNumber>${serial}</serialNumber>`)
      .replace(/<UDN>uuid:[^<]*<\/UDN>/, `<UDN>uuid:75802409-bccb-40e7-8e6c-${serial.toLowerCase()}</UDN>`)
      .replace('<modelName>', `<modelDescription>LAN ${clientMac} via ${routerMac}</modelDescription><modelName>`)
    const {
      devices: [located],
    } = await fake.setScenario({ devices: [fakeDevice({ description: { kind: 'igd-v2', body } })] })
    const secrets = [...labSecrets, serial, "Anna's router"]
    const redacted = await original('personal', located!.location, secrets)
    checkRedacted(redacted)
    // Three MAC addresses, one personal name; the serials and UUIDs of the device and of its
    // embedded WANDevice and WANConnectionDevice.
    expect(redacted.report.redaction).toMatchObject({
      replaced: { 'mac-address': 3, uuid: 3, 'serial-number': 2, 'device-name': 1, 'presentation-url': 1 },
    })
    originals.push(redacted)
    // Without redaction the same search finds every one of them: it can fail.
    const file = path.join(TMP, 'personal-unredacted.json')
    await doctor(['--gateway', located!.location, '--report', file, '--no-redact'])
    const text = fs.readFileSync(file, 'utf8').toLowerCase()
    expect(JSON.parse(text).redaction.redacted).toBe(false)
    for (const secret of [fakeMac, clientMac, routerMac, serial, "anna's router", '11.22.33.45']) {
      expect(text.includes(secret.toLowerCase()), secret).toBe(true)
    }
    expect(fs.statSync(file).mode & 0o077).toBe(0) // owner-only
  }, 60_000)
})

describe('a report replayed as a device (lab.sh replay, miniupnpd stopped)', () => {
  const zoo = useZoo()

  it('each report gives the same doctor verdicts and Godot-surface results as its original', async () => {
    // What the NAT-PMP/PCP comparison holds: miniupnpd's answers, at the replay's address.
    const lines = (name: string): string[] => (originals.find((o) => o.name === name)!.doctor as { pxp: string[] }).pxp
    expect(lines('miniupnpd')).toEqual(['protocols info: both answer at 192.168.1.1 (NAT-PMP says the external address is 11.22.33.44)'])
    for (const name of ['miniupnpd-pcp', 'miniupnpd-pmp']) {
      expect(lines(name)).toContain('mapping pass: UDP * → 192.168.77.10:* accepted for 2 min')
      expect(lines(name)).toContain('external-address pass: 11.22.33.44 is public (no double NAT)')
    }
    expect(originals.map((o) => o.name)).toEqual([
      'miniupnpd',
      'miniupnpd-pcp',
      'miniupnpd-pmp',
      'double-nat',
      'cgnat',
      'disconnected',
      'not-listed',
      'personal',
    ])
    for (const o of originals) {
      const played = await replay(zoo(), o)
      expect(played.doctor, o.name).toEqual(o.doctor)
      // A personal name is the report's placeholder in the replay; everything else is the same.
      if (o.godot) expect(played.godot, o.name).toEqual({ ...o.godot, friendlyName: reportGateway(o.report).friendlyName })
      // miniupnpd's answers came from the replay's responder (the others' reports show port
      // unreachable at the fake's address, which the replay leaves to the kernel).
      if (o.name.startsWith('miniupnpd')) expect(played.pxpRequests, o.name).toBeGreaterThanOrEqual(2)
    }
    expect(reportGateway(originals.at(-1)!.report).friendlyName).toBe('redacted-device-name-1')
  }, 240_000)

  it.each(['mikrotik-chr-7.10', 'linksys-wrt120n', 'huawei-hg531-v1'])(
    'zoo device %s: its report is redacted and replays as the same device',
    async (id) => {
      const spec = loadDevice(id)
      const captured = fs
        .readdirSync(spec.dir)
        .filter((f) => /^(desc|igddesc|tr64desc)/.test(f))
        .map((f) => fs.readFileSync(path.join(spec.dir, f), 'latin1'))
        .join('')
      const ids = [...captured.matchAll(/<(?:UDN|serialNumber)>\s*(?:uuid:)?([^<\s]+)/g)].map((m) => m[1]!).filter((v) => v.length >= 6)
      const running = await zoo().load(spec)
      let o: Original
      try {
        o = await original(`zoo-${id}`, null, [...labSecrets, ...ids])
      } finally {
        await running.stop()
      }
      checkRedacted(o)
      expect((o.doctor as { verdict: string }).verdict).toBe('ok')
      const played = await replay(zoo(), o)
      expect(played.doctor).toEqual(o.doctor)
      expect(played.godot).toEqual(o.godot)
    },
    90_000,
  )
})
