/**
 * A held mapping's lifetime: when it is renewed (at half of the lease the router granted)
 * and checked (every `verifyInterval`), and the one timer that wakes it for whichever is due
 * first.
 */
import { MAX_TIMER_MS } from '../validate.ts'
import type { Backend, Granted, MappingParams } from './backends/backend.ts'
import type { Mapping } from './mapping.ts'

export interface Held {
  mapping: Mapping
  backend: Backend
  params: MappingParams
  granted: Granted
  timer: NodeJS.Timeout | null
  /** Epoch ms of the next renewal (Infinity for a permanent mapping) and check. */
  renewAt: number
  verifyAt: number
  /** The renewal or check now running, if any: a second one must not start, and a delete
   *  waits for it (its later steps, e.g. a renewal's AddPortMapping, would re-create the
   *  mapping after the delete). */
  checking: Promise<void> | null
  /** `verify` said no even after a hard refresh: not repaired again until it says yes. */
  unreachable?: boolean
}

/** Renew at half of what was granted, as RFC 6886 3.7 and Tailscale do; permanent: never. */
export function renewAt(now: number, lease: number): number {
  return lease > 0 ? now + (lease * 1000) / 2 : Number.POSITIVE_INFINITY
}

/** Arms the timer for the next renewal or check (or after `delay` ms). */
export function arm(held: Held, wake: () => void, keepAlive: boolean, delay?: number): void {
  disarm(held)
  const due = Math.min(held.renewAt, held.verifyAt)
  const wait = Math.max(0, Math.min(delay ?? due - Date.now(), MAX_TIMER_MS))
  held.timer = setTimeout(wake, wait)
  // An idle mapper must never keep the process alive (unless asked to).
  if (!keepAlive) held.timer.unref()
}

export function disarm(held: Held): void {
  if (held.timer) clearTimeout(held.timer)
  held.timer = null
}
