// Helpers for tests and demos that run inside the network lab (see lab.sh): constants,
// the "am I in the lab?" guard, reference-client (upnpc) wrappers, router control,
// traffic from the WAN side, and the fake gateway's controller.
// Everything here targets lab namespaces only; it runs as root inside unl-client.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { FakeMapping, FakeRequest, Scenario, ScenarioResult } from '../fake-gateway/types.js'

export type { Device, FakeMapping, FakeRequest, Scenario, ScenarioResult } from '../fake-gateway/types.js'

export type LabHost = 'client' | 'client2' | 'router' | 'wan' | 'fake' | 'zoo'

/** Namespace prefix (lab.sh's UNL_PREFIX): lets a bench lab and a test lab coexist. */
const PREFIX = process.env.UNL_PREFIX ?? 'unl'

export const LAB = {
  ns: {
    client: `${PREFIX}-client`,
    client2: `${PREFIX}-client2`,
    router: `${PREFIX}-router`,
    wan: `${PREFIX}-wan`,
    fake: `${PREFIX}-fake`,
    /** The router zoo's replays (__test__/zoo/), on the LAN with their captured addresses. */
    zoo: `${PREFIX}-zoo`,
  } satisfies Record<LabHost, string>,
  routerLan: '192.168.77.1',
  client: '192.168.77.10',
  client2: '192.168.77.11',
  fakeA: '192.168.77.20',
  fakeB: '192.168.77.21',
  routerWan: '10.99.0.1',
  wanHost: '10.99.0.2',
  /** What miniupnpd reports as its external address (lab.sh DEFAULT_EXT_IP). */
  extIp: '11.22.33.44',
  /** IPv6 ULAs on the LAN (present only when the lab printed "IPv6 ULA fd77::/64"). */
  ip6: { routerLan: 'fd77::1', client: 'fd77::10', client2: 'fd77::11', fakeA: 'fd77::20', fakeB: 'fd77::21' },
  /** IPv6 on the WAN side (`lab.sh ipv6-wan on`): documentation prefix, and the router's
   *  link-local address the client's IPv6 default route points at. */
  wan6: { router: '2001:db8:99::1', host: '2001:db8:99::2', routerLinkLocal: 'fe80::1' },
  /** A global prefix on the LAN beside the ULA (`lab.sh ipv6-wan global`): documentation
   *  addresses, routed to the LAN by the WAN host through the router. */
  global6: { routerLan: '2001:db8:77::1', client: '2001:db8:77::10' },
  /** miniupnpd's IPv6 pinhole service (WANIPv6FirewallControl:1), reached over IPv6. */
  routerFirewallControlUrl6: 'http://[fd77::1]:5000/ctl/IP6FCtl',
  routerFirewallServiceType: 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1',
  /** miniupnpd 2.3.1: IGD v2 root description, WANIPConnection:2 control. */
  routerDescUrl: 'http://192.168.77.1:5000/rootDesc.xml',
  routerDescUrl6: 'http://[fd77::1]:5000/rootDesc.xml',
  routerControlUrl: 'http://192.168.77.1:5000/ctl/IPConn',
  routerServiceType: 'urn:schemas-upnp-org:service:WANIPConnection:2',
  routerUuid: '756e6c2d-6c61-4200-8000-00000000cafe',
  natpmpPort: 5351,
  /** coturn in unl-wan (STUN only, RFC 5780): primary and other address, both ports 3478/3479;
   *  and the carrier NAT's outside address when `lab.sh cgnat on`. */
  stun: { primary: '11.22.33.1', other: '11.22.33.2', cgnOutside: '11.33.0.1' },
  fakeControlUrl: 'http://192.168.77.20:5999',
} as const

/** Repo root: UPNP_LAB_ROOT, else the nearest ancestor of cwd holding __test__/lab/lab.sh. */
export function repoRoot(): string {
  if (process.env.UPNP_LAB_ROOT) return process.env.UPNP_LAB_ROOT
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, '__test__/lab/lab.sh'))) return dir
    if (path.dirname(dir) === dir) throw new Error('lab: cannot find the repo root (set UPNP_LAB_ROOT)')
  }
}
const labSh = () => path.join(repoRoot(), '__test__/lab/lab.sh')

/** miniupnpd's process id (lab.sh writes its pid file under .lab/PREFIX/). */
export function routerPid(): string {
  return fs.readFileSync(path.join(repoRoot(), '.lab', PREFIX, 'miniupnpd.pid'), 'utf8').trim()
}

