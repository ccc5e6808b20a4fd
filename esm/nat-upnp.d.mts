// Types of upnp-native/nat-upnp (esm/nat-upnp.mjs): exactly those of the CommonJS build.
export * from '../dist/lib/adapters/nat-upnp.js'
export { default } from '../dist/lib/adapters/nat-upnp.js'
