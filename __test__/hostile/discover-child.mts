// One call in a fresh process, reported as one JSON line on stdout with this process's own
// peak memory before and after, and the CPU it still burns in the second after the call
// resolved (work that outlives a deadline). Run by hostile.ts `runChild`, inside the lab (an ES module, for top-level await).
//   { mode: 'discover', timeout, untilGateway?, ipv6? }
//   { mode: 'list', controlUrl, serviceType, max? }
import { assertInLab } from '../lab/lab.ts'
import { IGDStatus, UPNP, UPNPDevice } from '../../index.ts'

assertInLab()
const args = JSON.parse(process.argv[2] ?? '{}') as {
  mode: 'discover' | 'list'
  timeout?: number
  untilGateway?: boolean
  ipv6?: boolean
  controlUrl?: string
  serviceType?: string
  max?: number
}

const maxRssBeforeKiB = process.resourceUsage().maxRSS
const started = performance.now()
let report: Record<string, unknown>
if (args.mode === 'list') {
  const device = new UPNPDevice()
  device.igdStatus = IGDStatus.OK
  device.igdControlUrl = args.controlUrl ?? ''
  device.igdServiceType = args.serviceType ?? 'urn:schemas-upnp-org:service:WANIPConnection:1'
  device.requestTimeout = 20_000
  const entries = await device.listPortMappings(args.max ?? 1024)
  report = {
    result: device.lastError?.result ?? 0,
    devices: [],
    gateway: '',
    value: { entries: entries.length, bytes: JSON.stringify(entries).length, error: device.lastError?.description ?? '' },
  }
} else {
  const upnp = new UPNP()
  upnp.discoverIpv6 = Boolean(args.ipv6)
  const result = await upnp.discover({ timeout: args.timeout ?? 2000, untilGateway: Boolean(args.untilGateway) })
  const devices = Array.from({ length: upnp.getDeviceCount() }, (_, i) => upnp.getDevice(i)!)
  report = {
    result,
    devices: devices.map((d) => ({
      descriptionUrl: d.descriptionUrl,
      igdStatus: d.igdStatus,
      friendlyName: d.friendlyName,
      lastError: d.lastError?.description ?? '',
    })),
    gateway: upnp.getGateway()?.descriptionUrl ?? '',
  }
}
const elapsedMs = performance.now() - started
const maxRssAfterKiB = process.resourceUsage().maxRSS
const cpu = process.cpuUsage()
await new Promise((r) => setTimeout(r, 1000))
const after = process.cpuUsage(cpu)
// Exit only once the line is written: a pipe may take a big report in several writes.
process.stdout.write(
  `${JSON.stringify({ ...report, elapsedMs, maxRssBeforeKiB, maxRssAfterKiB, cpuAfterMs: (after.user + after.system) / 1000 })}\n`,
  () => process.exit(0),
)
