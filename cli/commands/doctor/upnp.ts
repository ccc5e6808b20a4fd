/** doctor over UPnP: discovery, connection, external address, test mapping, listed, cleanup. */
import { DOCTOR_DESCRIPTION, DOCTOR_LEASE, DoctorRun, type VerdictCode, checkExternal, pickTestPort } from './checks.ts'
import { STATUS_TEXT, arrow, duration, hostOf, igdVersion, modelText, statusName } from '../../format.ts'
import { findEverything, pxpProtocols, noGatewayError, noGatewayFix, notConnectedFix, whySelected } from '../../gateways.ts'
import { explainMapping, holderOf } from '../../refusals.ts'
import { runAs } from '../../invocation.ts'
import { doctorPinhole } from './pinhole.ts'
import { UPNPResult } from '../../../lib/errors.ts'
import { VIA_NAME, codeText, explainFailure } from '../../../lib/explain.ts'
import type { UPNPDevice } from '../../../lib/godot/device.ts'
import { type PortMappingEntry, type Protocol } from '../../../lib/types.ts'
import { shown } from '../../terminal.ts'

/** doctor over UPnP: discovery, connection, external address, test mapping, listed, cleanup. */
export async function doctorUpnp(run: DoctorRun, wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { g, out, ctx } = run
  // 1. Did any gateway answer? (NAT-PMP and PCP are asked at the same time, for `auto`.)
  const { found, probed } = await findEverything(ctx, g, 'all')
  run.found = found
  run.probed = probed
  if (!found) return
  const device = found.selected
  if (!device) {
    const e = noGatewayError(found, g)
    const code: VerdictCode = e.code === 'DISCOVERY_FAILED' ? 'discovery-failed' : 'no-gateway'
    const others = probed
      ? pxpProtocols(g)
          .filter((v) => probed[v].available)
          .map((v) => VIA_NAME[v])
      : []
    const butLease = others.length
      ? ` The router does answer ${others.join(' and ')}: programs that use ${others.length > 1 ? 'those' : 'it'} can still open ports (see \`${runAs()} doctor --protocol ${others[0] === 'PCP' ? 'pcp' : 'pmp'}\`).`
      : ''
    run.fail(
      { id: 'discovery', summary: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.failure ? { failure: e.failure } : {}) },
      {
        code,
        summary:
          (code === 'no-gateway'
            ? `No UPnP gateway answered${g.gateway ? ` at ${g.gateway}` : found.route ? `: not even the default gateway ${found.route.gateway}` : ''}.`
            : `${e.message}.`) + butLease,
        fix: e.fix ?? noGatewayFix(g, found.route),
      },
    )
    run.skipRest('discovery', 'skipped: no gateway')
    return
  }
  const others = found.devices.length > 1 ? ` (${whySelected(found, g)}; ${found.devices.length} answered)` : ''
  run.record({
    id: 'discovery',
    status: 'pass',
    summary: `UPnP ${igdVersion(device)} at ${hostOf(device.descriptionUrl)}, ${modelText(device)}${others}`,
  })

  // 2. Connected?
  if (!device.isValidGateway()) {
    const e = noGatewayError({ ...found, gateway: null, selected: device }, g)
    const notConnected = e.code === 'NOT_CONNECTED'
    run.fail(
      {
        id: 'connection',
        summary: notConnected
          ? 'the gateway is not connected to the Internet'
          : `unusable: ${STATUS_TEXT[statusName(device)] ?? statusName(device)}`,
        ...(e.fix ? { fix: e.fix } : {}),
        ...(e.failure ? { failure: e.failure } : {}),
      },
      {
        code: notConnected ? 'not-connected' : 'gateway-unusable',
        summary: notConnected
          ? `The gateway ${hostOf(device.descriptionUrl)} answered, but it is not connected to the Internet.`
          : `${e.message}.`,
        fix: e.fix ?? notConnectedFix(),
      },
    )
    run.skipRest('connection', 'skipped: the gateway cannot be used')
    return
  }
  run.record({
    id: 'connection',
    status: 'pass',
    summary: `connected to the Internet; this machine is ${device.igdOurAddr} on its network`,
  })
  // Over IPv6 there is no NAT to test: a test pinhole instead.
  if (g.ipv6) return doctorPinhole(run, device, wantedPort, protocol)

  // 3. External address: public, or another NAT upstream?
  out.spinner.start('Asking for the external address…')
  run.external = (await device.queryExternalAddress()) || device.externalAddress
  out.spinner.stop()
  checkExternal(run)
  await testMapping(run, device, wantedPort, protocol)
}

