// What proves a mapping from the outside: the DNAT rule miniupnpd wrote for it, and a real
// datagram from the WAN namespace that arrives here. Shared by every suite that maps.
import dgram from 'node:dgram'
import net from 'node:net'
import { HELPER_NODE, LAB, receiveOnce, runIn, sendFromWan } from '../lab/lab.ts'

/** The DNAT rule miniupnpd adds for a mapping, whatever protocol created it (protocol as nft
 *  prints it: 0x11 UDP, 0x6 TCP). `rules` is `nftRules()`. */
export function dnatRule(rules: string, proto: 'UDP' | 'TCP', externalPort: number, internalPort: number): boolean {
  const p = proto === 'UDP' ? '0x11' : '0x6'
  return rules.split('\n').some((l) => l.includes(`@nh,72,8 ${p} th dport ${externalPort} dnat ip to ${LAB.client}:${internalPort}`))
}

/** Proves a mapping end to end: a datagram to the router's WAN address arrives here. */
export async function udpArrives(externalPort: number, internalPort: number): Promise<boolean> {
  const rx = receiveOnce('udp', internalPort)
  await rx.ready
  const payload = `via-${externalPort}-${Date.now()}`
  await sendFromWan('udp', externalPort, payload)
  return (await rx.result)?.payload === payload
}

/** Sends `n` UDP datagrams (20 ms apart) or opens `n` TCP connections at once, each with its
 *  own payload (`TAG#i`); a connection the firewall drops is given up after `timeout` ms.
 *  Exits 0 whatever arrived: the receiving side counts. */
const SEND_MANY = `
const [proto, host, port, tag, n, timeout] = process.argv.slice(1);
let left = Number(n);
const done = () => { if (--left === 0) process.exit(0); };
setTimeout(() => process.exit(0), Number(timeout) + 2000);
for (let i = 0; i < Number(n); i++) {
  const payload = tag + '#' + i;
  if (proto === 'udp') {
    const s = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
    setTimeout(() => s.send(payload, Number(port), host, () => { s.close(); done(); }), i * 20);
  } else {
    const c = require('net').connect({ host, port: Number(port), timeout: Number(timeout) }, () => c.end(payload));
    c.on('timeout', () => c.destroy());
    c.on('error', () => undefined);
    c.on('close', done);
  }
}`

/** How many of `n` UDP datagrams, or of `n` TCP connections, sent from the WAN host to
 *  `host`:`port` reach this process (the client) on `port`: the count a pinhole or a mapping
 *  is judged by (all while it is open, none after it closed). Only this call's payloads
 *  count; a TCP connection counts once its whole payload arrived. */
export async function arrivalsFromWan(proto: 'udp' | 'tcp', host: string, port: number, n = 3, timeoutMs = 1500): Promise<number> {
  const tag = `${proto}-${port}-${Date.now()}`
  const got = new Set<string>()
  const keep = (payload: string) => {
    if (payload.startsWith(`${tag}#`)) got.add(payload)
  }
  const v6 = host.includes(':')
  let close: () => void
  if (proto === 'udp') {
    const s = dgram.createSocket(v6 ? 'udp6' : 'udp4')
    s.on('message', (m) => keep(m.toString()))
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(port, resolve)
    })
    close = () => s.close()
  } else {
    const srv = net.createServer((c) => {
      let data = ''
      c.on('data', (d) => (data += d.toString()))
      c.on('end', () => keep(data))
      c.on('error', () => undefined)
    })
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(port, v6 ? '::' : '0.0.0.0', resolve)
    })
    close = () => srv.close()
  }
  try {
    const sent = await runIn(
      'wan',
      HELPER_NODE,
      ['-e', SEND_MANY, proto, host, String(port), tag, String(n), String(timeoutMs)],
      timeoutMs + 10_000,
    )
    if (sent.code !== 0) throw new Error(`arrivalsFromWan ${proto} ${host}:${port}: ${sent.stderr.trim()}`)
    // The last datagram may still be on its way through the router.
    await new Promise((r) => setTimeout(r, 200))
    return got.size
  } finally {
    close()
  }
}
