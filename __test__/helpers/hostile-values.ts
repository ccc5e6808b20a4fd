// What a caller can pass where the library expects a port, a string or an options object:
// the values of the property-based tests (fast-check arbitraries). Wrong types, NaN, ±Infinity,
// -0, huge numbers, 1 MB strings, NUL and non-BMP characters, null, undefined, throwing
// getters, Proxies (throwing and revoked), Symbols, BigInt, null prototypes, look-alikes.
import * as fc from 'fast-check'

const MEGABYTE = 'x'.repeat(1 << 20)

function throwingGetter(key: string): object {
  return Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error(`getter ${key} throws`)
    },
  })
}

const throws = () => {
  throw new Error('trap throws')
}
const revoked = (() => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
})()

/** A value fast-check must not look into (it asks every generated object whether it has a
 *  clone method, which a Proxy's trap would answer with a throw): boxed while generated,
 *  taken out by `unbox` just before the call. */
class Boxed {
  constructor(readonly value: unknown) {}
}

/** The generated arguments with every boxed value taken out (in arrays and plain objects too). */
export function unbox<T>(args: T): T {
  if (args instanceof Boxed) return args.value as T
  if (Array.isArray(args)) return args.map(unbox) as T
  if (typeof args === 'object' && args !== null && Object.getPrototypeOf(args) === Object.prototype) {
    return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, unbox(v)])) as T
  }
  return args
}

/** Objects no library code may format, read carelessly or call into. */
const nasty = fc.constantFrom<Boxed>(
  ...[
    Object.create(null),
    Object.assign(Object.create(null), { signal: 1, internalPort: 7777 }),
    new Proxy({}, { get: throws, has: throws, ownKeys: throws, getPrototypeOf: throws, getOwnPropertyDescriptor: throws }),
    new Proxy(new AbortController().signal, { get: throws, getPrototypeOf: throws }),
    revoked,
    throwingGetter('signal'),
    throwingGetter('internalPort'),
    throwingGetter('description'),
    { toString: throws, valueOf: throws, [Symbol.toPrimitive]: throws },
    { aborted: true, reason: 'look-alike', addEventListener: () => undefined },
    [7777, 'UDP'],
    new Date(Number.NaN),
    () => 7777,
    Promise.resolve(7777),
  ].map((value) => new Boxed(value)),
)

/** Values of every type, the edges of each. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(Number.NaN, Infinity, -Infinity, -0, 0, -1, 1, 65535, 65536, 2 ** 32, 2 ** 53, Number.MAX_VALUE, 7777.5, 1e-9),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.constantFrom<unknown>(10n ** 400n, -1n, 0n),
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 32 }), // any code point: non-BMP, lone surrogates
  fc.constantFrom<unknown>('', '\0', 'UDP\0', 'udp', 'TCP ', '\u{1F600}', '\uD800', MEGABYTE, 'http://127.0.0.1:1/rootDesc.xml'),
  fc.constantFrom<unknown>(null, undefined, true, false, Symbol('s'), Symbol.iterator),
  nasty,
  fc.anything({ maxDepth: 2 }),
)

/** Either a value that passes (so later checks are reached) or a hostile one. */
export const orHostile = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: valid, weight: 2 }, { arbitrary: hostile, weight: 3 })

/** A trailing options argument: none, a live signal, or hostile. */
export const callOptions: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  fc.constant(null),
  fc.constant({ signal: new AbortController().signal }),
  hostile.map((signal) => ({ signal })),
  hostile,
)

/** A tuple of arguments, unboxed: what a property's function receives. */
export function args<T extends unknown[]>(...arbitraries: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.tuple(...arbitraries).map(unbox) as fc.Arbitrary<T>
}
