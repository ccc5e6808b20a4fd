/**
 * AbortSignals on calls that go to the network: the call settles at once when its signal
 * aborts (rejecting with `signal.reason`, as Node's own APIs do), and the addon is told to stop
 * the request: an add or a delete that may already have reached the router is finished the way
 * a timed-out one is (the add undone, the delete carried out; `crate/src/upnp/leftovers.rs`).
 */
import * as native from './native/index.ts'

/**
 * Starts `work` unless `signal` has aborted already (then nothing starts: the call rejects
 * with `signal.reason`), and settles at once with `signal.reason` when it aborts first;
 * `onAbort` then tells the work to stop. Work that is not told stops on its own, bounded by
 * its own deadline; its late outcome is dropped.
 */
export function abortable<T>(signal: AbortSignal | undefined, work: () => Promise<T>, onAbort?: () => void): Promise<T> {
  if (!signal) return work()
  if (signal.aborted) return Promise.reject(signal.reason)
  const running = work()
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      onAbort?.()
      reject(signal.reason)
    }
    signal.addEventListener('abort', stop, { once: true })
    running.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop))
  })
}

/** `abortable` for a native call that takes a cancel handle: an abort cancels the request in
 *  the addon too. */
export function cancellable<T>(signal: AbortSignal | undefined, work: (cancel?: native.CallCancel) => Promise<T>): Promise<T> {
  if (!signal) return work()
  const cancel = new native.CallCancel()
  return abortable(
    signal,
    () => work(cancel),
    () => cancel.cancel(),
  )
}
