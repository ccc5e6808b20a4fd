// Property-based test of the whole public surface with fast-check (issue 26): whatever a caller
// passes (__test__/helpers/hostile-values.ts), no call throws synchronously, crashes or leaves
// an uncaught exception; a Godot-style method resolves with its usual type (a UPNPResult,
// "", null, ...) and never rejects; PortMapper, probe, deviceFromUrl, defaultGateway and the
// adapters reject only with their documented error; and a valid call afterwards still works.
// The seed is fixed and printed (UPNP_FC_SEED, UPNP_FC_RUNS change them). Nothing leaves
// loopback: valid calls go to a stand-in router on 127.0.0.1 (__test__/helpers/soap-stub.ts),
// discover() is held by an invalid discoverLocalPort, URLs are made loopback (refused before
// anything is sent) and probe always gets one bad option.
import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import * as lib from '../../index.ts'
import { PortMapper, UPNP, type UPNPDevice, UPNPError, UPNPResult } from '../../index.ts'
import { NatAPI } from '../../lib/adapters/nat-api.ts'
import { createClient } from '../../lib/adapters/nat-upnp.ts'
import { pmpNat, portMappingClient } from '../../lib/adapters/libp2p.ts'
import { checkServers } from '../../lib/reachability/nat-view.ts'
import { args, callOptions, hostile, orHostile, unbox } from '../helpers/hostile-values.ts'
import { type SoapStub, startSoapStub } from '../helpers/soap-stub.ts'

const SEED = Number(process.env.UPNP_FC_SEED ?? 26_026)
const RUNS = Number(process.env.UPNP_FC_RUNS ?? 2500)
const params = { seed: SEED, numRuns: RUNS }
console.log(`fast-check: seed ${SEED}, ${RUNS} runs per method (set UPNP_FC_SEED / UPNP_FC_RUNS to change)`)

let stub: SoapStub
const uncaught: unknown[] = []
const onUncaught = (e: unknown) => uncaught.push(e)
beforeAll(async () => {
  stub = await startSoapStub()
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  // Refused fields and ignored device-list calls warn; thousands of them need not be printed.
  vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
})
afterAll(async () => {
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
  vi.restoreAllMocks()
  await stub.close()
  expect(uncaught).toEqual([])
})

const port = fc.integer({ min: 40000, max: 40003 })
const wildPort = fc.integer({ min: 0, max: 40003 })
const proto = fc.constantFrom('UDP', 'TCP')
const seconds = fc.integer({ min: 0, max: 7200 })
const text = fc.string({ maxLength: 16 })
const pinholeId = fc.integer({ min: 0, max: 10 })
/** Any string that looks like a URL becomes one the addon refuses before sending (loopback). */
const url = orHostile(fc.constant('http://192.0.2.1:5000/rootDesc.xml')).map((u) =>
  typeof u === 'string' && u.includes(':') ? 'http://127.0.0.1:1/rootDesc.xml' : u,
)

const isResult = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 28
const isEntryOrNull = (v: unknown) =>
  v === null || (typeof v === 'object' && typeof (v as { externalPort?: unknown }).externalPort === 'number')
const nullOr = (type: string) => (v: unknown) => v === null || typeof v === type

/** Calls `run`, which must not throw synchronously and must give a promise. */
function promiseOf(run: () => unknown): Promise<unknown> {
  let pending: unknown
  try {
    pending = run()
  } catch (error) {
    throw new Error('threw synchronously', { cause: error })
  }
  expect(pending).toBeInstanceOf(Promise)
  return pending as Promise<unknown>
}

/** A rejection must be `kind` (a UPNPError with a result, or the adapter's Error). */
async function settlesAs(pending: Promise<unknown>, kind: 'UPNPError' | 'Error'): Promise<void> {
  try {
    await pending
  } catch (error) {
    if (kind === 'UPNPError') {
      expect(error).toBeInstanceOf(UPNPError)
      expect((error as UPNPError).code).toBe(`UPNP_${UPNPResult[(error as UPNPError).result]}`)
    } else expect(error).toBeInstanceOf(Error)
    expect((error as Error).message.length).toBeLessThan(600)
  }
}

type Method = { name: string; args: fc.Arbitrary<unknown[]>; returns: (v: unknown) => boolean }

/** A pinhole's remote host, remote port and internal client, each valid or hostile. */
const pinholePeers = [orHostile(fc.constant('')), orHostile(wildPort), orHostile(fc.constant(''))] as const

