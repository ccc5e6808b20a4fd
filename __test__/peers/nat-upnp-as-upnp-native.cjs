// Loaded with `mocha --require` by nat-upnp.test.ts: nat-upnp's own test file
// (node_modules/nat-upnp/test/api-test.js, from its npm package, unmodified) loads the package
// under test with `require('..')`; from that file only, this resolves it to upnp-native's
// adapter (dist/lib/adapters/nat-upnp.js) instead of nat-upnp.
//
// Ports pinned, as the issue allows: the file picks ports with Math.random() over 0..65535,
// but the lab's miniupnpd, like most routers, refuses ports below 1024 (UPnP error 606), so
// Math.random() is rescaled to return values whose ports land in 1024..65535.
const Module = require('node:module')
const path = require('node:path')

const testDir = path.dirname(require.resolve('nat-upnp/test/api-test.js'))
const adapter = path.resolve(__dirname, '../../dist/lib/adapters/nat-upnp.js')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, parent, ...rest) {
  if (request === '..' && parent && path.dirname(parent.filename) === testDir) return adapter
  return resolve.call(this, request, parent, ...rest)
}

const random = Math.random
const LOW = 1024 / 65536
Math.random = () => LOW + random() * (1 - LOW)
