// ES module entry: re-exports the CommonJS build (dist/index.js), so `import` and `require`
// share one instance of every class and one loaded addon (no dual-package hazard). Node finds
// the names statically in dist/index.js (cjs-module-lexer); __test__/package/install.test.ts checks
// both agree.
export * from './dist/index.js'
