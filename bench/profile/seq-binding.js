// Sequential add+delete pairs straight on the generated binding (no index.ts), for profiling:
//   ip netns exec bench-client node bench/profile/seq-binding.js [PAIRS] [ROUNDS]
//   ADDON=/path/to/a/symbol/build.node ... (default: the repo's release addon)
// Lab only: it talks to the lab router's control URL.
const fs = require('node:fs')
const path = require('node:path')
// Same guard as the tests: only inside the lab's client namespace ($UNL_PREFIX-client).
const self = fs.statSync('/proc/self/ns/net')
const lab = ['client', 'client2'].some((h) => {
  try {
    const st = fs.statSync(`/run/netns/${process.env.UNL_PREFIX || 'unl'}-${h}`)
    return st.ino === self.ino && st.dev === self.dev
  } catch {
    return false
  }
})
if (!lab) {
  console.error('not inside the UPnP lab client namespace (UNL_PREFIX?)')
  process.exit(3)
}
const native = require(process.env.ADDON || path.join(__dirname, '../../lib/native/binding.js'))
// One prepared service for the run, as UPNPDevice keeps one per device.
const service = new native.SoapService({
  controlUrl: 'http://192.168.77.1:5000/ctl/IPConn',
  serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2',
  timeoutMs: 3000,
})
async function main() {
  const n = Number(process.argv[2] ?? 1000)
  const rounds = Number(process.argv[3] ?? 3)
  for (let round = 0; round < rounds; round++) {
    const t = performance.now()
    for (let i = 0; i < n; i++) {
      const port = 16000 + i
      const a = await service.addPortMapping('', port, 'UDP', port, '192.168.77.10', true, 'bench', 0)
      const d = await service.deletePortMapping('', port, 'UDP')
      if (a || d) throw new Error(`failed: ${JSON.stringify([a, d])}`)
    }
    console.log('pairs/s', ((n / (performance.now() - t)) * 1000).toFixed(0))
  }
}
main()
