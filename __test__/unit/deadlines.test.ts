// Every call settles within its requestTimeout however long it queued: 10,000 calls at once
// against a router that accepts connections and never answers (a loopback listener, no
// router needed). The per-device connection limit queues all but a few; each call's time from
// the call to its settling is measured and the slowest reported. The margin asserted is
// generous for a loaded machine and still below what the bug gave (a call handed a connection
// at its deadline got a second full timeout: 2 x requestTimeout).
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IGDStatus, UPNPDevice, UPNPResult } from '../../index.ts'

const CALLS = 10_000
const REQUEST_TIMEOUT_MS = 1000

let server: net.Server
let url = ''
const held: net.Socket[] = []

beforeAll(async () => {
  server = net.createServer((socket) => {
    held.push(socket) // read by no one, answered never
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/ctl`
})

afterAll(async () => {
  for (const socket of held) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
})

function silentGateway(): UPNPDevice {
  const d = new UPNPDevice()
  d.igdStatus = IGDStatus.OK
  d.igdControlUrl = url
  d.igdServiceType = 'urn:schemas-upnp-org:service:WANIPConnection:1'
  d.igdOurAddr = '127.0.0.1'
  d.requestTimeout = REQUEST_TIMEOUT_MS
  return d
}

describe('deadlines', () => {
  it(`${CALLS} calls against a silent router all settle within requestTimeout, however long they queued`, async () => {
    const device = silentGateway()
    const took: number[] = []
    const results: UPNPResult[] = []
    const one = async (i: number): Promise<void> => {
      const started = performance.now()
      // Adds (whose given-up requests the core undoes) and reads, as an app's calls would be.
      const port = 20000 + (i % 40000)
      const result =
        i % 2 === 0
          ? await device.addPortMapping(port, port, 'deadline test', 'UDP', 60)
          : await device.queryExternalAddress().then(() => device.lastError?.result ?? UPNPResult.SUCCESS)
      took.push(performance.now() - started)
      results.push(result)
    }
    const calls = Array.from({ length: CALLS }, (_, i) => one(i))
    await Promise.all(calls)
    took.sort((a, b) => a - b)
    const at = (q: number) => Math.round(took[Math.min(took.length - 1, Math.floor(q * took.length))] ?? NaN)
    const slowest = Math.round(took.at(-1) ?? NaN)
    console.log(
      `${CALLS} calls, requestTimeout ${REQUEST_TIMEOUT_MS} ms: settled after median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${slowest} ms`,
    )
    expect(results.every((r) => r === UPNPResult.HTTP_ERROR)).toBe(true)
    expect(slowest).toBeLessThan(REQUEST_TIMEOUT_MS * 1.5)
  })
})