// Each argument valid or hostile, then the trailing options.
const DEVICE_METHODS: Method[] = [
  { name: 'queryExternalAddress', args: fc.tuple(callOptions), returns: (v) => typeof v === 'string' },
  {
    name: 'addPortMapping',
    args: fc.tuple(orHostile(port), orHostile(wildPort), orHostile(text), orHostile(proto), orHostile(seconds), callOptions),
    returns: isResult,
  },
  { name: 'deletePortMapping', args: fc.tuple(orHostile(port), orHostile(proto), callOptions), returns: isResult },
  { name: 'getPortMapping', args: fc.tuple(orHostile(port), orHostile(proto), callOptions), returns: isEntryOrNull },
  { name: 'listPortMappings', args: fc.tuple(orHostile(fc.integer({ min: 0, max: 8 })), callOptions), returns: Array.isArray },
  { name: 'getFirewallStatus', args: fc.tuple(callOptions), returns: nullOr('object') },
  {
    name: 'addPinhole',
    args: fc.tuple(orHostile(port), orHostile(proto), orHostile(seconds), ...pinholePeers, callOptions),
    returns: nullOr('number'),
  },
  { name: 'updatePinhole', args: fc.tuple(orHostile(pinholeId), orHostile(seconds), callOptions), returns: isResult },
  { name: 'deletePinhole', args: fc.tuple(orHostile(pinholeId), callOptions), returns: isResult },
  { name: 'getPinholePackets', args: fc.tuple(orHostile(pinholeId), callOptions), returns: nullOr('number') },
  { name: 'checkPinholeWorking', args: fc.tuple(orHostile(pinholeId), callOptions), returns: nullOr('boolean') },
  {
    name: 'getOutboundPinholeTimeout',
    args: fc.tuple(orHostile(port), orHostile(proto), ...pinholePeers, callOptions),
    returns: nullOr('number'),
  },
]

/** The check after every run: the same object still does a valid call. */
async function stillWorks(device: UPNPDevice): Promise<void> {
  expect(await device.addPortMapping(40100, 0, 'still works', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
  expect(device.lastError).toBeNull()
}

function checkLastError(holder: { lastError: lib.UPNPErrorInfo | null }): void {
  const e = holder.lastError
  if (e === null) return
  expect(isResult(e.result)).toBe(true)
  expect(typeof e.description).toBe('string')
  expect(e.description.length).toBeLessThan(600)
}

describe('UPNPDevice: every method, any arguments', () => {
  for (const m of DEVICE_METHODS) {
    it(`${m.name} resolves with its type, never throws or rejects`, async () => {
      const device = stub.device()
      await fc.assert(
        fc.asyncProperty(m.args.map(unbox), async (given) => {
          const value = await promiseOf(() => (device as unknown as Record<string, (...a: unknown[]) => unknown>)[m.name]!(...given))
          expect(m.returns(value)).toBe(true)
          checkLastError(device)
          await stillWorks(device)
        }),
        params,
      )
    })
  }

  it('its fields refuse values of the wrong type; calls keep working', async () => {
    const device = stub.device()
    const fields = [
      'descriptionUrl',
      'serviceType',
      'igdControlUrl',
      'igdServiceType',
      'igdOurAddr',
      'igdStatus',
      'requestTimeout',
      'firewallControlUrl',
      'firewallServiceType',
    ]
    await fc.assert(
      fc.asyncProperty(args(fc.constantFrom(...fields), hostile), async ([field, value]) => {
        const before = (device as unknown as Record<string, unknown>)[field]
        ;(device as unknown as Record<string, unknown>)[field] = value
        const after = (device as unknown as Record<string, unknown>)[field]
        if (after !== before || Object.is(after, value)) {
          // Taken: it had the field's type. Put the working value back.
          expect(typeof after).toBe(typeof before)
          ;(device as unknown as Record<string, unknown>)[field] = before
        }
        await stillWorks(device)
      }),
      params,
    )
  })
})

describe('UPNP: every method, any arguments', () => {
  it('discover resolves with a UPNPResult (INVALID_PARAM), never throws, keeps the list', async () => {
    const upnp = new UPNP()
    upnp.addDevice(stub.device())
    upnp.discoverLocalPort = 70_000 // refused last: every argument is checked first, nothing is sent
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.tuple(hostile), fc.tuple(orHostile(fc.nat(3000)), orHostile(fc.nat(255)), orHostile(text), callOptions)).map(unbox),
        async (given) => {
          const value = await promiseOf(() => (upnp.discover as (...a: unknown[]) => unknown)(...given))
          expect(value).toBe(UPNPResult.INVALID_PARAM)
          expect(upnp.getDeviceCount()).toBe(1)
          checkLastError(upnp)
        },
      ),
      params,
    )
  })

  it('the Godot calls on the gateway resolve with their type; the device list never throws', async () => {
    const upnp = new UPNP()
    const gateway = stub.device()
    upnp.addDevice(gateway)
    const calls: Array<[string, fc.Arbitrary<unknown[]>, (v: unknown) => boolean]> = [
      [
        'addPortMapping',
        fc.tuple(orHostile(port), orHostile(wildPort), orHostile(text), orHostile(proto), orHostile(seconds), callOptions),
        isResult,
      ],
      ['deletePortMapping', fc.tuple(orHostile(port), orHostile(proto), callOptions), isResult],
      ['queryExternalAddress', fc.tuple(callOptions), (v) => typeof v === 'string'],
      ['addDeviceFromUrl', fc.tuple(url, callOptions), isResult],
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(fc.oneof(...calls.map(([name, given, ok]) => given.map((a) => ({ name, given: a, ok })))), hostile).map(unbox),
        async ([{ name, given, ok }, index]) => {
          const value = await promiseOf(() => (upnp as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...given))
          expect(ok(value)).toBe(true)
          checkLastError(upnp)
          // The synchronous list calls, with any index or device: ignored with a warning, never a throw.
          expect(() => {
            upnp.getDevice(index as number)
            upnp.setDevice(index as number, index as UPNPDevice)
            upnp.addDevice(index as UPNPDevice)
            upnp.removeDevice(index as number)
          }).not.toThrow()
          expect(upnp.getDeviceCount()).toBeLessThanOrEqual(2)
          upnp.clearDevices()
          upnp.addDevice(gateway)
          expect(await upnp.addPortMapping(40101, 0, 'still works', 'UDP', 0)).toBe(UPNPResult.SUCCESS)
        },
      ),
      params,
    )
  })
})