/** What the router holds on `port` now: the direct lookup, or the table for a router that
 *  does not implement it; null when nothing is mapped there (or the router cannot say). */
async function entryOf(device: UPNPDevice, port: number, protocol: Protocol): Promise<{ entry: PortMappingEntry | null; how: string }> {
  const entry = await device.getPortMapping(port, protocol)
  if (entry || device.lastError?.result === UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) return { entry, how: 'GetSpecificPortMappingEntry' }
  const listed = (await device.listPortMappings()).find((e) => e.externalPort === port && e.protocol === protocol) ?? null
  return { entry: listed, how: 'the mapping table' }
}

/** Checks 4 to 6: a test mapping accepted, listed, deleted. A diagnostic never changes what
 *  it finds: a port that is already mapped (the user's own `map`, a running app's mapping,
 *  another device's) is read and left exactly as it was, never re-added or deleted. */
async function testMapping(run: DoctorRun, device: UPNPDevice, wantedPort: number | null, protocol: Protocol): Promise<void> {
  const { out } = run
  const s = out.out
  let port = wantedPort ?? pickTestPort(await device.listPortMappings(256))
  out.spinner.start(`Test mapping ${protocol} ${port}…`)
  let existing = (await entryOf(device, port, protocol)).entry
  // A free port of our own choosing: another if the router's table missed this one.
  if (wantedPort === null) {
    for (let tries = 0; existing && tries < 8; tries++) {
      port = pickTestPort([existing])
      existing = (await entryOf(device, port, protocol)).entry
    }
  }
  out.spinner.stop()
  if (existing) return reportExisting(run, device, existing)
  const target = `${protocol} ${port} ${arrow(s)} ${device.igdOurAddr}:${port}`
  out.spinner.start(`Test mapping ${protocol} ${port}…`)
  let lease = DOCTOR_LEASE
  let result = await device.addPortMapping(port, port, DOCTOR_DESCRIPTION, protocol, lease)
  let leaseNote = ''
  if (result === UPNPResult.ONLY_PERMANENT_LEASE_SUPPORTED || result === UPNPResult.INVALID_ARGS) {
    lease = 0 // the router only does permanent mappings: the test still tells whether mapping works
    result = await device.addPortMapping(port, port, DOCTOR_DESCRIPTION, protocol, lease)
    if (result === UPNPResult.SUCCESS) leaseNote = ' (only as permanent: this router refuses leases; apps must use lease 0)'
  }
  out.spinner.stop()
  if (result !== UPNPResult.SUCCESS) {
    const failure = explainMapping(device.lastError ?? { result, description: UPNPResult[result] ?? 'refused' }, device, lease, {
      externalPort: port,
      internalPort: port,
    })
    const holder = await holderOf(device, port, protocol, failure)
    run.fail(
      { id: 'mapping', summary: `${target} refused: ${codeText(failure)}${holder}`, fix: failure.fix, failure },
      {
        code: 'mapping-refused',
        summary: `The router refused the test mapping ${protocol} ${port} with ${codeText(failure)}${holder}: ${failure.meaning}`,
        fix: failure.fix,
      },
    )
    run.skipRest('mapping', 'skipped: nothing was mapped')
    return
  }
  run.record({ id: 'mapping', status: 'pass', summary: `${target} accepted${leaseNote}` })

  out.spinner.start('Checking that the router lists it…')
  const { entry, how } = await entryOf(device, port, protocol)
  out.spinner.stop()
  const ours = entry && (entry.internalClient === device.igdOurAddr || !entry.internalClient) && entry.internalPort === port
  if (ours) {
    run.record({ id: 'listed', status: 'pass', summary: `the router lists it (${how})` })
  } else {
    const fix =
      "The router acknowledges mappings it does not keep (a firmware fault): update the router's firmware, restart it, or forward the port by hand in its settings."
    const summary = entry
      ? `the router lists ${protocol} ${port} for ${shown(entry.internalClient, 45)}:${entry.internalPort}, not this machine`
      : 'the router accepted the mapping but does not list it'
    run.fail(
      { id: 'listed', summary, fix },
      {
        code: 'not-listed',
        summary: `The router accepted the test mapping ${protocol} ${port} but ${entry ? `lists it for ${shown(entry.internalClient, 45)}` : 'does not list it'}: mappings may not really be set up.`,
        fix,
      },
    )
    // What it lists is someone else's: not ours to delete.
    if (entry)
      return run.record({ id: 'cleanup', status: 'skip', summary: `left as it is: it forwards to ${shown(entry.internalClient, 45)}` })
  }

  out.spinner.start('Deleting the test mapping…')
  const deleted = await device.deletePortMapping(port, protocol)
  out.spinner.stop()
  if (deleted === UPNPResult.SUCCESS || deleted === UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) {
    run.record({ id: 'cleanup', status: 'pass', summary: 'test mapping deleted' })
  } else {
    const failure = explainFailure(device.lastError ?? { result: deleted, description: UPNPResult[deleted] ?? 'refused' })
    const fix = `Delete it with \`${runAs()} unmap ${port}${protocol === 'TCP' ? ' --tcp' : ''}\`${lease ? ` (it also expires in ${duration(lease)})` : ''}.`
    run.record({ id: 'cleanup', status: 'warn', summary: `could not delete the test mapping: ${codeText(failure)}`, fix, failure })
    run.problems.push({ code: 'cleanup-failed', summary: `The test mapping ${protocol} ${port} could not be deleted.`, fix })
  }
}

