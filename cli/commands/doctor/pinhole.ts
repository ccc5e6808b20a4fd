/**
 * doctor and IPv6: whether inbound IPv6 can be opened (every run, as information), and with
 * --ipv6 a test pinhole in place of the test mapping: this machine's IPv6 address, the
 * pinhole opened, held (the same arguments give the same id), and closed.
 */
import { DOCTOR_LEASE, DoctorRun, pickTestPort } from './checks.ts'
import { runAs } from '../../invocation.ts'
import { ipv6Inbound, ipv6InboundText, pinholeDevice } from '../../ipv6.ts'
import { UPNPResult } from '../../../lib/errors.ts'
import { explainPinholeFailure } from '../../../lib/explain-pinholes.ts'
import { codeText } from '../../../lib/explain.ts'
import type { UPNPDevice } from '../../../lib/godot/device.ts'
import type { Protocol } from '../../../lib/types.ts'

/** The remote port the test pinhole is limited to (anything but 0, "any"): the discard port. */
const DOCTOR_PINHOLE_REMOTE_PORT = 9

/** The 'ipv6' check: information, except with --ipv6 where a blocked firewall is the problem. */
export async function checkIpv6Inbound(run: DoctorRun): Promise<void> {
  const found = run.found
  const device = found ? (pinholeDevice(found, run.g) ?? found.gateway) : null
  const inbound = await ipv6Inbound(device)
  run.ipv6Inbound = inbound
  if (!inbound) return
  const { text, ok } = ipv6InboundText(inbound)
  if (!run.g.ipv6 || ok) {
    run.record({ id: 'ipv6', status: run.g.ipv6 ? 'pass' : 'info', summary: text })
    return
  }
  const fix = inbound.service
    ? "Allow IPv6 pinholes (sometimes 'IPv6 UPnP' or 'allow inbound IPv6') in the router's settings, or open the port there by hand."
    : `Open the port in the router's IPv6 firewall settings by hand, or try PCP: ${runAs()} map <port> --ipv6 --keep --protocol pcp --gateway <router>.`
  run.fail(
    { id: 'ipv6', summary: text, fix, ...(inbound.error ? { failure: inbound.error } : {}) },
    { code: 'ipv6-blocked', summary: `Inbound IPv6 cannot be opened here: ${text}.`, fix },
  )
}

/** doctor --ipv6, checks 3 to 6: the address to publish, then a test pinhole opened, held, closed. */
export async function doctorPinhole(run: DoctorRun, device: UPNPDevice, wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { out, ctx } = run
  const address = device.igdOurAddr
  const global = ctx.lib.classifyAddress(address) === 'public'
  run.external = address
  run.record({
    id: 'external-address',
    status: global ? 'pass' : 'warn',
    summary: global
      ? `this machine is ${address} over IPv6, a global address (no NAT: peers connect to it directly)`
      : `this machine is ${address} over IPv6, not a global address: only networks that route to it reach it`,
  })
  if (!device.firewallControlUrl) {
    run.skipRest('external-address', 'skipped: the router offers no IPv6 pinholes over UPnP')
    return
  }
  const port = wantedPort ?? pickTestPort([])
  // A router knows a pinhole by its arguments: the same ones as a pinhole the user opened
  // (`map --ipv6`: any remote host and port) would name theirs, cut it to the test's lease
  // and then close it. The test pinhole admits one remote port only, so it is always its own.
  out.spinner.start(`Test pinhole ${protocol} ${port}…`)
  const id = await device.addPinhole(port, protocol, DOCTOR_LEASE, '', DOCTOR_PINHOLE_REMOTE_PORT)
  out.spinner.stop()
  const target = `${protocol} [${address}]:${port}`
  if (id === null) {
    const failure = explainPinholeFailure(device.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'refused' })
    run.fail(
      { id: 'mapping', summary: `pinhole for ${target} refused: ${codeText(failure)}`, fix: failure.fix, failure },
      {
        code: 'mapping-refused',
        summary: `The router refused the test pinhole ${protocol} ${port} with ${codeText(failure)}: ${failure.meaning}`,
        fix: failure.fix,
      },
    )
    run.skipRest('mapping', 'skipped: no pinhole was opened')
    return
  }
  run.record({ id: 'mapping', status: 'pass', summary: `pinhole for ${target} opened (id ${id})` })
  // The service has no table to read; a router that does not hold a pinhole refuses its id.
  if ((await device.updatePinhole(id, DOCTOR_LEASE)) === UPNPResult.SUCCESS) {
    run.record({ id: 'listed', status: 'pass', summary: `the router holds it (it renews pinhole ${id})` })
  } else {
    const fix =
      "The router acknowledges pinholes it does not keep (a firmware fault): update the router's firmware or open the port by hand."
    const failure = explainPinholeFailure(device.lastError ?? { result: UPNPResult.UNKNOWN_ERROR, description: 'refused' })
    run.fail(
      { id: 'listed', summary: `the router refuses to renew pinhole ${id}: ${codeText(failure)}`, fix, failure },
      { code: 'not-listed', summary: `The router opened the test pinhole ${protocol} ${port} but does not seem to hold it.`, fix },
    )
  }
  const closed = await device.deletePinhole(id)
  if (closed === UPNPResult.SUCCESS) {
    run.record({ id: 'cleanup', status: 'pass', summary: 'test pinhole closed' })
  } else {
    const failure = explainPinholeFailure(device.lastError ?? { result: closed, description: 'refused' })
    const fix = `It ends by itself in ${DOCTOR_LEASE} s (\`${runAs()} unmap ${port} --ipv6\` would close the port's open pinhole, not this test's).`
    run.record({ id: 'cleanup', status: 'warn', summary: `could not close the test pinhole: ${codeText(failure)}`, fix, failure })
    run.problems.push({ code: 'cleanup-failed', summary: `The test pinhole ${protocol} ${port} could not be closed.`, fix })
  }
}