describe('PortMapper: bad arguments are a UPNPError naming them', () => {
  const mapperOptions = fc.oneof(
    hostile,
    fc.record(
      {
        lease: orHostile(seconds),
        verifyInterval: orHostile(fc.integer({ min: 1000, max: 600_000 })),
        portRange: orHostile(fc.constant([1024, 65535])),
        maxAttempts: orHostile(fc.integer({ min: 1, max: 8 })),
        requestTimeout: orHostile(fc.integer({ min: 1, max: 3000 })),
        description: orHostile(text),
        protocol: orHostile(fc.constantFrom('auto', 'upnp', 'pcp', 'natpmp')),
        router: orHostile(fc.constant('')),
        keepAlive: orHostile(fc.boolean()),
        gateway: hostile,
      },
      { requiredKeys: [] },
    ),
  )

  it('new PortMapper(options) constructs or throws a UPNPError', () => {
    fc.assert(
      fc.property(args(mapperOptions), ([options]) => {
        try {
          expect(new PortMapper(options as lib.PortMapperOptions)).toBeInstanceOf(PortMapper)
        } catch (error) {
          expect(error).toBeInstanceOf(UPNPError)
        }
      }),
      params,
    )
  })

  it('map, unmap, prune and close resolve or reject with a UPNPError; a valid map still works', async () => {
    const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
    const request = fc.oneof(
      hostile,
      fc.record(
        {
          internalPort: orHostile(port),
          externalPort: orHostile(port),
          protocol: orHostile(proto),
          lease: orHostile(seconds),
          description: orHostile(text),
          family: orHostile(fc.constant('ipv4')),
          signal: hostile,
        },
        { requiredKeys: [] },
      ),
    )
    const pruneOptions = fc.oneof(
      hostile,
      fc.record(
        { dryRun: orHostile(fc.constant(true)), olderThan: orHostile(seconds), owner: orHostile(text), signal: hostile },
        { requiredKeys: [] },
      ),
    )
    await fc.assert(
      fc.asyncProperty(args(request, hostile, pruneOptions, callOptions), async ([req, mapping, prune, options]) => {
        await settlesAs(
          promiseOf(() => mapper.map(req as lib.MapRequest)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => mapper.unmap(mapping as lib.Mapping, options as lib.CallOptions)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => mapper.prune(prune as never)),
          'UPNPError',
        )
        for (const m of mapper.mappings) await m.close()
      }),
      params,
    )
    const m = await mapper.map({ internalPort: 40102, protocol: 'TCP' })
    expect(m.externalPort).toBe(40102)
    await settlesAs(
      promiseOf(() => mapper.close(Symbol('x') as never)),
      'UPNPError',
    )
    await mapper.close()
    expect(stub.mappings.has('TCP 40102')).toBe(false)
  })
})

