// A PortMapper makes each protocol's backend once (for UPnP without a given device: one
// gateway search), and with `via: 'auto'` probes the router once, however many map() calls
// need it at the same moment; a make or probe that fails is tried again by the next call, and
// one caller's AbortSignal never fails another's wait. FamilyBase (lib/portmapper/family.ts)
// with a make() the test settles, Ipv4Backends with probe() faked (settled by the test too),
// and PortMappers against the loopback SOAP stub (__test__/helpers/soap-stub.ts). Nothing
// leaves this machine: probe() and the gateway search are faked for the whole file.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { PortMapper, type UPNPDevice } from '../../index.ts'
import type { Backend } from '../../lib/portmapper/backends/backend.ts'
import { FamilyBase } from '../../lib/portmapper/family.ts'
import { Ipv4Backends } from '../../lib/portmapper/ipv4.ts'
import { resolveOptions, type ResolvedOptions } from '../../lib/portmapper/options.ts'
import { probe, type ProbeOptions, type ProbeReport } from '../../lib/probe.ts'
import type { Via } from '../../lib/types.ts'
import { type SoapStub, startSoapStub } from '../helpers/soap-stub.ts'

vi.mock('../../lib/probe.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/probe.ts')>()),
  probe: vi.fn(() => Promise.reject(new Error('probe() is faked in this file'))),
}))
vi.mock('../../lib/find-gateway.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/find-gateway.ts')>()),
  findGateway: vi.fn(() => Promise.reject(new Error('no gateway search in this file'))),
}))

/** Work as it was started (a backend's make, a probe), waiting until the test settles it. */
interface Started<T> {
  signal: AbortSignal | undefined
  // Methods, so that a list of makes and one of probes both serve the table below.
  resolve(value: T): void
  reject(error: unknown): void
}

/** A family whose make() waits until the test settles it. */
class Family extends FamilyBase {
  readonly makes: Array<Started<Backend> & { via: Via }> = []

  constructor() {
    super({ options: {} as ResolvedOptions, givenGateway: null, gatewayUrl: null, serial: (work) => work() }, 'mappings', false)
  }

  candidates(): Promise<Via[]> {
    return Promise.resolve(['upnp'])
  }

  protected make(via: Via, signal?: AbortSignal): Promise<Backend> {
    return new Promise((resolve, reject) => this.makes.push({ via, signal, resolve, reject }))
  }
}

const backendNamed = (name: string) => ({ name }) as unknown as Backend

/** The probes started by the current test, in order. */
const probes: Array<Started<ProbeReport>> = []
beforeEach(() => {
  probes.length = 0
  vi.mocked(probe).mockImplementation(
    (options?: ProbeOptions) => new Promise((resolve, reject) => probes.push({ signal: options?.signal, resolve, reject })),
  )
})

/** What a probe found: `available`, best first, and the UPnP device it answered with. */
function reportOf(available: Via[], device: UPNPDevice | null = null): ProbeReport {
  const silent = { available: false, latencyMs: 0, externalAddress: '', meaning: 'TIMEOUT' }
  const answered = { ...silent, available: true, meaning: 'SUCCESS' }
  const of = (via: Via) => (available.includes(via) ? answered : silent)
  return {
    router: '192.0.2.1',
    gateway: '192.0.2.1',
    localAddress: '192.0.2.2',
    upnp: { ...of('upnp'), device },
    natpmp: of('natpmp'),
    pcp: of('pcp'),
    available,
    elapsedMs: 1,
    at: Date.now(),
  }
}

/** Work that the callers at once share (`lib/portmapper/shared-pending.ts`): how a fresh
 *  family is asked for it, the work started so far, an answer and what each caller then gets. */
interface SharedWork {
  what: string
  fresh(): { call(signal?: AbortSignal): Promise<unknown>; started: Array<Started<unknown>> }
  answer: unknown
  got: unknown
}

const made = backendNamed('upnp')
const SHARED: SharedWork[] = [
  {
    what: 'FamilyBase.backend(): one make per protocol',
    fresh() {
      const family = new Family()
      return { call: (signal) => family.backend('upnp', signal), started: family.makes }
    },
    answer: made,
    got: made,
  },
  {
    what: "Ipv4Backends.candidates(): one probe (via: 'auto')",
    fresh() {
      const family = new Ipv4Backends({ options: resolveOptions({}), givenGateway: null, gatewayUrl: null, serial: (work) => work() })
      return { call: (signal) => family.candidates(signal), started: probes }
    },
    answer: reportOf(['pcp', 'upnp']),
    got: ['pcp', 'upnp'],
  },
]

