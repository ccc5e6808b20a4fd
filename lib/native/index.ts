/**
 * The native addon as the library uses it. `./load.ts` runs first (ES modules and their
 * CommonJS output both evaluate imports in source order): it performs the real load inside a
 * try/catch and throws a clear error naming the platform and the missing package when no
 * binary fits; the re-export below then gets napi's cached module.
 */
import './load.ts'

export * from './binding.js'
