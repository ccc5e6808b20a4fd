// ES module entry of upnp-native/nat-upnp: re-exports the CommonJS build, so that import and require
// share one instance of every class and one loaded addon (as index.mjs does). The default export
// is the module itself (createClient, Client), as `import natUpnp from 'nat-upnp'` expects.
export * from '../dist/lib/adapters/nat-upnp.js'
export { default } from '../dist/lib/adapters/nat-upnp.js'
