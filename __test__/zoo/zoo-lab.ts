// Puts one zoo device into the lab: a namespace "<prefix>-zoo" on the LAN bridge, holding only
// the address the router had in its capture (so its search reply, LOCATION, URLBase and absolute
// control URLs stay byte for byte), a host route to it from the client, and the replay device
// running there. One device at a time: many captures share 192.168.1.1.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { LAB, repoRoot } from '../lab/lab.ts'
import { type DeviceSpec, locationParts } from './device-spec.ts'

const PREFIX = process.env.UNL_PREFIX ?? 'unl'
export const ZOO_NS = `${PREFIX}-zoo`
const LAN = '192.168.77.0/24'

function ip(args: string[], allowFailure = false): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _out, stderr) =>
      err && !allowFailure ? reject(new Error(`ip ${args.join(' ')}: ${stderr.trim()}`)) : resolve(),
    )
  })
}

/** Creates the zoo namespace and its port on the LAN bridge (again if a crashed run left one). */
export async function zooNamespaceUp(): Promise<void> {
  await zooNamespaceDown()
  await ip(['netns', 'add', ZOO_NS])
  await ip(['-n', ZOO_NS, 'link', 'set', 'lo', 'up'])
  await ip(['-n', LAB.ns.router, 'link', 'add', 'vzoo', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', ZOO_NS])
  await ip(['-n', LAB.ns.router, 'link', 'set', 'vzoo', 'master', 'br0', 'up'])
  await ip(['-n', ZOO_NS, 'link', 'set', 'lan0', 'up'])
}

export async function zooNamespaceDown(): Promise<void> {
  await ip(['netns', 'del', ZOO_NS], true)
}

export interface RunningDevice {
  spec: DeviceSpec
  address: string
  /** Every request the device received, header names as sent. */
  requests(): Promise<{ method: string; path: string; headers: string[]; body: string }[]>
  mappings(): Promise<{ protocol: string; externalPort: number; internalClient: string; description: string }[]>
  stop(): Promise<void>
}

/** Gives the zoo namespace the device's address and starts its replay. */
export async function startDevice(spec: DeviceSpec): Promise<RunningDevice> {
  const { address } = locationParts(spec)
  await ip(['-n', ZOO_NS, 'addr', 'flush', 'dev', 'lan0'])
  await ip(['-n', ZOO_NS, 'addr', 'add', `${address}/32`, 'dev', 'lan0'])
  await ip(['-n', ZOO_NS, 'route', 'add', LAN, 'dev', 'lan0', 'src', address])
  await ip(['-n', LAB.ns.client, 'route', 'replace', `${address}/32`, 'dev', 'lan0'])
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', ZOO_NS, process.execPath, '--import', 'tsx', path.join(repoRoot(), '__test__/zoo/replay-device.ts'), spec.id],
    { cwd: repoRoot(), stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = readline.createInterface({ input: child.stdout! })
  const waiting: ((line: string) => void)[] = []
  lines.on('line', (line) => waiting.shift()?.(line))
  const next = (timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replay ${spec.id}: no answer`)), timeoutMs)
      waiting.push((line) => {
        clearTimeout(timer)
        resolve(line)
      })
    })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = await Promise.race([next(), exited.then(() => 'exited')])
  if (!ready.startsWith('{"ready":true')) throw new Error(`replay ${spec.id} did not start: ${ready}`)
  const ask = async (what: string) => {
    const answer = next()
    child.stdin!.write(`${what}\n`)
    return JSON.parse(await answer)
  }
  return {
    spec,
    address,
    requests: async () => (await ask('requests')).requests,
    mappings: async () => (await ask('mappings')).mappings,
    stop: async () => {
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
      await ip(['-n', LAB.ns.client, 'route', 'del', `${address}/32`], true)
    },
  }
}
