// The fake gateway as a vitest fixture: started once for the calling file (or describe
// block), emptied before each test, emptied and stopped after the last, so no test sees
// another's scenario and the fake's process never outlives the file.
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { type Device, type FakeGateway, LAB, startFakeGateway } from './lab.ts'

/** The fake's usual device: one IGDv2 at LAB.fakeA:6001, with whatever a test changes. */
export function fakeDevice(overrides: Partial<Device> = {}): Device {
  return { id: 'a', ip: LAB.fakeA, port: 6001, description: { kind: 'igd-v2' }, ...overrides }
}

export function useFakeGateway(): FakeGateway {
  let started: FakeGateway | undefined
  const fake = (): FakeGateway => {
    if (!started) throw new Error('the fake gateway is used outside its tests')
    return started
  }
  beforeAll(async () => {
    started = await startFakeGateway()
  })
  beforeEach(async () => {
    await fake().reset()
  })
  afterAll(async () => {
    await started?.reset()
    await started?.stop()
  })
  return {
    get url() {
      return fake().url
    },
    setScenario: (scenario) => fake().setScenario(scenario),
    requests: () => fake().requests(),
    mappings: () => fake().mappings(),
    reset: () => fake().reset(),
    stop: () => fake().stop(),
  }
}
