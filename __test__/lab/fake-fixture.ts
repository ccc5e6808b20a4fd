// The fake gateway as a vitest fixture: started once for the calling file (or describe
// block), emptied before each test, emptied and stopped after the last, so no test sees
// another's scenario and the fake's process never outlives the file.
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { type FakeGateway, startFakeGateway } from './lab.ts'

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
