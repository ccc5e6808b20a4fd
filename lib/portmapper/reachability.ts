/**
 * Is a held mapping really forwarded? The router's word is not proof (some keep listing and
 * renewing a mapping that no longer forwards; tailscale#21208): an app with its own way to be
 * dialled from outside (libp2p AutoNAT, a game's lobby server) passes `verify`, and PortMapper
 * asks it after each check. A mapping it says is not reachable is repaired the one way that
 * helps such routers, a hard refresh (deleted and added again), and asked once more; if it
 * still fails the mapper says so (`unreachable`) and does not try again until `verify` has
 * said yes once: one repair per episode, never a loop.
 */
import { asUpnpError, type UPNPError } from '../errors.ts'
import { VERIFY_HOOK_TIMEOUT_MS } from '../defaults.ts'
import type { Backend, Granted, MappingParams } from './backends/backend.ts'
import type { Mapping } from './mapping.ts'

/** The app's check: resolves true when `mapping` was reached from outside. */
export type VerifyReachable = (mapping: Mapping, signal: AbortSignal) => Promise<boolean>

/** What the `unreachable` event carries. */
export interface UnreachableEvidence {
  /** Why the mapping is taken as not reachable. */
  reason: string
  /** A hard refresh (delete, then add again) was tried before giving up. */
  hardRefreshed: boolean
  /** `verify`'s answers, first and after the repair (an Error when it failed or timed out). */
  answers: (boolean | UPNPError)[]
}

/** `verify`'s answer within `VERIFY_HOOK_TIMEOUT_MS`; its failure as an error, never thrown. */
export async function askVerify(verify: VerifyReachable, mapping: Mapping): Promise<boolean | UPNPError> {
  const signal = AbortSignal.timeout(VERIFY_HOOK_TIMEOUT_MS)
  try {
    const answer = await Promise.race([
      verify(mapping, signal),
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error(`verify gave no answer in ${VERIFY_HOOK_TIMEOUT_MS} ms`))),
      ),
    ])
    return answer === true
  } catch (error) {
    return asUpnpError(error)
  }
}

/** Deletes the mapping and adds it again on the same external port (when free). */
export async function hardRefresh(backend: Backend, params: MappingParams, granted: Granted): Promise<Granted> {
  await backend.remove(params, granted)
  return backend.add(params, granted.externalPort)
}