/** True when this process runs in one of the given lab namespaces. */
export function inLab(namespaces: string[] = [LAB.ns.client, LAB.ns.client2]): boolean {
  let self: fs.Stats
  try {
    self = fs.statSync('/proc/self/ns/net')
  } catch {
    return false
  }
  return namespaces.some((ns) => {
    try {
      const st = fs.statSync(`/run/netns/${ns}`)
      return st.ino === self.ino && st.dev === self.dev
    } catch {
      return false
    }
  })
}

/** Guard for every test or demo that discovers or probes: refuse to run outside the lab
 *  client namespaces, so no SSDP ever leaves from the host's own network. */
export function assertInLab(namespaces?: string[]): void {
  if (!inLab(namespaces)) {
    throw new Error('not inside the UPnP lab client namespace; run through `bash __test__/lab/lab.sh test` (as root)')
  }
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command in a lab namespace; never throws for a non-zero exit. */
export function runIn(host: LabHost, cmd: string, args: string[] = [], timeoutMs = 15000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', LAB.ns[host], cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
}

// ---------------------------------------------------------------- upnpc (reference client)

export interface UpnpcMapping {
  protocol: 'UDP' | 'TCP'
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
  remoteHost: string
  leaseDuration?: number
}

export interface UpnpcResult {
  ok: boolean
  /** UPnP error code when upnpc reported one (e.g. 718, 606). */
  code?: number
  output: string
}

interface UpnpcTarget {
  ns?: LabHost
  url?: string
}

/** `upnpc -u URL -l`: every mapping the gateway lists (no discovery). */
export async function upnpcList(opts: UpnpcTarget = {}): Promise<UpnpcMapping[]> {
  const r = await runIn(opts.ns ?? 'client', 'upnpc', ['-u', opts.url ?? LAB.routerDescUrl, '-l'])
  const out: UpnpcMapping[] = []
  // " 0 UDP  7777->192.168.77.10:7777  'desc' '' 604800"
  const re = /^\s*\d+\s+(UDP|TCP)\s+(\d+)->([^:\s]+):(\d+)\s+'(.*)'\s+'([^']*)'\s+(\d+)\s*$/
  for (const line of r.stdout.split('\n')) {
    const m = re.exec(line)
    if (!m) continue
    out.push({
      protocol: m[1] as 'UDP' | 'TCP',
      externalPort: Number(m[2]),
      internalClient: m[3]!,
      internalPort: Number(m[4]),
      description: m[5]!,
      remoteHost: m[6]!,
      leaseDuration: Number(m[7]),
    })
  }
  if (r.code !== 0 && out.length === 0 && !/i protocol exPort/.test(r.stdout)) {
    throw new Error(`upnpc -l failed (${r.code}): ${r.stdout}${r.stderr}`)
  }
  return out
}

const upnpcResult = (r: RunResult, success: RegExp): UpnpcResult => {
  const output = r.stdout + r.stderr
  // "AddPortMapping(...) failed with code 718 (...)" / "UPNP_DeletePortMapping() returned : 714"
  const m = /failed with code\s*:?\s*(\d+)/.exec(output) ?? /DeletePortMapping\(\) returned\s*:\s*(-?\d+)/.exec(output)
  const code = m && m[1] !== '0' ? Number(m[1]) : undefined
  return { ok: success.test(output) && code === undefined, ...(code !== undefined ? { code } : {}), output }
}

/** `upnpc -e DESC -a CLIENT IPORT EPORT PROTO [DURATION]`, by default from unl-client for itself. */
export async function upnpcAdd(
  opts: UpnpcTarget & {
    internalClient?: string
    internalPort: number
    externalPort?: number
    protocol: 'UDP' | 'TCP'
    duration?: number
    description?: string
  },
): Promise<UpnpcResult> {
  const ns = opts.ns ?? 'client'
  const client = opts.internalClient ?? (ns === 'client2' ? LAB.client2 : LAB.client)
  const args = [
    '-u',
    opts.url ?? LAB.routerDescUrl,
    '-e',
    opts.description ?? 'lab',
    '-a',
    client,
    String(opts.internalPort),
    String(opts.externalPort ?? opts.internalPort),
    opts.protocol,
  ]
  if (opts.duration !== undefined) args.push(String(opts.duration))
  return upnpcResult(await runIn(ns, 'upnpc', args), /is redirected to internal/)
}

