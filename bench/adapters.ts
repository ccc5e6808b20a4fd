// The three JavaScript libraries behind one small interface, each used the way its README
// shows. Imported only by bench/worker.ts, which runs inside the lab client namespace; the
// peers discover as soon as they are created, so nothing here is touched before the guard.
import { LAB } from '../__test__/lab/lab.ts'
import { UPNP, UPNPResult } from '../index.ts'

export type LibName = 'upnp-native' | 'nat-port-mapper' | 'nat-api'
/** upnp-native only: `godot` = discover() with Godot's defaults (waits the whole 2000 ms),
 *  `until` = discover({ untilGateway: true }). The peers have one way to find a gateway. */
export type DiscoverMode = 'godot' | 'until'

export const DESCRIPTION = 'bench'

/** An operation's outcome: undefined when the library reported success, else its error. */
export type OpError = string | undefined

export interface Client {
  /** Maps external `port` (UDP) to the same port on this host. */
  add(port: number): Promise<OpError>
  /** Deletes that mapping, the way the library offers it. */
  del(port: number): Promise<OpError>
  externalIp(): Promise<string>
  close(): Promise<void>
}

export interface Opened {
  client: Client | null
  /** ms from the call that starts discovery to a gateway object (before any check). */
  gatewayMs: number
  /** ms to a gateway known to work: connected and its external address read. */
  usableMs: number
  ok: boolean
  detail: string
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 200)

async function openNative(mode: DiscoverMode): Promise<Opened> {
  const upnp = new UPNP()
  const t0 = performance.now()
  const result = mode === 'godot' ? await upnp.discover() : await upnp.discover({ untilGateway: true })
  const t1 = performance.now()
  const gateway = upnp.getGateway()
  const ok = result === UPNPResult.SUCCESS && gateway !== null && gateway.externalAddress === LAB.extIp
  const client: Client = {
    // Godot's defaults: duration 0 (permanent), internal port = external port.
    async add(port) {
      const r = await upnp.addPortMapping(port, port, DESCRIPTION, 'UDP', 0)
      return r === UPNPResult.SUCCESS ? undefined : `${UPNPResult[r]}: ${upnp.lastError?.description ?? ''}`
    },
    async del(port) {
      const r = await upnp.deletePortMapping(port, 'UDP')
      return r === UPNPResult.SUCCESS ? undefined : `${UPNPResult[r]}: ${upnp.lastError?.description ?? ''}`
    },
    externalIp: () => upnp.queryExternalAddress(),
    async close() {},
  }
  return {
    client: ok ? client : null,
    gatewayMs: t1 - t0,
    usableMs: t1 - t0,
    ok,
    detail: `${UPNPResult[result]}, ${upnp.getDeviceCount()} device(s), external ${gateway?.externalAddress ?? '-'}`,
  }
}

async function openNatPortMapper(): Promise<Opened> {
  const { upnpNat } = await import('@achingbrain/nat-port-mapper')
  type Gateway = Awaited<ReturnType<ReturnType<typeof upnpNat>['getGateway']>>
  const t0 = performance.now()
  const nat = upnpNat({ description: DESCRIPTION })
  let gateway: Gateway | undefined
  // It has no default timeout: without a signal it would search forever.
  // It also yields the router's IPv6 side (an IPv6 firewall-pinhole service); the mappings
  // compared here are IPv4, so the first IPv4 gateway is the usable one.
  for await (const found of nat.findGateways({ signal: AbortSignal.timeout(5000) })) {
    if (found.family !== 'IPv4') continue
    gateway = found
    break
  }
  const t1 = performance.now()
  if (!gateway) return { client: null, gatewayMs: Number.NaN, usableMs: Number.NaN, ok: false, detail: 'no gateway in 5 s' }
  let ip = ''
  try {
    ip = await gateway.externalIp()
  } catch (e) {
    ip = `error: ${errorText(e)}`
  }
  const t2 = performance.now()
  const gw = gateway
  const client: Client = {
    async add(port) {
      try {
        // Same 3 s cap per call as upnp-native's default requestTimeout (it has none of its own).
        const mapping = await gw.map(port, LAB.client, {
          protocol: 'udp',
          externalPort: port,
          description: DESCRIPTION,
          signal: AbortSignal.timeout(3000),
        })
        return mapping.externalPort === port ? undefined : `mapped to ${mapping.externalPort} instead of ${port}`
      } catch (e) {
        return errorText(e)
      }
    },
    async del(port) {
      // unmap() takes the *internal* port and swallows every error (it resolves either way).
      try {
        await gw.unmap(port, { signal: AbortSignal.timeout(3000) })
        return undefined
      } catch (e) {
        return errorText(e)
      }
    },
    externalIp: () => gw.externalIp(),
    close: () => gw.stop(),
  }
  return { client, gatewayMs: t1 - t0, usableMs: t2 - t0, ok: ip === LAB.extIp, detail: `gateway ${gw.host}:${gw.port}, external ${ip}` }
}

async function openNatApi(): Promise<Opened> {
  const { default: NatAPI } = await import('@silentbot1/nat-api')
  const t0 = performance.now()
  // NAT-PMP off: this bench compares UPnP (with PMP on, it maps through NAT-PMP first).
  const nat = new NatAPI({ enablePMP: false, description: DESCRIPTION })
  // It has no discovery step of its own: every call searches. The first external IP is
  // its "time to a usable gateway".
  const ip = await nat.externalIp()
  const t1 = performance.now()
  const client: Client = {
    async add(port) {
      try {
        return (await nat.map({ publicPort: port, privatePort: port, protocol: 'UDP', description: DESCRIPTION }))
          ? undefined
          : 'map() returned false'
      } catch (e) {
        return errorText(e)
      }
    },
    async del(port) {
      try {
        return (await nat.unmap({ publicPort: port, privatePort: port, protocol: 'UDP' })) ? undefined : 'unmap() returned false'
      } catch (e) {
        return errorText(e)
      }
    },
    externalIp: () => nat.externalIp(),
    close: async () => {
      await nat.destroy()
    },
  }
  return { client, gatewayMs: t1 - t0, usableMs: t1 - t0, ok: ip === LAB.extIp, detail: `external ${ip || '""'}` }
}

export function open(lib: LibName, mode: DiscoverMode = 'until'): Promise<Opened> {
  switch (lib) {
    case 'upnp-native':
      return openNative(mode)
    case 'nat-port-mapper':
      return openNatPortMapper()
    case 'nat-api':
      return openNatApi()
  }
}
