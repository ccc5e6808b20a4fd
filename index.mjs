// ES module entry: re-exports the CommonJS build (index.js), so `import` and `require` share
// one instance of every class and one loaded addon (no dual-package hazard). Node finds the
// names statically in index.js (cjs-module-lexer); __test__/package.test.ts checks both agree.
export * from './index.js'
