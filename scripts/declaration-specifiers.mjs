// After `tsc -p tsconfig.build.json`: the sources import each other as `./x.ts`, and tsc's
// rewriteRelativeImportExtensions turns those into `./x.js` in the emitted JavaScript but not
// in the declarations. A `.d.ts` that imports `./x.ts` is an error for TypeScript before 5.0
// (TS2691) and, with skipLibCheck, silently makes the types `any`. So the relative specifiers
// of every emitted declaration file are rewritten the way tsc rewrote the JavaScript.
// Usage: node scripts/declaration-specifiers.mjs [outDir]   (default: dist)
import fs from 'node:fs'
import path from 'node:path'

const root = process.argv[2] ?? path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', 'dist')
/** `from './x.ts'`, `import('../y.ts')`, `export * from './z.ts'`: relative, ending in .ts. */
const RELATIVE_TS = /((?:\bfrom|\bimport)\s*\(?\s*)(['"])(\.{1,2}\/[^'"\n]+?)\.ts\2/g

for (const file of fs.readdirSync(root, { recursive: true })) {
  if (!String(file).endsWith('.d.ts')) continue
  const full = path.join(root, String(file))
  const text = fs.readFileSync(full, 'utf8')
  const rewritten = text.replace(RELATIVE_TS, '$1$2$3.js$2')
  if (rewritten !== text) fs.writeFileSync(full, rewritten)
}
