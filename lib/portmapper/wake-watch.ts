/**
 * Notices that this process was not running for a while, so that every mapping is checked at
 * once instead of at its next (now far too late) timer.
 *
 * - Sleep: Linux and macOS stop the monotonic clock that Node's timers run on while the
 *   machine sleeps, but the wall clock goes on. After waking, timers fire as if no time had
 *   passed, while the router may have rebooted, leases expired and the network changed. Seen
 *   here as the wall clock running ahead of the monotonic clock.
 * - A paused or starved process (SIGSTOP, a debugger, App Nap, an event loop blocked by
 *   synchronous work): both clocks go on but our timer fires far too late.
 *
 * One unref'd timer re-armed every `intervalMs`; a tick compares both clocks with the last
 * tick. No network, and it never keeps the process alive.
 */

import { WAKE_CHECK_INTERVAL_MS, WAKE_GAP_MS } from '../defaults.ts'

export interface WakeWatchOptions {
  /** How often the clocks are compared, in ms. Default 5000. */
  intervalMs?: number
  /** A gap above this (ms) counts as a wake. Default 5000. */
  thresholdMs?: number
  /** The clocks, replaceable for tests: wall clock (Date.now) and monotonic (performance.now). */
  wall?: () => number
  monotonic?: () => number
}

/** How long the process was away, judged from one tick to the next; 0 when on time. */
export function missedMs(intervalMs: number, wallElapsed: number, monotonicElapsed: number): number {
  // Timer late on the monotonic clock: paused or starved.
  const late = monotonicElapsed - intervalMs
  // Wall clock ahead of (or behind) the monotonic clock: slept, or the clock was set.
  const skew = Math.abs(wallElapsed - monotonicElapsed)
  return Math.max(0, late, skew)
}

export class WakeWatch {
  readonly #onWake: (missedMs: number) => void
  readonly #interval: number
  readonly #threshold: number
  readonly #wall: () => number
  readonly #monotonic: () => number
  #timer: NodeJS.Timeout | null = null
  #lastWall = 0
  #lastMonotonic = 0

  constructor(onWake: (missedMs: number) => void, options: WakeWatchOptions = {}) {
    this.#onWake = onWake
    this.#interval = options.intervalMs ?? WAKE_CHECK_INTERVAL_MS
    this.#threshold = options.thresholdMs ?? WAKE_GAP_MS
    this.#wall = options.wall ?? Date.now
    this.#monotonic = options.monotonic ?? (() => performance.now())
  }

  get running(): boolean {
    return this.#timer !== null
  }

  start(): void {
    if (this.#timer) return
    this.#mark()
    this.#arm()
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #mark(): void {
    this.#lastWall = this.#wall()
    this.#lastMonotonic = this.#monotonic()
  }

  #arm(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#interval)
    this.#timer.unref()
  }

  #tick(): void {
    const wall = this.#wall()
    const monotonic = this.#monotonic()
    const missed = missedMs(this.#interval, wall - this.#lastWall, monotonic - this.#lastMonotonic)
    this.#lastWall = wall
    this.#lastMonotonic = monotonic
    this.#arm()
    if (missed > this.#threshold) this.#onWake(missed)
  }
}
