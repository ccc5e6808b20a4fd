// A PortMapper makes each protocol's backend once (for UPnP without a given device: one
// gateway search), however many map() calls need it at the same moment; a make that fails is
// tried again by the next call, and one caller's AbortSignal never fails another's wait.
// FamilyBase (lib/portmapper/family.ts) with a make() the test settles, and a PortMapper against
// the loopback SOAP stub (__test__/helpers/soap-stub.ts). Nothing leaves this machine.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { PortMapper } from '../../index.ts'
import type { Backend } from '../../lib/portmapper/backends/backend.ts'
import { FamilyBase } from '../../lib/portmapper/family.ts'
import { Ipv4Backends } from '../../lib/portmapper/ipv4.ts'
import type { ResolvedOptions } from '../../lib/portmapper/options.ts'
import type { Via } from '../../lib/types.ts'
import { type SoapStub, startSoapStub } from '../helpers/soap-stub.ts'

interface Make {
  via: Via
  signal: AbortSignal | undefined
  resolve: (backend: Backend) => void
  reject: (error: unknown) => void
}

/** A family whose make() waits until the test settles it. */
class Family extends FamilyBase {
  readonly makes: Make[] = []

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

describe('FamilyBase.backend(): one make per protocol', () => {
  it('two calls at once share one make, and later calls reuse its backend', async () => {
    const family = new Family()
    const first = family.backend('upnp')
    const second = family.backend('upnp')
    expect(family.makes.length).toBe(1)
    const made = backendNamed('upnp')
    family.makes[0]!.resolve(made)
    expect(await first).toBe(made)
    expect(await second).toBe(made)
    expect(await family.backend('upnp')).toBe(made)
    expect(family.makes.length).toBe(1)
    // Another protocol is its own make.
    void family.backend('pcp')
    expect(family.makes.map((m) => m.via)).toEqual(['upnp', 'pcp'])
  })

  it('a make that fails fails every caller waiting for it, and the next call makes again', async () => {
    const family = new Family()
    const first = family.backend('upnp')
    const second = family.backend('upnp')
    const failure = new Error('no UPnP gateway answered')
    family.makes[0]!.reject(failure)
    await expect(first).rejects.toBe(failure)
    await expect(second).rejects.toBe(failure)
    const third = family.backend('upnp')
    expect(family.makes.length).toBe(2)
    const made = backendNamed('upnp')
    family.makes[1]!.resolve(made)
    expect(await third).toBe(made)
  })

  it("one caller's abort ends its own wait only: the make goes on for the other caller", async () => {
    const family = new Family()
    const controller = new AbortController()
    const first = family.backend('upnp', controller.signal)
    const second = family.backend('upnp')
    expect(family.makes.length).toBe(1)
    const reason = new Error('the first caller gave up')
    controller.abort(reason)
    await expect(first).rejects.toBe(reason)
    expect(family.makes[0]!.signal?.aborted).toBe(false)
    const made = backendNamed('upnp')
    family.makes[0]!.resolve(made)
    expect(await second).toBe(made)
    expect(family.makes.length).toBe(1)
  })

  it('when every waiting caller aborted, the make is stopped and the next call makes again', async () => {
    const family = new Family()
    const a = new AbortController()
    const b = new AbortController()
    const first = family.backend('upnp', a.signal)
    const second = family.backend('upnp', b.signal)
    a.abort()
    await expect(first).rejects.toMatchObject({ name: 'AbortError' })
    expect(family.makes[0]!.signal?.aborted).toBe(false) // the second still waits
    const reason = new Error('the second gave up too')
    b.abort(reason)
    await expect(second).rejects.toBe(reason)
    expect(family.makes[0]!.signal?.aborted).toBe(true)
    expect(family.makes[0]!.signal?.reason).toBe(reason)
    // The stopped make settling late (with a backend, or with its abort) is not kept.
    family.makes[0]!.resolve(backendNamed('late'))
    await new Promise((resolve) => setImmediate(resolve))
    const third = family.backend('upnp')
    expect(family.makes.length).toBe(2)
    const made = backendNamed('upnp')
    family.makes[1]!.resolve(made)
    expect(await third).toBe(made)
    expect(await family.backend('upnp')).toBe(made)
  })

  it('an already aborted signal rejects without starting a make', async () => {
    const family = new Family()
    const reason = new Error('gone')
    await expect(family.backend('upnp', AbortSignal.abort(reason))).rejects.toBe(reason)
    expect(family.makes.length).toBe(0)
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
})
