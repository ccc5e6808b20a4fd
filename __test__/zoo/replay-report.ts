// `lab.sh replay REPORT [--save ID] [COMMAND...]`: the router of a `doctor --report` file played
// back in the lab (from-report.ts makes it a zoo device; the zoo's replay serves it; miniupnpd
// is stopped meanwhile so that it is the only UPnP gateway), then COMMAND runs in the client
// namespace (default: the CLI's doctor with the report's own options). With --save ID the
// device is written to __test__/zoo/devices/ID: a zoo device, and zoo.test.ts's regression
// test, from then on. Exits with COMMAND's exit code. The NAT-PMP/PCP answers are replayed too
// (pxp-replay.ts), and the client's default route leads to the replay when the report's led to
// its router; a report without a UPnP gateway (`doctor --protocol pcp|pmp`) replays as a
// NAT-PMP/PCP router only, which is no zoo device (no --save).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { classifyAddress } from '../../index.ts'
import { assertInLab, repoRoot, routerCtl } from '../lab/lab.ts'
import { DEVICES_DIR, loadReplay, speaksUpnp } from './device-spec.ts'
import { deviceFromReport, doctorOptions, type Report, reportHost } from './from-report.ts'
import { ZooHost } from './zoo-lab.ts'

/** The doctor as the report ran it. */
function doctorAsReported(report: Report): string[] {
  return [process.execPath, path.join(repoRoot(), 'dist/cli/main.js'), 'doctor', ...doctorOptions(report)]
}

function run(command: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' })
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    child.once('error', (error) => {
      console.error(`replay: ${error.message}`)
      resolve(127)
    })
  })
}

async function main(): Promise<number> {
  assertInLab()
  const args = process.argv.slice(2)
  const file = args.shift()
  const save = args[0] === '--save' ? (args.shift(), args.shift()) : undefined
  if (!file || (save !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(save))) {
    console.error('usage: lab.sh replay REPORT.json [--save DEVICE-ID] [COMMAND...]')
    return 2
  }
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report
  reportHost(report) // a report with nothing to replay says so before anything is written
  if (save && !report.doctor.gateways.length) {
    console.error('replay: the report found no UPnP gateway: it replays (leave out --save), but is no zoo device')
    return 2
  }
  const dir = save ? path.join(DEVICES_DIR, save) : fs.mkdtempSync(path.join(os.tmpdir(), 'upnp-native-replay-'))
  deviceFromReport(report, dir, classifyAddress, save ? file : undefined)
  const spec = loadReplay(dir)
  const what = speaksUpnp(spec) ? `${spec.name} (${spec.firmware || 'no SERVER header'}) at ${spec.location}` : spec.name
  const pxp = spec.pxp ? `, NAT-PMP/PCP answers replayed${spec.pxp.defaultRoute ? " (the client's default route leads there)" : ''}` : ''
  console.log(`replay: ${what}${pxp}, from ${file}`)
  const command = args.length ? args : doctorAsReported(report)
  await routerCtl('stop')
  const zoo = await ZooHost.start()
  try {
    const device = await zoo.load(spec)
    try {
      return await run(command)
    } finally {
      await device.stop()
    }
  } finally {
    await zoo.close()
    await routerCtl('start')
    if (!save) fs.rmSync(dir, { recursive: true, force: true })
  }
}

main()
  .catch((error: unknown) => {
    console.error(`replay: ${error instanceof Error ? error.message : String(error)}`)
    return 1
  })
  .then((code) => {
    process.exitCode = code
    return code
  })
