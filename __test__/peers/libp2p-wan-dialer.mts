// A js-libp2p node on the lab's WAN side (run in the wan namespace by adapters-libp2p.test.ts):
// dials the multiaddr it is given (the router's WAN address and the mapped port), waits for
// identify, prints what it learned as one JSON line, and exits. It dials nothing else.
import './node20-polyfill.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { inLab, LAB } from '../lab/lab.ts'

if (!inLab([LAB.ns.wan])) throw new Error('libp2p-wan-dialer: not inside the lab wan namespace; refusing to dial')
const target = multiaddr(process.argv[2] ?? '')
const node = await createLibp2p({
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() },
})
const identified = new Promise<string[]>((resolve) => {
  node.addEventListener('peer:identify', (event) => resolve(event.detail.listenAddrs.map((a) => a.toString())))
})
const connection = await node.dial(target, { signal: AbortSignal.timeout(10_000) })
const listenAddrs = await Promise.race([identified, new Promise<string[]>((r) => setTimeout(() => r([]), 10_000))])
console.log(JSON.stringify({ remotePeer: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString(), listenAddrs }))
await node.stop()
