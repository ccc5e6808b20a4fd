/**
 * The native addon, as `index.ts` uses it. `./native-load.js` runs first (ES modules and
 * their CommonJS output both evaluate imports in source order): it performs the real load
 * inside a try/catch and throws a clear error naming the platform and the missing package
 * when no binary fits; the re-export below then gets napi's cached module.
 */
import './native-load.js'

export * from './binding.js'
