// What proves a mapping from the outside: the DNAT rule miniupnpd wrote for it, and a real
// datagram from the WAN namespace that arrives here. Shared by every suite that maps.
import { LAB, receiveOnce, sendFromWan } from '../lab/lab.ts'

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
