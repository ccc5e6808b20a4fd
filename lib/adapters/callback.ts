/** Node-style callbacks beside promises, for the adapters of callback-era libraries. */

/** A Node-style callback: `(error)` on failure, `(null, value)` on success. */
export type Callback<T> = (error: Error | null, value?: T) => void

/**
 * With a callback: calls it once with the outcome, on its own tick (so an exception it throws
 * is the caller's uncaught exception, as with any Node callback, not a swallowed rejection),
 * and resolves (never rejects: the callback got the error). Without one: the promise itself.
 */
export function settle<T>(work: Promise<T>, callback?: Callback<T>): Promise<T | undefined> {
  if (typeof callback !== 'function') return work
  return work.then(
    (value) => {
      process.nextTick(callback, null, value)
      return value
    },
    (error: unknown) => {
      process.nextTick(callback, error instanceof Error ? error : new Error(String(error)))
      return undefined
    },
  )
}

/** The trailing function argument, if the caller passed one. */
export function trailingCallback<T>(args: unknown[]): Callback<T> | undefined {
  const last = args[args.length - 1]
  return typeof last === 'function' ? (last as Callback<T>) : undefined
}
