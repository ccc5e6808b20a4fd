// js-libp2p 3 and its dependencies (@libp2p/utils, yamux, it-queue, ...) call
// Promise.withResolvers, which Node has only from 22, whatever their `engines` fields say.
// upnp-native supports Node 22+ too, but `npm test` runs on the CI machine's own Node (20);
// to run their code unmodified there, the processes that load libp2p import this first.
// upnp-native itself never needs it.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>(): PromiseWithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    },
  })
}
export {}
