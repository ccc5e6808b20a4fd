// What a bundler gets for a browser build (the "browser" export condition): upnp-native is a
// native Node-API addon and cannot run there, so loading it fails at once with the reason and
// the fix, instead of a bundler error about .node files or a missing `fs`. CommonJS, so that
// a bundler accepts any named import from it and the error comes when the bundle runs.
'use strict'
const error = new Error(
  'upnp-native cannot run in a browser: it is a native Node-API addon (Rust) that needs Node.js, ' +
    "Electron's main or utility process, Bun or Deno to load its binary and to reach the router. " +
    'In Electron, use it in the main process and call it from the renderer over IPC; in a web app, ' +
    'use it on the server and keep it out of the browser bundle ' +
    '(https://github.com/upnp-native/upnp-native/blob/HEAD/docs/bundlers.md#bundlers).',
)
error.code = 'ERR_UPNP_NATIVE_BROWSER'
throw error
