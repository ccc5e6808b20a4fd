// PortMappers made by a test file are closed after each test, whatever the test did, so a
// failing test never leaves a mapping (or a timer) for the next one.
import { afterEach } from 'vitest'
import type { PortMapper } from '../../index.ts'

/** Registers the after-each cleanup and returns `track`, which remembers a mapper to close.
 *  `after` runs once they are closed (say, to drop a cache the test filled). */
export function trackMappers(after?: () => void): (mapper: PortMapper) => PortMapper {
  const mappers: PortMapper[] = []
  afterEach(async () => {
    await Promise.all(mappers.splice(0).map((m) => m.close().catch(() => undefined)))
    after?.()
  })
  return (mapper) => {
    mappers.push(mapper)
    return mapper
  }
}

type MapperEvent = 'mapped' | 'renewed' | 'lost' | 'restored' | 'externalAddressChanged' | 'swept' | 'unreachable'

/** Resolves with the arguments of `mapper`'s next `event`, or rejects after `ms`. */
export function nextEvent(mapper: PortMapper, event: MapperEvent, ms = 8000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms)
    mapper.once(event, ((...args: unknown[]) => {
      clearTimeout(timer)
      resolve(args)
    }) as never)
  })
}