/** --port names a port that is already mapped: its entry answers checks 4 and 5, and it is
 *  left exactly as it was (no test mapping, nothing deleted). */
function reportExisting(run: DoctorRun, device: UPNPDevice, entry: PortMappingEntry): void {
  const s = run.out.out
  const { protocol, externalPort: port } = entry
  const client = shown(entry.internalClient, 45)
  const what = `${protocol} ${port} ${arrow(s)} ${client}:${entry.internalPort}`
  const about = [
    entry.description ? `"${shown(entry.description, 60)}"` : '',
    `lease ${entry.leaseDuration ? `${duration(entry.leaseDuration)} left` : 'permanent'}`,
  ]
    .filter(Boolean)
    .join(', ')
  if (entry.internalClient === device.igdOurAddr) {
    run.record({ id: 'mapping', status: 'pass', summary: `${what} is already mapped to this machine (${about})` })
    run.record({ id: 'listed', status: 'pass', summary: 'the router lists it (GetSpecificPortMappingEntry)' })
    run.record({ id: 'cleanup', status: 'skip', summary: 'nothing to delete: the existing mapping is left as it was' })
    return
  }
  const fix = `Use another port (e.g. \`${runAs()} doctor\` picks a free one), or remove ${protocol} ${port} on ${client} or in the router's settings.`
  run.fail(
    { id: 'mapping', summary: `${what} is already mapped to another device (${about})`, fix },
    {
      code: 'port-taken',
      summary: `${protocol} ${port} already forwards to ${client}, another device: this machine cannot map it (left as it is).`,
      fix,
    },
  )
  run.skipRest('mapping', 'skipped: the port belongs to another device')
}
