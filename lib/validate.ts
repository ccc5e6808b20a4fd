/** Argument checks shared by the Godot classes and PortMapper: one wording for each. */
import type { Protocol } from './types.ts'

/** The SOAP `ui4` range: the largest lease or count a router can be sent. */
export const MAX_UINT32 = 0xffff_ffff
/** Node's timers overflow above this (they fire at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1

export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

export function isProtocol(value: unknown): value is Protocol {
  return value === 'UDP' || value === 'TCP'
}

/** "port 0 is not an integer 1..65535": `what` names the argument. */
export function badPort(what: string, value: unknown, min = 1): string {
  return `${what} ${String(value)} is not an integer ${min}..65535`
}

export function badProtocol(value: unknown): string {
  return `protocol ${JSON.stringify(value)} is not "UDP" or "TCP"`
}
