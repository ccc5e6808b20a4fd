// Types of the ES module entry (index.mjs): exactly those of the CommonJS build.
export * from './dist/index.js'