/** `upnpc -6 -u URL6 ARGS...` from unl-client: the reference client's pinhole commands (-A add,
 *  -U update, -D delete, -K packets, -C working, -S firewall status) over IPv6, as miniupnpd
 *  takes them only from the pinhole's host. Its whole output, for the caller to read. */
export async function upnpcPinhole(args: string[]): Promise<string> {
  const r = await runIn('client', 'upnpc', ['-6', '-u', LAB.routerDescUrl6, ...args])
  return r.stdout + r.stderr
}

/** `upnpc -d EPORT PROTO`. */
export async function upnpcDelete(opts: UpnpcTarget & { externalPort: number; protocol: 'UDP' | 'TCP' }): Promise<UpnpcResult> {
  return upnpcResult(
    await runIn(opts.ns ?? 'client', 'upnpc', ['-u', opts.url ?? LAB.routerDescUrl, '-d', String(opts.externalPort), opts.protocol]),
    /DeletePortMapping\(\) returned\s*:\s*0\b/,
  )
}

// ---------------------------------------------------------------- router

/** Runs `lab.sh ARGS...` (the lab's own commands, from inside unl-client: we are root); its
 *  stdout, or an error with everything it printed. */
function labCtl(args: string[], timeoutMs = 20000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [labSh(), ...args], { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`lab.sh ${args.join(' ')} failed: ${stdout}${stderr}`)) : resolve(stdout),
    )
  })
}

/** lab.sh router-start/stop/reboot. */
export async function routerCtl(cmd: 'start' | 'stop' | 'reboot', extIp?: string, opts: { noUpnp?: boolean } = {}): Promise<string> {
  const args = [`router-${cmd}`]
  if (cmd === 'start' && opts.noUpnp) args.push('--no-upnp')
  if (cmd === 'start' && extIp) args.push(extIp)
  return labCtl(args)
}

/** lab.sh delay: the router's replies held `ms` on their way to the client (a userspace cable,
 *  this kernel has no netem), or the plain veth again (`off`). */
export async function delayCtl(ms: number | 'off'): Promise<string> {
  return labCtl(['delay', String(ms)], 60000)
}

/** The router's count of connections its listen queues refused since the lab came up
 *  (TcpExtListenOverflows: the accept queue was full when a handshake completed). */
export async function routerListenOverflows(): Promise<number> {
  const r = await runIn('router', 'nstat', ['-az', 'TcpExtListenOverflows'])
  const m = /^TcpExtListenOverflows\s+(\d+)/m.exec(r.stdout)
  if (r.code !== 0 || !m) throw new Error(`nstat in the router: ${r.stderr || r.stdout}`)
  return Number(m[1])
}

/** lab.sh vpn: a "VPN" on the client that takes the default route from the LAN (see lab.sh). */
export async function vpnCtl(mode: 'metric' | 'split' | 'tun' | 'off'): Promise<string> {
  return labCtl(['vpn', mode])
}

/** lab.sh ipv6-wan: IPv6 on the WAN side and an IPv6 default route for the client (opt-in);
 *  `global` also puts a global prefix on the LAN beside the ULA. */
export async function ipv6WanCtl(mode: 'on' | 'global' | 'off'): Promise<string> {
  return labCtl(['ipv6-wan', mode])
}

/** lab.sh cgnat: a carrier-grade NAT between the router and the WAN host (see lab.sh). */
export async function cgnatCtl(mode: 'on' | 'off'): Promise<string> {
  return labCtl(['cgnat', mode])
}

/** lab.sh filtering: Linux conntrack's address-and-port-dependent filtering (`strict`), or
 *  an emulated endpoint-independent-filtering NAT (`open`). */
export async function filteringCtl(mode: 'open' | 'strict'): Promise<string> {
  return labCtl(['filtering', mode])
}

/** lab.sh unforward: miniupnpd's forwarding rule for internal `port` removed behind its back
 *  (the mapping stays listed: "listed but not forwarding"). */
export async function unforwardCtl(proto: 'udp' | 'tcp', port: number): Promise<string> {
  return labCtl(['unforward', proto, String(port)])
}

/** `nft list ruleset` of the router (miniupnpd's DNAT rules live in prerouting_miniupnpd). */
export async function nftRules(): Promise<string> {
  const r = await runIn('router', 'nft', ['list', 'ruleset'])
  if (r.code !== 0) throw new Error(`nft list ruleset failed: ${r.stderr}`)
  return r.stdout
}

