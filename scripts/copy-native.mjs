// After `tsc -p tsconfig.build.json`: the generated loader (binding.js), its types and any
// locally built .node go beside the compiled lib/native/index.js in dist/, since tsc copies
// neither a .js that has a .d.ts nor a binary. A published package carries no .node (the
// per-platform packages do), so a missing one is not an error.
import fs from 'node:fs'
import path from 'node:path'

const from = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', 'lib', 'native')
const to = path.join(from, '..', '..', 'dist', 'lib', 'native')
fs.mkdirSync(to, { recursive: true })
for (const file of fs.readdirSync(from)) {
  if (file === 'binding.js' || file === 'binding.d.ts' || file.endsWith('.node')) {
    fs.copyFileSync(path.join(from, file), path.join(to, file))
  }
}
