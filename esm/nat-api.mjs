// ES module entry of upnp-native/nat-api: re-exports the CommonJS build, so that import and require
// share one instance of every class and one loaded addon (as index.mjs does). NatAPI is also the
// default export, as nat-api's.
export * from '../dist/lib/adapters/nat-api.js'
export { NatAPI as default } from '../dist/lib/adapters/nat-api.js'