/** miniupnpd's IPv6 pinhole rules for `port`: its nftables backend writes them into the
 *  forward chain `miniupnpd` as `iif "wan0" th dport PORT @nh,192,128 <address> @nh,48,8
 *  <protocol> accept`. */
export async function pinholeRules(port: number): Promise<string[]> {
  return (await nftRules()).split('\n').filter((l) => l.includes(`iif "wan0" th dport ${port} @nh,192,128`))
}

/** Resolves once miniupnpd's rule for `port` is there (`present`) or gone (`!present`): its
 *  DNAT rule for an IPv4 mapping (made over UPnP, NAT-PMP or PCP alike), or its forward rule
 *  for an IPv6 pinhole. One shell loop in the router's namespace, so nothing waits for the
 *  slow cable (`lab.sh delay`): a test can abort a call the moment the router has carried it
 *  out, while its answer is still on the way. */
export async function untilRouterRule(kind: 'mapping' | 'pinhole', port: number, present: boolean, timeoutMs = 20_000): Promise<void> {
  const [chain, match] = kind === 'mapping' ? ['prerouting_miniupnpd', `dport ${port} `] : ['miniupnpd', `th dport ${port} @nh,192,128`]
  // $0 and $1: the chain and the text, passed as arguments, never spliced into the script.
  const probe = 'nft list chain inet filter "$0" | grep -qF -- "$1"'
  const loop = present ? `until ${probe}; do sleep 0.005; done` : `while ${probe}; do sleep 0.05; done`
  const r = await runIn('router', 'sh', ['-c', loop, chain, match], timeoutMs)
  if (r.code !== 0) throw new Error(`miniupnpd's ${kind} rule for ${port} never ${present ? 'appeared' : 'went'}: ${r.stderr}`)
}

// ---------------------------------------------------------------- traffic

/** The Node that runs the lab's helper processes (the WAN sender, the fake gateway): this
 *  process's own, except when the tests run under Bun or Deno (.ci/runtimes.sh), whose
 *  command lines (`-e`, `--import`) differ from Node's. */
export const HELPER_NODE = process.versions.bun || process.versions.deno ? 'node' : process.execPath

const SEND_SCRIPT = `
const [proto, host, port, payload, timeout = '3000'] = process.argv.slice(1);
if (proto === 'udp') {
  const s = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.send(payload, Number(port), host, (e) => { s.close(); if (e) { console.error(e.message); process.exit(1); } });
} else {
  const c = require('net').connect({ host, port: Number(port), timeout: Number(timeout) }, () => c.end(payload));
  c.on('timeout', () => { console.error('timeout'); process.exit(1); });
  c.on('error', (e) => { console.error(e.message); process.exit(1); });
  c.on('close', () => process.exit(0));
}`

/** Sends one UDP datagram / one TCP connection with `payload` from unl-wan to the router's
 *  WAN address (what an Internet peer would do to reach a mapped port), or to `host` (over
 *  IPv6, a LAN host's own address: what reaches it through a pinhole). */
export async function sendFromWan(
  proto: 'udp' | 'tcp',
  port: number,
  payload: string,
  host: string = LAB.routerWan,
  connectTimeoutMs = 3000,
): Promise<void> {
  const r = await runIn('wan', HELPER_NODE, ['-e', SEND_SCRIPT, proto, host, String(port), payload, String(connectTimeoutMs)])
  if (r.code !== 0) throw new Error(`sendFromWan ${proto} ${host}:${port}: ${r.stderr.trim()}`)
}

/** Listens in this process (the client namespace) for one UDP datagram or TCP stream on
 *  `port`; resolves null on timeout. Call before sendFromWan and await afterwards. */
