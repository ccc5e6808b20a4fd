// Runs every zoo device through miniupnpc's upnpc (the reference) and through upnp-native's Godot
// surface, and prints one row per device: what each found and whether a mapping round trip
// worked. Not a test (the tests are in zoo.test.ts); a quick way to see the whole zoo at once.
//   UNL_PREFIX=xx bash __test__/lab/lab.sh up && UNL_PREFIX=xx bash __test__/lab/lab.sh exec client \
//     env UNL_PREFIX=xx npx tsx __test__/zoo/survey.ts [device ids...]
import { UPNP, UPNPResult } from '../../index.ts'
import { assertInLab, LAB, routerCtl } from '../lab/lab.ts'
import { allDevices } from './device-spec.ts'
import { upnpcRoundTrip } from './upnpc.ts'
import { ZooHost } from './zoo-lab.ts'

assertInLab()

async function ours(): Promise<string> {
  const upnp = new UPNP()
  const found = await upnp.discover(2000)
  const gw = upnp.getGateway()
  if (!gw) {
    const d = upnp.getDevice(0)
    return `discover=${UPNPResult[found]} devices=${upnp.getDeviceCount()} status=${d ? d.igdStatus : '-'} ${upnp.lastError?.description ?? d?.lastError?.description ?? ''}`
  }
  const ip = await gw.queryExternalAddress()
  const add = await gw.addPortMapping(40001, 40001, 'zoo survey', 'UDP', 0)
  const addError = gw.lastError?.description ?? ''
  const del = await gw.deletePortMapping(40001, 'UDP')
  return `ok st=${gw.igdServiceType} ip=${ip} add=${UPNPResult[add]} ${add ? addError : ''} delete=${UPNPResult[del]}`
}

async function main(): Promise<void> {
  const wanted = new Set(process.argv.slice(2))
  await routerCtl('stop')
  const zoo = await ZooHost.start()
  try {
    for (const spec of allDevices().filter((d) => wanted.size === 0 || wanted.has(d.id))) {
      const device = await zoo.load(spec)
      try {
        const reference = await upnpcRoundTrip(LAB.client)
        const mine = await ours()
        console.log(`${spec.id.padEnd(24)} upnpc: ${reference.summary}\n${' '.repeat(24)} ours:  ${mine}`)
      } finally {
        await device.stop()
      }
    }
  } finally {
    await zoo.close()
    await routerCtl('start')
  }
}

void main()
