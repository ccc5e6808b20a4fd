// Test-side helpers for the hostile-device suite: the hostile device's controller (started
// in the fake namespace, emptied before each test, stopped after the file), SSDP texts as an
// attacker writes them, a counter of the requests miniupnpd receives, and a child process
// that discovers and reports its own peak memory.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { LAB, repoRoot, runIn } from '../lab/lab.ts'
import type { HostileLog, HostileScenario, NotifyBurst } from './types.ts'

export type { HostileScenario, RawResponse } from './types.ts'

const CONTROL = 'http://192.168.77.21:5998'

async function api<T>(method: 'GET' | 'POST', p: string, body?: unknown): Promise<T> {
  const res = await fetch(CONTROL + p, {
    method,
    headers: body ? { 'content-type': 'application/json' } : undefined,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(20_000),
  })
  const v = (await res.json()) as T & { error?: string }
  if (!res.ok) throw new Error(`hostile device ${p}: ${v.error ?? res.status}`)
  return v
}

export interface HostileDevice {
  script(s: HostileScenario): Promise<void>
  notify(burst: NotifyBurst): Promise<number>
  log(): Promise<HostileLog>
}

/** The hostile device as a vitest fixture for the calling file. */
export function useHostileDevice(): HostileDevice {
  let child: ChildProcess | undefined
  const healthy = () =>
    api('GET', '/health').then(
      () => true,
      () => false,
    )
  beforeAll(async () => {
    if (await healthy()) return
    child = spawn(
      'ip',
      ['netns', 'exec', LAB.ns.fake, process.execPath, '--import', 'tsx', path.join(repoRoot(), '__test__/hostile/hostile-device.ts')],
      { cwd: repoRoot(), stdio: ['ignore', 'inherit', 'inherit'] },
    )
    const deadline = Date.now() + 15_000
    while (!(await healthy())) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('hostile device did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
  })
  beforeEach(async () => {
    await api('POST', '/scenario', {})
  })
  afterAll(async () => {
    await api('POST', '/scenario', {}).catch(() => undefined)
    const c = child
    if (c && c.exitCode === null)
      await new Promise<void>((r) => {
        c.once('exit', () => r())
        c.kill('SIGTERM')
      })
  })
  return {
    script: async (s) => {
      await api('POST', '/scenario', s)
    },
    notify: async (b) => (await api<{ sent: number }>('POST', '/notify', b)).sent,
    log: () => api<HostileLog>('GET', '/log'),
  }
}

/** A search reply as devices send it; `headers` replace or add lines. */
export function searchReply(location: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    'CACHE-CONTROL': 'max-age=120',
    ST: 'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
    USN: 'uuid:00000000-0000-0000-0000-00000000beef::urn:schemas-upnp-org:device:InternetGatewayDevice:1',
    EXT: '',
    SERVER: 'Linux/5.10 UPnP/1.1 hostile/1.0',
    LOCATION: location,
    ...headers,
  }
  return `HTTP/1.1 200 OK\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`
}

/** An `ssdp:alive` NOTIFY for the lab router's description, with the given boot id text. */
export function aliveNotify(bootId: string, location: string = LAB.routerDescUrl): string {
  return (
    `NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=60\r\nLOCATION: ${location}\r\n` +
    `SERVER: Debian UPnP/1.1 MiniUPnPd/2.3.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n` +
    `USN: uuid:${LAB.routerUuid}::upnp:rootdevice\r\nBOOTID.UPNP.ORG: ${bootId}\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n`
  )
}

/** An IGD description whose connection service is at /ctl (a template to poison). */
export function igdDescription(fields: { friendlyName?: string; controlURL?: string; prolog?: string; extra?: string } = {}): string {
  return (
    `<?xml version="1.0"?>${fields.prolog ?? ''}<root xmlns="urn:schemas-upnp-org:device-1-0"><device>` +
    `<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>` +
    `<friendlyName>${fields.friendlyName ?? 'hostile'}</friendlyName><manufacturer>hostile</manufacturer><modelName>hostile</modelName>${fields.extra ?? ''}` +
    `<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><controlURL>/cmn</controlURL></service>` +
    `<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>${fields.controlURL ?? '/ctl'}</controlURL></service>` +
    `</serviceList></device></root>`
  )
}

/** A SOAP success reply with the given output values (written raw: the caller poisons them). */
export function soapOk(action: string, values: Record<string, string>): string {
  return (
    `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` +
    `<u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">` +
    Object.entries(values)
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('') +
    `</u:${action}Response></s:Body></s:Envelope>`
  )
}

/** Routes that make the hostile device a working IGD at /ctl with `externalIp`. */
export function workingIgd(externalIp = '11.22.33.99'): Record<string, { body: string }> {
  return {
    'POST /ctl#GetStatusInfo': {
      body: soapOk('GetStatusInfo', { NewConnectionStatus: 'Connected', NewLastConnectionError: 'ERROR_NONE', NewUptime: '5' }),
    },
    'POST /ctl#GetExternalIPAddress': { body: soapOk('GetExternalIPAddress', { NewExternalIPAddress: externalIp }) },
  }
}

/** Counts HTTP requests miniupnpd's HTTP port receives from `source` (nftables counter in
 *  the router's namespace): what a storm of triggers really costs the router. A request is a
 *  segment whose payload starts with "POST" or "GET ", not a connection: the library opens a
 *  spare connection ahead of the next request, which may close unused. */
export async function routerHttpCounter(source: string = LAB.client): Promise<{ read(): Promise<number>; remove(): Promise<void> }> {
  const table = 'hostile_count'
  await runIn('router', 'nft', ['delete', 'table', 'inet', table])
  const rules =
    `table inet ${table} { chain input { type filter hook input priority -10; policy accept; ` +
    `ip saddr ${source} tcp dport 5000 @ih,0,32 { 0x504f5354, 0x47455420 } counter; }; }`
  const added = await runIn('router', 'nft', [rules])
  if (added.code !== 0) throw new Error(`nft: ${added.stderr}`)
  return {
    read: async () => {
      const r = await runIn('router', 'nft', ['list', 'table', 'inet', table])
      const m = /counter packets (\d+)/.exec(r.stdout)
      if (!m) throw new Error(`no counter in: ${r.stdout}`)
      return Number(m[1])
    },
    remove: async () => {
      await runIn('router', 'nft', ['delete', 'table', 'inet', table])
    },
  }
}

export interface ChildReport {
  result: number
  elapsedMs: number
  devices: Array<{ descriptionUrl: string; igdStatus: number; friendlyName: string; lastError: string }>
  gateway: string
  /** Peak resident memory of the child before the work and at the end, in KiB. */
  maxRssBeforeKiB: number
  maxRssAfterKiB: number
  /** CPU time the child spent in the second after the call resolved, in ms. */
  cpuAfterMs: number
  value?: unknown
}

/** Runs `discover-child.ts` (a fresh process, so its peak memory is this work's alone). */
export function runChild(args: Record<string, unknown>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot(), '__test__/hostile/discover-child.mts'), JSON.stringify(args)],
      { cwd: repoRoot(), timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() ?? ''
        try {
          resolve(JSON.parse(line) as ChildReport)
        } catch {
          reject(new Error(`child failed: ${err?.message ?? ''}\n${stderr}\n${stdout.slice(-2000)}`))
        }
      },
    )
  })
}
