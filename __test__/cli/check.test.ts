// `upnp-native check --stun` and `doctor --stun` as a child process against the lab's coturn
// and miniupnpd: the words, the exit codes, the JSON document, usage errors, nothing left,
// and the STUN exchanges in the wire log and the report.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, describe, expect, it } from 'vitest'
import { checkNat, UPNP, UPNPDevice } from '../../index.ts'
import { cli, expectUsageError, json, plain } from '../helpers/cli-run.ts'
import { fakeDevice, useFakeGateway } from '../lab/fake-fixture.ts'
import { cgnatCtl, LAB, repoRoot, upnpcList } from '../lab/lab.ts'

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-native-check-test-'))

afterAll(async () => {
  await cgnatCtl('off')
  fs.rmSync(TMP, { recursive: true, force: true })
})

describe('check', () => {
  it('a reachable probe mapping: public address, router agrees, NAT behaviour, yes; exit 0', async () => {
    const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp']))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`Public address    ${LAB.extIp} (seen by ${LAB.stun.primary}:3478)`)
    expect(r.stdout).toMatch(/Router says +11\.22\.33\.44: .*no NAT beyond the router/)
    expect(r.stdout).toContain('NAT behaviour     mapping endpoint-independent, filtering address-and-port-dependent')
    expect(r.stdout).toMatch(/Probe mapping +UDP 11\.22\.33\.44:\d+ → 192\.168\.77\.10:\d+ over UPnP, deleted again/)
    expect(r.stdout).toMatch(/Reachable from outside: yes: an answer from 11\.22\.33\.2:3479 reached/)
    expect(await upnpcList()).toEqual([])
  })

  it('behind the carrier-grade NAT: no, the reason in one sentence and the fix; exit 3; JSON', async () => {
    await cgnatCtl('on')
    try {
      const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp']))
      expect(r.code).toBe(3)
      expect(r.stdout).toMatch(
        /Reachable from outside: no: traffic from this machine leaves from 11\.33\.0\.1, not from the router's 11\.22\.33\.44/,
      )
      expect(r.stdout).toMatch(/Fix: Ask the ISP for a public IPv4 address/)
      const doc = json(await cli(['check', '--stun', LAB.stun.primary, '--protocol', 'upnp', '--json']))
      expect([doc.command, doc.ok, doc.exitCode]).toEqual(['check', false, 3])
      expect(doc.nat.relation).toBe('upstream-nat')
      expect(doc.reachability.verdict).toBe('not-reachable')
      expect(doc.reachability.publicAddress).toBe(LAB.stun.cgnOutside)
    } finally {
      await cgnatCtl('off')
    }
    expect(await upnpcList()).toEqual([])
  })

  it('usage: no server named (none is built in), TCP, too many servers', async () => {
    expectUsageError(await cli(['check']), /needs a STUN server that implements RFC 5780/, /None is built in/)
    expectUsageError(await cli(['check', '--stun', LAB.stun.primary, '--tcp']), /TCP cannot be checked with STUN/, /verify hook/)
    const five = ['a', 'b', 'c', 'd', 'e'].flatMap((s) => ['--stun', s])
    expectUsageError(await cli(['check', ...five]), /at most 4 times/, /--help/)
  })
})

describe('two UPnP gateways: --gateway <URL> is the router both lines speak of', () => {
  const fake = useFakeGateway()
  /** What the fake reports; miniupnpd, which the search finds, reports LAB.extIp. */
  const FAKE_EXT = '11.22.33.45'

  /** The fake as a second IGD that does not answer searches: only its URL finds it. */
  async function secondGateway(): Promise<string> {
    const { devices } = await fake.setScenario({ devices: [fakeDevice({ externalIp: FAKE_EXT, ssdp: { respond: false } })] })
    return devices[0]!.location
  }

  it("checkNat({ upnpGateway }): the URL's device (or the device given), not the one a search finds", async () => {
    const url = await secondGateway()
    const stun = [LAB.stun.primary]
    // The control: without it, the search's gateway (miniupnpd) is the router compared.
    expect((await checkNat({ stun })).routerAddress).toBe(LAB.extIp)
    const nat = await checkNat({ stun, upnpGateway: url })
    expect([nat.routerAddress, nat.publicAddress, nat.relation]).toEqual([FAKE_EXT, LAB.extIp, 'upstream-nat'])
    const device = await UPNP.deviceFromUrl(url)
    expect((await checkNat({ stun, upnpGateway: device })).routerAddress).toBe(FAKE_EXT)
    await expect(checkNat({ stun, upnpGateway: url, router: LAB.routerLan })).rejects.toThrow(/give one/)
  })

  it('checkNat({ upnpGateway }): a device that cannot tell its address, a URL that cannot be a gateway', async () => {
    const stun = [LAB.stun.primary]
    const nat = await checkNat({ stun, upnpGateway: new UPNPDevice() })
    expect([nat.routerAddress, nat.publicAddress, nat.relation]).toEqual(['', LAB.extIp, 'unknown'])
    expect(nat.notes[0]).toBe('the UPnP gateway did not tell its external address: not a valid gateway (igdStatus is not OK)')
    await expect(checkNat({ stun, upnpGateway: 'http://127.0.0.1:5000/rootDesc.xml' })).rejects.toMatchObject({
      code: 'UPNP_INVALID_PARAM',
      description: expect.stringMatching(/loopback/),
    })
  })

  it('check --gateway <URL>: "Router says" is the address of the device the probe mapping is made on', async () => {
    const url = await secondGateway()
    const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--gateway', url, '--protocol', 'upnp']))
    expect(r.stdout, r.stderr).toContain(`Router says       ${FAKE_EXT}: the router reports ${FAKE_EXT}, but from outside`)
    expect(r.stdout).toMatch(/Probe mapping +UDP 11\.22\.33\.45:\d+ → 192\.168\.77\.10:\d+ over UPnP/) // FAKE_EXT
    expect((await fake.mappings()).a ?? []).toEqual([])
    expect(await upnpcList()).toEqual([])
  })

  it('check --gateway <URL> that cannot be a gateway: a usage error (exit 2), nothing asked', async () => {
    const r = plain(await cli(['check', '--stun', LAB.stun.primary, '--gateway', 'http://127.0.0.1:5000/rootDesc.xml']))
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stderr).toMatch(/^upnp-native: --gateway: .*loopback/)
    expect(r.stderr).toMatch(/description URL: http:\/\/<address>:<port>\/<path>/)
    expect(r.stdout).not.toMatch(/Public address|Router says|Probe mapping/)
  })
})

