// ES module entry of upnp-native/libp2p: re-exports the CommonJS build, so that import and require
// share one instance of every class and one loaded addon (as index.mjs does).
export * from '../dist/lib/adapters/libp2p.js'