export function receiveOnce(
  proto: 'udp' | 'tcp',
  port: number,
  timeoutMs = 3000,
  family: 'ipv4' | 'ipv6' = 'ipv4',
): { ready: Promise<void>; result: Promise<{ payload: string; from: string } | null> } {
  let ready!: () => void
  let failed!: (e: Error) => void
  const readyP = new Promise<void>((res, rej) => {
    ready = res
    failed = rej
  })
  const result = new Promise<{ payload: string; from: string } | null>((resolve, reject) => {
    const fail = (e: Error) => {
      failed(e)
      reject(e)
    }
    if (proto === 'udp') {
      const s = dgram.createSocket(family === 'ipv6' ? 'udp6' : 'udp4')
      const timer = setTimeout(() => {
        s.close()
        resolve(null)
      }, timeoutMs)
      s.on('error', (e) => {
        clearTimeout(timer)
        fail(e)
      })
      s.on('message', (m, r) => {
        clearTimeout(timer)
        s.close()
        resolve({ payload: m.toString(), from: r.address })
      })
      s.bind(port, ready)
    } else {
      const srv = net.createServer((c) => {
        let data = ''
        c.on('data', (d) => {
          data += d.toString()
        })
        c.on('end', () => {
          clearTimeout(timer)
          srv.close()
          resolve({ payload: data, from: (c.remoteAddress ?? '').replace(/^::ffff:/, '') })
        })
      })
      const timer = setTimeout(() => {
        srv.close()
        resolve(null)
      }, timeoutMs)
      srv.on('error', (e) => {
        clearTimeout(timer)
        fail(e)
      })
      srv.listen(port, ready)
    }
  })
  // A bind failure rejects `ready`; keep `result` from also surfacing as an unhandled rejection.
  result.catch(() => undefined)
  return { ready: readyP, result }
}

/** Whether one `proto` packet sent from the WAN host to `host`:`port` reaches this process
 *  (the client) on `port`, within `timeoutMs`. */
export async function arrivesFromWan(proto: 'udp' | 'tcp', host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  const rx = receiveOnce(proto, port, timeoutMs, host.includes(':') ? 'ipv6' : 'ipv4')
  await rx.ready
  const payload = `${proto} to ${port} at ${Date.now()}`
  // A TCP connection the firewall drops times out on the sending side: that is "not through"
  // (and the sender gives up then, so no retransmitted SYN arrives in a later check).
  await sendFromWan(proto, port, payload, host, timeoutMs).catch(() => undefined)
  const got = await rx.result
  return got?.payload === payload
}

// ---------------------------------------------------------------- fake gateway

export interface FakeGateway {
  url: string
  setScenario(s: Scenario): Promise<ScenarioResult>
  requests(): Promise<FakeRequest[]>
  mappings(): Promise<Record<string, FakeMapping[]>>
  reset(): Promise<void>
  stop(): Promise<void>
}

async function api<T>(method: 'GET' | 'POST', p: string, body?: unknown): Promise<T> {
  const res = await fetch(LAB.fakeControlUrl + p, {
    method,
    headers: body ? { 'content-type': 'application/json' } : undefined,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10000),
  })
  const v = (await res.json()) as T & { ok?: boolean; error?: string }
  if (!res.ok) throw new Error(`fake gateway ${p}: ${v.error ?? res.status}`)
  return v
}

const healthy = () =>
  api<{ ok: boolean }>('GET', '/health').then(
    () => true,
    () => false,
  )

/** Starts the fake gateway in unl-fake (or reuses one already running) and returns its
 *  controller. Its default scenario has no devices, so it disturbs nothing. */
export async function startFakeGateway(): Promise<FakeGateway> {
  let child: ChildProcess | undefined
  if (!(await healthy())) {
    const root = repoRoot()
    // `ip netns exec` execs node itself, so `child` is the gateway process (no wrapper).
    child = spawn(
      'ip',
      ['netns', 'exec', LAB.ns.fake, HELPER_NODE, '--import', 'tsx', path.join(root, '__test__/fake-gateway/fake-gateway.ts')],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
    )
    let exited = false
    child.once('exit', () => {
      exited = true
    })
    const deadline = Date.now() + 15000
    while (!(await healthy())) {
      if (exited || Date.now() > deadline) {
        child.kill()
        throw new Error('fake gateway did not start')
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const gw: FakeGateway = {
    url: LAB.fakeControlUrl,
    setScenario: (s) => api<ScenarioResult>('POST', '/scenario', s),
    requests: () => api<FakeRequest[]>('GET', '/requests'),
    mappings: () => api<Record<string, FakeMapping[]>>('GET', '/mappings'),
    reset: async () => {
      await api('POST', '/reset')
    },
    stop: async () => {
      if (!child) return gw.reset() // not ours: leave it running, but empty
      const c = child
      child = undefined
      if (c.exitCode !== null) return
      await new Promise<void>((r) => {
        c.once('exit', () => r())
        c.kill('SIGTERM')
      })
    },
  }
  return gw
}