describe('the rest of the surface', () => {
  it('deviceFromUrl, defaultGateway and probe reject only with a UPNPError', async () => {
    await fc.assert(
      fc.asyncProperty(args(url, hostile, callOptions), async ([u, options, call]) => {
        await settlesAs(
          promiseOf(() => UPNP.deviceFromUrl(u as string, options as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => lib.defaultGateway(call as lib.CallOptions)),
          'UPNPError',
        )
        // budgetMs is always bad, so no probe is ever sent from here.
        const probing = { gateway: options, multicastIf: call, signal: options, budgetMs: 'soon' }
        await expect(promiseOf(() => lib.probe(probing as never))).rejects.toBeInstanceOf(UPNPError)
      }),
      params,
    )
  })

  it('checkNat and checkReachability reject only with a UPNPError', async () => {
    await fc.assert(
      fc.asyncProperty(args(hostile, hostile, hostile), async ([stun, other, call]) => {
        // A server list that would be valid is made empty: nothing is ever sent from here.
        const servers = checkServers(stun) === null ? [] : stun
        await settlesAs(
          promiseOf(() => lib.checkNat({ stun: servers, gateway: other, upnpGateway: call, signal: call } as never)),
          'UPNPError',
        )
        const options = { stun: servers, protocol: other, mapper: call, budgetMs: other, repair: call, signal: other }
        await settlesAs(
          promiseOf(() => lib.checkReachability(options as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => lib.checkReachability(other as never)),
          'UPNPError',
        )
      }),
      params,
    )
  })

  it('the adapters: constructors throw and calls reject with their documented error only', async () => {
    await fc.assert(
      fc.asyncProperty(args(hostile, hostile, hostile), async ([a, b, c]) => {
        // A port that is never valid keeps every call before the network.
        const badPort = Number.isInteger(a) && (a as number) >= 1 && (a as number) <= 65535 ? -1 : a
        for (const make of [
          () => new NatAPI(b as never),
          () => createClient(b as never),
          () => portMappingClient(b as never),
          () => pmpNat(a as string, b as never),
        ]) {
          try {
            make()
          } catch (error) {
            expect(error).toBeInstanceOf(Error)
          }
        }
        const natApi = new NatAPI({ enablePMP: false })
        await settlesAs(
          promiseOf(() => natApi.map(badPort as number, c as number)),
          'Error',
        )
        await settlesAs(
          promiseOf(() => natApi.map({ publicPort: badPort, protocol: c } as never)),
          'Error',
        )
        const natUpnp = createClient({ gateway: 'http://127.0.0.1:1/rootDesc.xml' })
        await settlesAs(
          promiseOf(() => natUpnp.createMapping(b as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => natUpnp.createMapping({ public: badPort, private: c, protocol: b } as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => natUpnp.removeMapping(c as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => natUpnp.getMappings(b as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => portMappingClient().getGateway(c as URL, b as never)),
          'UPNPError',
        )
        const gateway = pmpNat('192.0.2.1')
        await settlesAs(
          promiseOf(() => gateway.map(badPort as number, c as string, b as never)),
          'UPNPError',
        )
        await settlesAs(
          promiseOf(() => gateway.unmap(a as number, b as never)),
          'UPNPError',
        )
        await gateway.stop()
      }),
      params,
    )
  })

  it('UPNPError itself, classifyAddress, explainFailure and codeText take any value without crashing', () => {
    fc.assert(
      fc.property(args(hostile, hostile), ([a, b]) => {
        for (const call of [
          () => new UPNPError({ result: a as UPNPResult, description: b as string }),
          () => lib.classifyAddress(a as string),
          () => lib.explainFailure({ result: a as UPNPResult, description: b as string }),
          () => lib.explainPinholeFailure({ result: a as UPNPResult, description: b as string }),
        ]) {
          try {
            call()
          } catch (error) {
            expect(error).toBeInstanceOf(Error)
          }
        }
      }),
      params,
    )
  })
})