describe.each(SHARED)('$what', ({ fresh, answer, got }) => {
  /** After the first was dropped (failed, or stopped): the next call starts a second one. */
  const nextStartsAnother = async (call: (signal?: AbortSignal) => Promise<unknown>, started: Array<Started<unknown>>) => {
    const next = call()
    expect(started.length).toBe(2)
    started[1]!.resolve(answer)
    expect(await next).toEqual(got)
  }

  it('two calls at once share one, and both get its outcome', async () => {
    const { call, started } = fresh()
    const first = call()
    const second = call()
    expect(started.length).toBe(1)
    started[0]!.resolve(answer)
    expect(await first).toEqual(got)
    expect(await second).toEqual(got)
  })

  it('one that fails fails every caller waiting for it, and the next call starts another', async () => {
    const { call, started } = fresh()
    const first = call()
    const second = call()
    const failure = new Error('it could not be done')
    started[0]!.reject(failure)
    await expect(first).rejects.toBe(failure)
    await expect(second).rejects.toBe(failure)
    await nextStartsAnother(call, started)
  })

  it("one caller's abort ends its own wait only: the work goes on for the other caller", async () => {
    const { call, started } = fresh()
    const controller = new AbortController()
    const first = call(controller.signal)
    const second = call()
    expect(started.length).toBe(1)
    const reason = new Error('the first caller gave up')
    controller.abort(reason)
    await expect(first).rejects.toBe(reason)
    expect(started[0]!.signal?.aborted).toBe(false)
    started[0]!.resolve(answer)
    expect(await second).toEqual(got)
    expect(started.length).toBe(1)
  })

  it('when every waiting caller aborted, the work is stopped and the next call starts another', async () => {
    const { call, started } = fresh()
    const a = new AbortController()
    const b = new AbortController()
    const first = call(a.signal)
    const second = call(b.signal)
    expect(started.length).toBe(1)
    a.abort()
    await expect(first).rejects.toMatchObject({ name: 'AbortError' })
    expect(started[0]!.signal?.aborted).toBe(false) // the second still waits
    const reason = new Error('the second gave up too')
    b.abort(reason)
    await expect(second).rejects.toBe(reason)
    expect(started[0]!.signal?.aborted).toBe(true)
    expect(started[0]!.signal?.reason).toBe(reason)
    await nextStartsAnother(call, started)
  })

  it('an already aborted signal rejects without starting any', async () => {
    const { call, started } = fresh()
    const reason = new Error('gone')
    await expect(call(AbortSignal.abort(reason))).rejects.toBe(reason)
    expect(started.length).toBe(0)
  })
})

describe('FamilyBase.backend(): a backend is kept once made', () => {
  it('later calls reuse it, and another protocol is its own make', async () => {
    const family = new Family()
    const first = family.backend('upnp')
    family.makes[0]!.resolve(made)
    expect(await first).toBe(made)
    expect(await family.backend('upnp')).toBe(made)
    expect(family.makes.length).toBe(1)
    void family.backend('pcp')
    expect(family.makes.map((m) => m.via)).toEqual(['upnp', 'pcp'])
  })

  it('a make stopped (every caller aborted) that settles late is not kept', async () => {
    const family = new Family()
    const controller = new AbortController()
    const first = family.backend('upnp', controller.signal)
    controller.abort()
    await expect(first).rejects.toMatchObject({ name: 'AbortError' })
    family.makes[0]!.resolve(backendNamed('late'))
    await new Promise((resolve) => setImmediate(resolve))
    const second = family.backend('upnp')
    expect(family.makes.length).toBe(2)
    family.makes[1]!.resolve(made)
    expect(await second).toBe(made)
    expect(await family.backend('upnp')).toBe(made)
  })
})

describe('PortMapper: two map() calls at once on a fresh mapper', () => {
  let stub: SoapStub
  beforeAll(async () => {
    stub = await startSoapStub()
  })
  afterAll(() => stub.close())
  afterEach(() => vi.restoreAllMocks())

  it('make the UPnP backend once', async () => {
    const make = vi.spyOn(Ipv4Backends.prototype as unknown as { make: (via: Via, signal?: AbortSignal) => Promise<Backend> }, 'make')
    const mapper = new PortMapper({ gateway: stub.device(), watchAnnouncements: false, cleanupOnExit: false })
    const [a, b] = await Promise.all([
      mapper.map({ internalPort: 40021, protocol: 'UDP' }),
      mapper.map({ internalPort: 40022, protocol: 'UDP' }),
    ])
    expect(make).toHaveBeenCalledTimes(1)
    expect([a.via, b.via]).toEqual(['upnp', 'upnp'])
    expect([...stub.mappings.keys()].sort()).toEqual(['UDP 40021', 'UDP 40022'])
    await mapper.close()
    expect(stub.mappings.size).toBe(0)
  })

  it("probe the router once (via: 'auto')", async () => {
    const mapper = new PortMapper({ watchAnnouncements: false, cleanupOnExit: false })
    const maps = [mapper.map({ internalPort: 40031, protocol: 'UDP' }), mapper.map({ internalPort: 40032, protocol: 'UDP' })]
    // Nothing before the probe waits for I/O: both calls have reached it by now.
    await new Promise((resolve) => setImmediate(resolve))
    // The probe's UPnP device (the stub) becomes the gateway. Every probe is answered, so
    // that the mapper can be closed however many there were.
    for (const p of probes) p.resolve(reportOf(['upnp'], stub.device()))
    const [a, b] = await Promise.all(maps)
    expect([a!.via, b!.via]).toEqual(['upnp', 'upnp'])
    expect([...stub.mappings.keys()].sort()).toEqual(['UDP 40031', 'UDP 40032'])
    await mapper.close()
    expect(stub.mappings.size).toBe(0)
    expect(probes.length).toBe(1)
  })
})
