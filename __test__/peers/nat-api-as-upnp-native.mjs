// Loaded with `node --import` by nat-api.test.ts: @silentbot1/nat-api's own example test
// (node_modules/@silentbot1/nat-api/tests/basic.js, from its npm package, unmodified) imports
// the package under test as '../index.js'; from that file only, this resolves it to
// upnp-native's adapter (esm/nat-api.mjs) instead.
import { register } from 'node:module'

const hooks = `
const adapter = ${JSON.stringify(new URL('../../esm/nat-api.mjs', import.meta.url).href)}
export async function resolve(specifier, context, next) {
  if (specifier === '../index.js' && context.parentURL?.endsWith('/@silentbot1/nat-api/tests/basic.js')) {
    return { url: adapter, shortCircuit: true }
  }
  return next(specifier, context)
}`
register(`data:text/javascript,${encodeURIComponent(hooks)}`)
