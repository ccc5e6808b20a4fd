/**
 * Work that the callers arriving while it runs share, each waiting with its own AbortSignal.
 * A result kept only once its work has ended (a backend made, `family.ts`; the probe's report,
 * cached by `probe.ts`, used by `ipv4.ts`) would otherwise be worked out again by every caller
 * arriving meanwhile: two map() calls at once on a fresh PortMapper probed twice and searched
 * twice.
 */
import { abortable } from '../signal.ts'

interface Pending<T> {
  outcome: Promise<T>
  /** Aborts the work: only once every caller waiting for it has aborted. */
  stop: AbortController
  waiting: number
}

/** One piece of work at a time, shared by every caller that joins while it runs. */
export class SharedPending<T> {
  #current: Pending<T> | null = null

  /**
   * The outcome of the work in flight, else of `start(stop)` started now. A caller's signal
   * ends its own wait (rejecting with `signal.reason`), not the work another caller still
   * waits for; when every waiting caller has aborted, `stop` aborts and the next call starts
   * afresh. The work is forgotten once it settles: a failure is not kept, so the next call
   * tries again, and what succeeded is the caller's to keep (`start` may keep it, unless
   * `stop` aborted). `start` is called synchronously, before this returns.
   */
  async join(start: (stop: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted()
    const pending = this.#current ?? this.#start(start)
    pending.waiting++
    try {
      return await abortable(signal, () => pending.outcome)
    } finally {
      pending.waiting--
      if (pending.waiting === 0 && signal?.aborted && this.#current === pending) {
        // Nobody waits any more: stop the work, and let the next call start afresh.
        this.#current = null
        pending.stop.abort(signal.reason)
      }
    }
  }

  #start(start: (stop: AbortSignal) => Promise<T>): Pending<T> {
    const stop = new AbortController()
    const pending: Pending<T> = {
      outcome: start(stop.signal).finally(() => {
        if (this.#current === pending) this.#current = null
      }),
      stop,
      waiting: 0,
    }
    this.#current = pending
    return pending
  }
}
