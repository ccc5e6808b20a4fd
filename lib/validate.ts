/**
 * Argument checks shared by the Godot classes, PortMapper and the adapters: one wording for
 * each, and one way to look at a caller's value. Every function here is safe on any value a
 * caller can pass (null prototypes, BigInt, Symbols, Proxies whose traps throw, getters that
 * throw): it never throws and never calls the caller's code except a getter it was asked to
 * read, whose exception it reports instead.
 */
import { types } from 'node:util'
import { clientError, UPNPResult } from './errors.ts'
import type { Protocol } from './types.ts'

/** The SOAP `ui4` range: the largest lease or count a router can be sent. */
export const MAX_UINT32 = 0xffff_ffff
/** Node's timers overflow above this (they fire at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1
/** How much of a caller's string or number a message quotes. */
const SHOWN_CHARS = 40

export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

export function isProtocol(value: unknown): value is Protocol {
  return value === 'UDP' || value === 'TCP'
}

/**
 * A caller's value as a message quotes it: short, printable (JSON escapes control characters
 * and lone surrogates), and without touching an object's properties (no getter, trap or
 * `toString` runs).
 */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length > SHOWN_CHARS
        ? `${JSON.stringify(value.slice(0, SHOWN_CHARS))}… (${value.length} characters)`
        : JSON.stringify(value)
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint': {
      const digits = value.toString()
      return digits.length > SHOWN_CHARS ? `a BigInt of ${digits.length} digits` : `${digits}n`
    }
    case 'symbol':
      return 'a Symbol'
    case 'function':
      return 'a function'
    case 'object':
      return value === null ? 'null' : 'an object'
    default:
      return String(value) // undefined, boolean
  }
}

/** "port 0 is not an integer 1..65535": `what` names the argument. */
export function badPort(what: string, value: unknown, min = 1): string {
  return `${what} ${show(value)} is not an integer ${min}..65535`
}

export function badProtocol(value: unknown): string {
  return `protocol ${show(value)} is not "UDP" or "TCP"`
}

/** Why `value` is not a string, or null when it is one. */
export function notText(what: string, value: unknown): string | null {
  return typeof value === 'string' ? null : `${what} ${show(value)} is not a string`
}

/** Fields read from a caller's options object, or why they could not be. */
export type ReadOptions<K extends string> = { values: Partial<Record<K, unknown>>; problem?: never } | { values?: never; problem: string }

/**
 * Reads `keys` from an options argument named `what`: undefined and null are no options; an
 * object is read once per key (a getter or Proxy trap that throws is a problem naming the
 * field, not an exception); anything else is a problem.
 */
export function readOptions<K extends string>(value: unknown, keys: readonly K[], what = 'options'): ReadOptions<K> {
  if (value === undefined || value === null) return { values: {} }
  if (typeof value !== 'object') return { problem: `${what} ${show(value)} is not an object` }
  const values: Partial<Record<K, unknown>> = {}
  for (const key of keys) {
    try {
      const field: unknown = (value as Record<string, unknown>)[key]
      if (field !== undefined) values[key] = field
    } catch {
      return { problem: `${what}.${key} could not be read (reading it threw)` }
    }
  }
  return { values }
}

const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get

/** Whether `value` is an AbortSignal (Node's own brand check: a look-alike object is not, nor
 *  a Proxy, whose traps could throw when the signal is listened to). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null || !abortedGetter || types.isProxy(value)) return false
  try {
    abortedGetter.call(value)
    return true
  } catch {
    return false
  }
}

/** Why `value` cannot be a call's `signal`, or null when it can (an AbortSignal, or none). */
export function badSignal(value: unknown, what = 'signal'): string | null {
  return value === undefined || isAbortSignal(value) ? null : `${what} ${show(value)} is not an AbortSignal`
}

/** The `signal` of a call's options argument (`{ signal }`), or why it cannot be used. */
export function readSignal(options: unknown, what = 'options'): { signal?: AbortSignal; problem?: string } {
  const { values, problem } = readOptions(options, ['signal'], what)
  const refused = problem ?? badSignal(values?.signal, `${what}.signal`)
  if (refused) return { problem: refused }
  return values?.signal ? { signal: values.signal as AbortSignal } : {}
}

/** `readOptions` for the calls that reject: the fields, or a `UPNPError` with `result`
 *  (INVALID_ARGS unless said) naming what could not be read. */
export function checkedOptions<K extends string>(
  value: unknown,
  keys: readonly K[],
  what = 'options',
  result: UPNPResult = UPNPResult.INVALID_ARGS,
): Partial<Record<K, unknown>> {
  const { values, problem } = readOptions(value, keys, what)
  if (!values) throw clientError(result, problem ?? `${what} could not be read`)
  return values
}

/** `readSignal` for the calls that reject: the signal, or a `UPNPError` (INVALID_ARGS). */
export function checkedSignal(options: unknown): AbortSignal | undefined {
  const { signal, problem } = readSignal(options)
  if (problem) throw clientError(UPNPResult.INVALID_ARGS, problem)
  return signal
}

/** An option read under its name or its deprecated one (docs/api.md, "Deprecated names"). */
export interface RenamedOption {
  /** The value given (under the new name when both were given), or undefined. */
  value: unknown
  /** The name the caller used, for messages about the value. */
  name: string
  /** Both names given with different values, said in words; else null. */
  problem: string | null
}

/** Reads option `name` from `given`, or its deprecated name `old`: either works, both only
 *  when they agree. */
export function renamedOption(given: Partial<Record<string, unknown>>, name: string, old: string): RenamedOption {
  const now = given[name]
  const before = given[old]
  const problem =
    now !== undefined && before !== undefined && !Object.is(now, before)
      ? `${name} ${show(now)} and ${old} ${show(before)} (its deprecated name) disagree: give ${name} only`
      : null
  return { value: now ?? before, name: now === undefined && before !== undefined ? old : name, problem }
}
