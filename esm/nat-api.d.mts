// Types of upnp-native/nat-api (esm/nat-api.mjs): exactly those of the CommonJS build.
export * from '../dist/lib/adapters/nat-api.js'
export { NatAPI as default } from '../dist/lib/adapters/nat-api.js'
