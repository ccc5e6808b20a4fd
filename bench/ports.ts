// External port ranges of the bench, shared by the orchestrator and the workers.

/** Each library maps its own external ports, so that a mapping the router creates late (an
 *  add it dequeued after the client gave up) is charged to the library that sent it:
 *  measured pairs on [base, base + 5000), warm-up on [base + 5000, base + 6000). */
export const PORT_BASE = { miniupnpc: 10000, 'upnp-native': 16000, 'nat-port-mapper': 22000, 'nat-api': 28000 } as const
export const WARMUP_OFFSET = 5000
const BASES = Object.entries(PORT_BASE).sort((a, b) => a[1] - b[1])

/** Which library's range an external port is in. */
export function portOwner(port: number): { lib: keyof typeof PORT_BASE; warmup: boolean } | undefined {
  for (const [lib, base] of BASES) {
    if (port >= base && port < base + WARMUP_OFFSET + 1000)
      return { lib: lib as keyof typeof PORT_BASE, warmup: port >= base + WARMUP_OFFSET }
  }
  return undefined
}
