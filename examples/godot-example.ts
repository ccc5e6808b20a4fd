// Godot's own UPNP example (from the class reference), line for line in upnp-native, run
// against the real router of the lab (miniupnpd), plus proof that the mapping really
// forwards: a packet sent from the WAN side arrives here.
//
//   npm run demo        (builds the addon, brings the lab up, runs this, tears it down)
//
// It refuses to run outside the lab: discovery must never reach a network that is not ours.
import { IGDStatus, UPNP, UPNPResult } from '../index.ts'
import { assertInLab, LAB, receiveOnce, sendFromWan, upnpcList } from '../__test__/lab/lab.ts'

const PORT = 7777
let failures = 0

function step(title: string): void {
  console.log(`\n== ${title}`)
}
function ok(message: string): void {
  console.log(`   ok   ${message}`)
}
function fail(message: string): void {
  failures += 1
  console.log(`   FAIL ${message}`)
}

async function proveForwarding(proto: 'udp' | 'tcp'): Promise<void> {
  const listener = receiveOnce(proto, PORT, 3000)
  await listener.ready
  const payload = `hello over ${proto} ${Date.now()}`
  await sendFromWan(proto, PORT, payload)
  const got = await listener.result
  if (got?.payload === payload)
    ok(`${proto.toUpperCase()} from ${got.from} (wan host) -> ${LAB.routerWan}:${PORT} arrived here on :${PORT}`)
  else fail(`${proto.toUpperCase()} packet to ${LAB.routerWan}:${PORT} did not arrive (${JSON.stringify(got)})`)
}

async function main(): Promise<void> {
  assertInLab()
  const upnp = new UPNP()

  step('upnp.discover()  // Godot defaults: timeout 2000 ms, ttl 2, "InternetGatewayDevice"')
  let started = performance.now()
  const discoverResult = await upnp.discover()
  console.log(`   -> ${UPNPResult[discoverResult]} in ${Math.round(performance.now() - started)} ms, ${upnp.getDeviceCount()} device(s)`)
  if (discoverResult !== UPNPResult.SUCCESS) fail(`discover: ${UPNPResult[discoverResult]}`)

  step('upnp.discover({ untilGateway: true })  // resolves as soon as a gateway is confirmed')
  started = performance.now()
  const fast = await upnp.discover({ untilGateway: true })
  console.log(`   -> ${UPNPResult[fast]} in ${Math.round(performance.now() - started)} ms`)

  step('upnp.getGateway()')
  const gateway = upnp.getGateway()
  if (!gateway || !gateway.isValidGateway()) {
    fail('no valid gateway')
    return
  }
  console.log(`   description_url  ${gateway.descriptionUrl}`)
  console.log(`   service_type     ${gateway.serviceType}`)
  console.log(`   igd_control_url  ${gateway.igdControlUrl}`)
  console.log(`   igd_service_type ${gateway.igdServiceType}`)
  console.log(`   igd_our_addr     ${gateway.igdOurAddr}`)
  console.log(`   igd_status       ${IGDStatus[gateway.igdStatus]}   (${gateway.friendlyName}, ${gateway.server})`)
  if (gateway.igdOurAddr === LAB.client) ok(`our address is the client's ${LAB.client}`)
  else fail(`igd_our_addr ${gateway.igdOurAddr} != ${LAB.client}`)

  step(`upnp.add_port_mapping(${PORT}, ${PORT}, "godot_udp"/"godot_tcp", proto, 0)`)
  for (const proto of ['UDP', 'TCP'] as const) {
    let result = await upnp.addPortMapping(PORT, PORT, `godot_${proto.toLowerCase()}`, proto, 0)
    if (result !== UPNPResult.SUCCESS) {
      // Godot's example retries without a description (some routers reject one).
      result = await upnp.addPortMapping(PORT, PORT, '', proto)
    }
    if (result === UPNPResult.SUCCESS) ok(`${proto} ${PORT} mapped`)
    else fail(`${proto} ${PORT}: ${UPNPResult[result]} ${JSON.stringify(upnp.lastError)}`)
  }

  step('upnp.query_external_address()')
  const externalIp = await upnp.queryExternalAddress()
  console.log(`   -> "${externalIp}"`)
  if (externalIp === LAB.extIp) ok("matches the router's configured external address")
  else fail(`expected ${LAB.extIp}`)

  step('cross-check with an independent client: upnpc -l')
  const listed = await upnpcList()
  for (const m of listed)
    console.log(`   ${m.protocol} ${m.externalPort} -> ${m.internalClient}:${m.internalPort} '${m.description}' lease ${m.leaseDuration}`)
  for (const proto of ['UDP', 'TCP'] as const) {
    const entry = listed.find((m) => m.protocol === proto && m.externalPort === PORT)
    if (entry?.internalClient === LAB.client && entry.internalPort === PORT) ok(`router lists ${proto} ${PORT} -> ${LAB.client}:${PORT}`)
    else fail(`router does not list ${proto} ${PORT}`)
  }

  step(`prove it forwards: a packet from the WAN host to ${LAB.routerWan}:${PORT}`)
  await proveForwarding('udp')
  await proveForwarding('tcp')

  step(`upnp.delete_port_mapping(${PORT}, "UDP") and (${PORT}, "TCP")`)
  for (const proto of ['UDP', 'TCP'] as const) {
    const result = await upnp.deletePortMapping(PORT, proto)
    if (result === UPNPResult.SUCCESS) ok(`${proto} ${PORT} deleted`)
    else fail(`${proto} delete: ${UPNPResult[result]}`)
  }
  const after = await upnpcList()
  if (after.some((m) => m.externalPort === PORT)) fail('upnpc -l still lists the mapping')
  else ok('upnpc -l: nothing left on the router')
}

main()
  .catch((error: unknown) => {
    fail(error instanceof Error ? error.message : String(error))
  })
  .finally(() => {
    console.log(failures === 0 ? '\nGodot example: all steps passed' : `\nGodot example: ${failures} step(s) failed`)
    process.exitCode = failures === 0 ? 0 : 1
  })
