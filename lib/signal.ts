/**
 * AbortSignals on calls that go to the network: the call settles at once when its signal
 * aborts (rejecting with `signal.reason`, as Node's own APIs do), and the addon is told to stop
 * the request: an add or a delete that may already have reached the router is finished the way
 * a timed-out one is (the add undone, the delete carried out; `crate/src/upnp/leftovers.rs`).
 */
import * as native from './native/index.ts'

/**
 * Runs `work`, handing it a native cancel handle when there is a `signal`: an abort rejects
 * with `signal.reason` at once and cancels the native call, whose late outcome is dropped. An
 * already aborted signal rejects before `work` starts (nothing is sent).
 */
export function cancellable<T>(signal: AbortSignal | undefined, work: (cancel?: native.CallCancel) => Promise<T>): Promise<T> {
  if (!signal) return work()
  if (signal.aborted) return Promise.reject(signal.reason)
  const cancel = new native.CallCancel()
  return settleOnAbort(work(cancel), signal, () => cancel.cancel())
}

/** `work`, settled at once with `signal.reason` when `signal` aborts first (for work that
 *  stops on its own, bounded by its own deadline). */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  return signal ? settleOnAbort(work, signal) : work
}

function settleOnAbort<T>(work: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      onAbort?.()
      reject(signal.reason)
    }
    if (signal.aborted) return stop()
    signal.addEventListener('abort', stop, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop))
  })
}
