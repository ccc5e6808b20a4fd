/**
 * PortMapper's IPv4 side: port mappings on the router's external address, over PCP, NAT-PMP
 * or UPnP, best first as the probe found them (`probe.ts`). The probe's UPnP device, when it
 * found one, is the gateway; a full discovery (`discoverTimeout`) runs only when UPnP is
 * needed and the short probe missed it.
 */
import type { UPNPDevice } from '../godot/device.ts'
import { probe, type ProbeReport } from '../probe.ts'
import type { Via } from '../types.ts'
import type { Backend } from './backends/backend.ts'
import { pxpBackend } from './backends/pxp.ts'
import { UpnpBackend } from './backends/upnp.ts'
import { FamilyBase, type FamilyContext } from './family.ts'
import { SharedPending } from './shared-pending.ts'

export class Ipv4Backends extends FamilyBase {
  readonly #probing = new SharedPending<ProbeReport>()

  constructor(context: FamilyContext) {
    super(context, 'mappings', context.options.discoverIpv6)
  }

  async candidates(signal?: AbortSignal): Promise<Via[]> {
    const { via } = this.context.options
    if (via !== 'auto') return [via]
    // probe() caches its report only once it ends: map() calls at once share the one running.
    const report = await this.#probing.join((stop) => this.#probe(stop), signal)
    // UPnP stays the last resort even when the short probe missed it: a full discovery
    // (discoverTimeout) may still find a slow router.
    return report.available.includes('upnp') ? report.available : [...report.available, 'upnp']
  }

  /** Probes the router; the UPnP device it found is the gateway unless one is in use. */
  async #probe(signal: AbortSignal): Promise<ProbeReport> {
    const { router, discoverMulticastIf, probeBudget, requestTimeout } = this.context.options
    const report = await probe({ router, multicastIf: discoverMulticastIf, budgetMs: probeBudget, signal })
    if (!this.gateway && report.upnp.device) {
      report.upnp.device.requestTimeout = requestTimeout
      this.adopt(report.upnp.device)
    }
    return report
  }

  protected async make(via: Via, signal?: AbortSignal): Promise<Backend> {
    const { options, serial } = this.context
    if (via !== 'upnp') return pxpBackend(via, { router: options.router, budgetMs: options.pxpBudget, serial })
    await this.ensureGateway(signal)
    return new UpnpBackend({
      portRange: options.portRange,
      maxAttempts: options.maxAttempts,
      gateway: () => this.gateway as UPNPDevice,
      rediscover: this.rediscover,
      serial,
    })
  }
}
