// Types of upnp-native/libp2p (esm/libp2p.mjs): exactly those of the CommonJS build.
export * from '../dist/lib/adapters/libp2p.js'
