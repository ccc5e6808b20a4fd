// Puts zoo devices into the lab, one at a time: the replay process runs for the whole test file
// in the lab's zoo namespace (lab.sh puts it on the LAN bridge without an address); each device
// gets only the address its router had in the capture (so its search reply, LOCATION, URLBase
// and absolute control URLs stay byte for byte) and a host route to it from the client. One
// device at a time: many captures share 192.168.1.1. A replay that answers NAT-PMP/PCP as a
// report's router did gets the client's default route too when the report's default route led
// to that router: that is where the doctor and PortMapper send NAT-PMP/PCP without --gateway.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { LAB, repoRoot } from '../lab/lab.ts'
import { type DeviceSpec, replayAddress, type ReplaySpec } from './device-spec.ts'

const LAN = '192.168.77.0/24'

function ip(args: string[], allowFailure = false): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _out, stderr) =>
      err && !allowFailure ? reject(new Error(`ip ${args.join(' ')}: ${stderr.trim()}`)) : resolve(),
    )
  })
}

/** One request a replay received. */
export interface ReplayRequest {
  method: string
  path: string
  /** The head exactly as received, request line included, without its blank line. */
  head: string
  /** Header lines as received (names keep their case). */
  headers: string[]
  body: string
  port: number
}

export interface ReplayMapping {
  protocol: string
  externalPort: number
  internalClient: string
  internalPort: number
  description: string
}

export interface RunningDevice<S extends ReplaySpec = DeviceSpec> {
  spec: S
  address: string
  /** Every request the device received since it was loaded. */
  requests(): Promise<ReplayRequest[]>
  /** NAT-PMP/PCP requests its responder received since it was loaded (pxp-replay.ts). */
  pxpRequests(): Promise<number>
  mappings(): Promise<ReplayMapping[]>
  /** Stops replaying it and takes its address away. */
  stop(): Promise<void>
}

/** The replay process in the zoo namespace; devices are loaded into it one after another. */
export class ZooHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly ask: (command: string) => Promise<any>,
  ) {}

  static async start(): Promise<ZooHost> {
    const script = path.join(repoRoot(), '__test__/zoo/replay-device.ts')
    const child = spawn('ip', ['netns', 'exec', LAB.ns.zoo, process.execPath, '--import', 'tsx', script], {
      cwd: repoRoot(),
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const waiting: ((line: string) => void)[] = []
    readline.createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.(line))
    const exited = new Promise<string>((resolve) => child.once('exit', (code) => resolve(`exited with ${code}`)))
    const next = () =>
      Promise.race([
        new Promise<string>((resolve) => waiting.push(resolve)),
        exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 10 s'), 10_000).unref()),
      ])
    const hello = await next()
    if (!hello.startsWith('{"host":true')) throw new Error(`zoo replay did not start: ${hello}`)
    const ask = async (command: string) => {
      const answer = next()
      child.stdin!.write(`${command}\n`)
      const line = await answer
      if (!line.startsWith('{')) throw new Error(`zoo replay, ${command}: ${line}`)
      return JSON.parse(line)
    }
    return new ZooHost(child, ask)
  }

  /** Gives the zoo namespace the device's address and replays it there. */
  async load<S extends ReplaySpec>(spec: S): Promise<RunningDevice<S>> {
    const address = replayAddress(spec)
    const defaultRoute = spec.pxp?.defaultRoute === true
    await ip(['-n', LAB.ns.zoo, 'addr', 'flush', 'dev', 'lan0'])
    await ip(['-n', LAB.ns.zoo, 'addr', 'add', `${address}/32`, 'dev', 'lan0'])
    await ip(['-n', LAB.ns.zoo, 'route', 'add', LAN, 'dev', 'lan0', 'src', address])
    await ip(['-n', LAB.ns.client, 'route', 'replace', `${address}/32`, 'dev', 'lan0'])
    const ready = await this.ask(`load ${spec.id}`)
    if (!ready.ready) throw new Error(`replay ${spec.id} did not start: ${JSON.stringify(ready)}`)
    if (defaultRoute) await ip(['-n', LAB.ns.client, 'route', 'replace', 'default', 'via', address, 'dev', 'lan0', 'onlink'])
    return {
      spec,
      address,
      requests: async () => (await this.ask('requests')).requests,
      pxpRequests: async () => (await this.ask('requests')).pxpRequests,
      mappings: async () => (await this.ask('mappings')).mappings,
      stop: async () => {
        await this.ask('unload')
        // Back to the lab's own default route (lab.sh's, via the router).
        if (defaultRoute) await ip(['-n', LAB.ns.client, 'route', 'replace', 'default', 'via', LAB.routerLan, 'dev', 'lan0'])
        await ip(['-n', LAB.ns.client, 'route', 'del', `${address}/32`], true)
        await ip(['-n', LAB.ns.zoo, 'addr', 'flush', 'dev', 'lan0'], true)
      },
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stdin!.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
}
