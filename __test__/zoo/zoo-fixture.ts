// The zoo's replay process as a vitest fixture: miniupnpd stopped and the replay process started
// for the calling file (or describe block), both undone after its last test, so that the
// replayed device is the only UPnP gateway on the LAN meanwhile.
import { afterAll, beforeAll } from 'vitest'
import { routerCtl } from '../lab/lab.ts'
import { ZooHost } from './zoo-lab.ts'

/** Registers the hooks; the returned function gives the running host inside the tests. */
export function useZoo(): () => ZooHost {
  let host: ZooHost | undefined
  beforeAll(async () => {
    await routerCtl('stop')
    host = await ZooHost.start()
  }, 60_000)
  afterAll(async () => {
    await host?.close()
    await routerCtl('start')
  }, 60_000)
  return () => {
    if (!host) throw new Error('the zoo is used outside its tests')
    return host
  }
}
