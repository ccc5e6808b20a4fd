// How a discovered device is classified: every gateway condition the fake gateway can stage
// (miniupnpd stopped, so the fake is the only one answering).
import { devices, discover, external, fakeIgd, add, type Scenario } from '../scenario.ts'

const alone = (id: string, title: string, device: Parameters<typeof fakeIgd>[2], extra = [add(7777), external]): Scenario => ({
  id,
  title,
  env: { router: 'down', fake: [fakeIgd('a', 5001, device)] },
  steps: [discover(1000), devices, ...extra],
})

export const gatewayScenarios: Scenario[] = [
  alone('igd-v1', 'an IGD v1 with WANIPConnection:1', {}),
  alone('ppp-only', 'an IGD whose only connection service is WANPPPConnection:1', { description: { kind: 'igd-ppp' } }),
  alone('disconnected', 'GetStatusInfo says Disconnected', { connectionStatus: 'Disconnected' }),
  alone('double-nat', 'connected, external address 10.0.0.2 (double NAT)', { externalIp: '10.0.0.2' }),
  alone('cgnat', 'connected, external address 100.64.1.2 (carrier-grade NAT)', { externalIp: '100.64.1.2' }),
  alone('description-404', 'the description answers 404', { description: { status: 404 } }, []),
  alone('description-empty', 'the description is an empty 200', { description: { empty: true } }, []),
  alone('description-not-xml', 'the description is not a device description', { description: { body: '<html>router</html>' } }, []),
  alone('igd-without-connection', 'an IGD without any connection service', { description: { kind: 'igd-no-control' } }, []),
  alone('description-huge', 'a 1 MB description', { description: { hugeBytes: 1_000_000 } }, []),
  alone('description-slow', 'the description takes 1.5 s, longer than the 1 s search', { description: { delayMs: 1500 } }, []),
  alone('status-fails', 'GetStatusInfo answers 500', { soap: { GetStatusInfo: { status: 500 } } }, []),
  alone('external-address-fails', 'GetExternalIPAddress answers a 501 fault', {
    soap: { GetExternalIPAddress: { fault: { code: 501, description: 'Action Failed' } } },
  }),
]
