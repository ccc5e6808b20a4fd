/**
 * `checkNat()`: the public address and the NAT's behaviour as STUN servers see them, against
 * the router's reported external address (from the cached protocol probe). The same answer
 * `probe({ stun })` gives in its `nat` field, without the rest of the probe's report.
 */
import { clientError, UPNPResult } from '../errors.ts'
import { probe } from '../probe.ts'
import { badSignal, checkedOptions, notText, renamedOption } from '../validate.ts'
import { checkServers, type NatView } from './nat-view.ts'

/** What `checkNat()` asks, and whom. */
export interface CheckNatOptions {
  /** STUN servers, `host[:port]` (port 3478 by default); asked in order until one tells the
   *  mapping and filtering behaviour (which needs an RFC 5780 server, with two addresses).
   *  Required: no server is built in. */
  stun: string[]
  /** The NAT-PMP/PCP server (the router) to ask for its external address (default: the
   *  default route's gateway). */
  router?: string
  /**
   * The old name of `router`.
   * @deprecated Use `router`; this name goes in 0.2 (docs/api.md, "Deprecated names").
   */
  gateway?: string
  /** Cancels: the promise rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** Asks the STUN servers and the router, and says how their views of this host compare. */
export async function checkNat(options: CheckNatOptions): Promise<NatView> {
  const given = checkedOptions(options, ['stun', 'router', 'gateway', 'signal'], 'options', UPNPResult.INVALID_PARAM)
  const { stun, signal } = given
  const renamed = renamedOption(given, 'router', 'gateway')
  const router = renamed.value
  const bad = checkServers(stun) ?? renamed.problem ?? (router === undefined ? null : notText(renamed.name, router)) ?? badSignal(signal)
  if (bad) throw clientError(UPNPResult.INVALID_PARAM, bad)
  const report = await probe({
    stun: [...(stun as string[])],
    fresh: true,
    ...(router ? { router: router as string } : {}),
    ...(signal ? { signal: signal as AbortSignal } : {}),
  })
  return report.nat as NatView
}