describe('doctor --stun', () => {
  it('adds the view from outside and the probe mapping checked from outside', async () => {
    const r = plain(await cli(['doctor', '--stun', LAB.stun.primary]))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/✔ From outside +11\.22\.33\.44: .*no NAT beyond the router; mapping endpoint-independent/)
    expect(r.stdout).toMatch(/✔ Reachable +yes: an answer from 11\.22\.33\.2:3479 reached/)
    const doc = json(await cli(['doctor', '--stun', LAB.stun.primary, '--json']))
    expect(doc.checks.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(['public-address', 'reachability']))
    expect(doc.stun.reachability.verdict).toBe('reachable')
    expect(await upnpcList()).toEqual([])
  })

  it('--log-http shows each STUN request and answer; --report keeps them, their addresses redacted', async () => {
    const file = path.join(TMP, 'stun-report.json')
    const r = plain(await cli(['doctor', '--stun', LAB.stun.primary, '--log-http', '--report', file]))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const server = `${LAB.stun.primary}:3478`
    const other = `${LAB.stun.other}:3479`
    expect(r.stderr).toContain(
      `stun   STUN Binding request to ${server} (attempt 1, 28 bytes): Binding request; the answer must come from ${server}`,
    )
    expect(r.stderr).toMatch(
      new RegExp(
        `stun   STUN Binding success response from ${server} after [\\d.]+ ms: the answer: this host is ${LAB.extIp}:\\d+ as the server sees it; other address ${other}`,
      ),
    )
    // The filtering test's change requests, and the answers the lab's NAT filters out.
    expect(r.stderr).toContain(`CHANGE-REQUEST address and port; the answer must come from ${other}`)
    expect(r.stderr).toMatch(new RegExp(`stun   ${server}: no answer from ${other} within 2000 ms \\(3 sent\\)`))
    expect(r.stderr).toMatch(/^ {2}\| 00010008 2112a442 /m) // the request's bytes, as hex

    expect(r.stdout + r.stderr).toMatch(/Report: .* \(redacted: 3 public-addresses, /) // not "addresss"
    const report = JSON.parse(fs.readFileSync(file, 'utf8'))
    const schema = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'cli/commands/doctor/report-schema.json'), 'utf8')) as object
    const validate = new Ajv2020({ allErrors: true, strict: true, validateFormats: false }).compile(schema)
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true)
    const stun = (report.exchanges as Array<{ section: string; event: string; body?: string; detail?: string }>).filter(
      (e) => e.section === 'stun',
    )
    expect(new Set(stun.map((e) => e.event))).toEqual(new Set(['stun.sent', 'stun.received', 'stun.failed']))
    // Redacted like every other public address: this host's (also XORed in the datagrams) and
    // the servers', with the placeholders the rest of the report uses.
    const text = fs.readFileSync(file, 'utf8')
    // 0b16212c: 11.22.33.44 in hex; 2a04856e: XORed with STUN's magic cookie.
    for (const secret of [LAB.extIp, LAB.stun.primary, LAB.stun.other, '0b16212c', '2a04856e']) {
      expect(text.includes(secret), secret).toBe(false)
    }
    const answer = stun.find((e) => e.event === 'stun.received' && e.detail?.startsWith('the answer'))!
    const seenAs = /this host is ([\d.]+):/.exec(answer.detail!)![1]!
    expect(seenAs).toMatch(/^11\.0\.\d+\.\d+$/)
    const body = Buffer.from(answer.body!, 'hex')
    const xorMapped = body.indexOf(Buffer.from('00200008', 'hex'), 20) // XOR-MAPPED-ADDRESS, IPv4
    const address = [...body.subarray(xorMapped + 8, xorMapped + 12)].map((b, i) => b ^ [0x21, 0x12, 0xa4, 0x42][i]!).join('.')
    expect(address).toBe(seenAs)
  })
})
