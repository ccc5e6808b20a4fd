/**
 * `PortMapper.prune()`: deletes this app's leftovers from the router's table (UPnP; NAT-PMP and
 * PCP keep no table and their leases end on their own). An entry is pruned only when it is
 * this machine's (it forwards to one of this machine's addresses), carries the owner's
 * description, is not held by this mapper, and, with `olderThan`, shows from its remaining
 * lease that it was last added or renewed at least that long ago. Another machine's entry is
 * never touched, whatever its description.
 */
import { LIST_MAX_ENTRIES } from '../defaults.ts'
import { clientError, UPNPError, UPNPResult } from '../errors.ts'
import type { UPNPDevice } from '../godot/device.ts'
import type { PortMappingEntry } from '../types.ts'
import { badSignal, checkedOptions, isIntegerIn, MAX_UINT32, notText, show } from '../validate.ts'
import type { Serial } from './backends/backend.ts'
import { isOwnAddress } from './entry-owner.ts'

/** Options of `PortMapper.prune()`. */
export interface PruneOptions {
  /** Find the entries, delete nothing. Default false. */
  dryRun?: boolean
  /**
   * Seconds: only entries last added or renewed at least this long ago, judged from what the
   * router lists as left of the lease against the mapper's own `lease` (an app's entries are
   * renewed at half of it while it runs). An entry whose age cannot be told that way (a lease
   * longer than the mapper's, or permanent) is kept. Default: no age condition.
   */
  olderThan?: number
  /** The description the entries must have. Default: the mapper's `description` (the app's name). */
  owner?: string
  /** Cancels: the promise rejects with its reason; entries deleted before stay deleted. */
  signal?: AbortSignal
}

/** What `prune()` found and did. */
export interface PruneReport {
  /** The entries that matched (this machine's, this owner's, old enough, not held by this mapper). */
  matched: PortMappingEntry[]
  /** Those deleted now (none with `dryRun`). */
  deleted: PortMappingEntry[]
  /** Those the router would not delete, each with why. */
  failed: Array<{
    /** The entry. */
    entry: PortMappingEntry
    /** The router's refusal. */
    error: UPNPError
  }>
}

/** The options, checked: a bad one is a `UPNPError` (INVALID_PARAM) naming it. */
export function readPruneOptions(options: unknown): Omit<PruneOptions, 'dryRun'> & { dryRun: boolean } {
  const given = checkedOptions(options, ['dryRun', 'olderThan', 'owner', 'signal'], 'prune options', UPNPResult.INVALID_PARAM)
  const { dryRun = false, olderThan, owner, signal } = given
  const problem =
    (typeof dryRun === 'boolean' ? null : `dryRun ${show(dryRun)} is not true or false`) ??
    (olderThan === undefined || isIntegerIn(olderThan, 0, MAX_UINT32) ? null : `olderThan ${show(olderThan)} is not whole seconds >= 0`) ??
    (owner === undefined ? null : notText('owner', owner)) ??
    badSignal(signal)
  if (problem) throw clientError(UPNPResult.INVALID_PARAM, problem)
  return {
    dryRun: dryRun as boolean,
    ...(olderThan !== undefined ? { olderThan: olderThan as number } : {}),
    ...(owner !== undefined ? { owner: owner as string } : {}),
    ...(signal !== undefined ? { signal: signal as AbortSignal } : {}),
  }
}

/** What prune needs from the mapper. */
export interface PruneContext {
  gateway: UPNPDevice
  owner: string
  /** The mapper's lease (seconds, 0 = permanent): what its own entries were asked with. */
  lease: number
  /** Whether this mapper holds the entry now (never pruned). */
  held: (entry: PortMappingEntry) => boolean
  serial: Serial
}

/** Seconds since the entry was last added or renewed, or null when its lease cannot tell. */
export function entryAge(entry: PortMappingEntry, lease: number): number | null {
  if (lease === 0 || entry.leaseDuration === 0 || entry.leaseDuration > lease) return null
  return lease - entry.leaseDuration
}

/** Lists the gateway's table and deletes (unless `dryRun`) what matches. */
export async function prune(c: PruneContext, o: ReturnType<typeof readPruneOptions>): Promise<PruneReport> {
  const { gateway, serial } = c
  const signal = o.signal ? { signal: o.signal } : {}
  const owner = o.owner ?? c.owner
  const entries = await serial(() => gateway.listPortMappings(LIST_MAX_ENTRIES, signal))
  if (entries.length === 0 && gateway.lastError) throw new UPNPError({ ...gateway.lastError, via: 'upnp' }, 'listing the mappings to prune')
  const matched = entries.filter((e) => {
    if (e.description !== owner || !isOwnAddress(e.internalClient) || c.held(e)) return false
    if (o.olderThan === undefined) return true
    const age = entryAge(e, c.lease)
    return age !== null && age >= o.olderThan
  })
  const report: PruneReport = { matched, deleted: [], failed: [] }
  if (o.dryRun) return report
  for (const entry of matched) {
    const result = await serial(() => gateway.deletePortMapping(entry.externalPort, entry.protocol, signal))
    if (result === UPNPResult.SUCCESS || result === UPNPResult.NO_SUCH_ENTRY_IN_ARRAY) report.deleted.push(entry)
    else {
      const why = gateway.lastError ?? { result, description: 'DeletePortMapping failed' }
      report.failed.push({ entry, error: new UPNPError({ ...why, via: 'upnp' }, `deleting ${entry.protocol} ${entry.externalPort}`) })
    }
  }
  return report
}
