// The lab as a scenario needs it before each side runs, and what was really done to the
// routers afterwards: miniupnpd's table (read with upnpc -l), the fake gateway's tables and
// the state-changing SOAP requests it received (with their arguments).
import { execFile } from 'node:child_process'
import { soapArgs } from '../fake-gateway/soap-args.ts'
import { promisify } from 'node:util'
import {
  type Device,
  LAB,
  type FakeGateway,
  type FakeMapping,
  routerCtl,
  startFakeGateway,
  upnpcAdd,
  upnpcDelete,
  upnpcList,
  type UpnpcMapping,
} from '../lab/lab.ts'

export type RouterState = 'up' | 'down' | 'no-upnp'

export interface Environment {
  /** miniupnpd: serving UPnP (default), stopped, or NAT-PMP/PCP only. */
  router?: RouterState
  /** The fake gateway's devices (none: it answers nothing). */
  fake?: Device[]
  /** Mappings another LAN host (client2, 192.168.77.11) holds on miniupnpd beforehand. */
  held?: Array<{ port: number; protocol: 'UDP' | 'TCP' }>
  /** This client's IPv6 address on the LAN instead of fd77::10 (for the duration). */
  clientAddress6?: string
}

/** One AddPortMapping/DeletePortMapping as the fake gateway received it. */
export interface SoapCall {
  device: string
  action: string
  soapAction: string
  args: Record<string, string>
}

export interface Observed {
  /** miniupnpd's table (null when it does not serve UPnP). */
  routerTable: UpnpcMapping[] | null
  fakeTables: Record<string, FakeMapping[]>
  soapCalls: SoapCall[]
}

const STATE_CHANGING = new Set(['AddPortMapping', 'DeletePortMapping'])

const run = promisify(execFile)

/** Replaces this namespace's LAN IPv6 address (the runner lives in the client namespace). */
async function setClientAddress6(from: string, to: string): Promise<void> {
  await run('ip', ['-6', 'addr', 'del', `${from}/64`, 'dev', 'lan0'])
  await run('ip', ['-6', 'addr', 'add', `${to}/64`, 'dev', 'lan0', 'nodad'])
}

export class Lab {
  private router: RouterState = 'up'
  private clientAddress6: string = LAB.ip6.client
  private constructor(private readonly fake: FakeGateway) {}

  static async open(): Promise<Lab> {
    return new Lab(await startFakeGateway())
  }

  async close(): Promise<void> {
    await this.setClientAddress6(LAB.ip6.client)
    await this.clearRouterTable()
    await this.setRouter('up')
    await this.fake.reset()
    await this.fake.stop()
  }

  /** Brings the lab into the state `env` asks for, with empty tables and a fresh log. */
  async prepare(env: Environment): Promise<void> {
    await this.setClientAddress6(env.clientAddress6 ?? LAB.ip6.client)
    await this.setRouter(env.router ?? 'up')
    await this.clearRouterTable()
    const set = await this.fake.setScenario({ devices: env.fake ?? [] })
    if (!set.ok) throw new Error(`fake gateway: ${set.error}`)
    for (const h of env.held ?? []) {
      const r = await upnpcAdd({ ns: 'client2', internalPort: h.port, protocol: h.protocol, description: 'held by client2' })
      if (!r.ok) throw new Error(`client2 could not map ${h.protocol} ${h.port}: ${r.output}`)
    }
  }

  async observe(): Promise<Observed> {
    const requests = await this.fake.requests()
    return {
      routerTable: this.router === 'up' ? await upnpcList() : null,
      fakeTables: await this.fake.mappings(),
      soapCalls: requests
        .filter((r) => r.kind === 'http' && r.action && STATE_CHANGING.has(r.action))
        .map((r) => ({
          device: r.device ?? '',
          action: r.action!,
          soapAction: (r.headers.soapaction ?? '').replace(/^"|"$/g, ''),
          args: soapArgs(r.body),
        })),
    }
  }

  private async setClientAddress6(address: string): Promise<void> {
    if (address === this.clientAddress6) return
    await setClientAddress6(this.clientAddress6, address)
    this.clientAddress6 = address
  }

  private async setRouter(state: RouterState): Promise<void> {
    if (state === this.router) return
    if (this.router !== 'down') await routerCtl('stop')
    if (state !== 'down') await routerCtl('start', undefined, { noUpnp: state === 'no-upnp' })
    this.router = state
  }

  /** Deletes every mapping on miniupnpd, each from the host that owns it (secure mode). */
  private async clearRouterTable(): Promise<void> {
    if (this.router !== 'up') return
    for (const m of await upnpcList()) {
      const ns = m.internalClient === '192.168.77.11' ? 'client2' : 'client'
      const r = await upnpcDelete({ ns, externalPort: m.externalPort, protocol: m.protocol })
      if (!r.ok) throw new Error(`could not delete ${m.protocol} ${m.externalPort}: ${r.output}`)
    }
  }
}
