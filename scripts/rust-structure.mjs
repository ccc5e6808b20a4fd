// The crate's structural checks (CI runs them after clippy; issue 28): no import circle
// between its modules, no production function over 120 lines, no file over 600 lines of
// code. `--report` prints the tables (largest files and functions, the module graph's
// edges) instead of only the violations.
//
//   node scripts/rust-structure.mjs [--report]
//
// Modules are files (`a/b.rs` and `a/b/mod.rs` are `a::b`); an edge is any path that names
// another module of the crate (`use crate::...`, `super::...`, an inline `crate::a::b::f()`).
// Test code (`#[cfg(test)]` items, `tests.rs`, `*_tests.rs`, `upnp/testing/`) is left out:
// it may reach anywhere. The Rust is read by a small tokenizer (comments, strings, chars and
// lifetimes told apart), enough for brace matching and paths, not a parser.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = fileURLToPath(new URL('../crate/src/', import.meta.url))
const MAX_FN_LINES = 120
const MAX_FILE_CODE_LINES = 600
// Circles allowed, each with why: [module, module, reason]. Only type-only ones belong here.
const ALLOWED_CIRCLES = [
  [
    'upnp::link::http',
    'upnp::link::http_trace',
    'type-only: http_trace.rs builds trace events from the exchange (Endpoint, HttpError); http.rs calls them',
  ],
]

/** Every .rs file under `dir`, sorted. */
function rustFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? rustFiles(join(dir, e.name)) : e.name.endsWith('.rs') ? [join(dir, e.name)] : []))
    .sort()
}

/** `upnp/link/http.rs` -> `upnp::link::http`; `lib.rs` -> `` (the crate root). */
function moduleOf(file) {
  const parts = relative(SRC, file).replace(/\.rs$/, '').split('/')
  if (parts.at(-1) === 'mod' || parts.at(-1) === 'lib') parts.pop()
  return parts.join('::')
}

function isTestFile(file) {
  const rel = relative(SRC, file)
  return /(^|\/)tests\.rs$|_tests\.rs$|^upnp\/testing\//.test(rel)
}

/**
 * The source with comments, string and char literals blanked (same length, newlines kept),
 * so that braces and paths can be found by position.
 */
function blank(src) {
  const out = src.split('')
  const wipe = (from, to) => {
    for (let i = from; i < to; i++) if (out[i] !== '\n') out[i] = ' '
  }
  let i = 0
  while (i < src.length) {
    const rest = src.slice(i, i + 3)
    if (rest.startsWith('//')) {
      const end = src.indexOf('\n', i)
      const stop = end < 0 ? src.length : end
      wipe(i, stop)
      i = stop
    } else if (rest.startsWith('/*')) {
      let depth = 1
      let j = i + 2
      while (j < src.length && depth > 0) {
        if (src.startsWith('/*', j)) {
          depth++
          j += 2
        } else if (src.startsWith('*/', j)) {
          depth--
          j += 2
        } else j++
      }
      wipe(i, j)
      i = j
    } else if (/^(b?r#*")/.test(rest) && /[^\w]|^$/.test(src[i - 1] ?? '')) {
      const m = /^b?r(#*)"/.exec(src.slice(i))
      const close = '"' + m[1]
      const end = src.indexOf(close, i + m[0].length)
      const stop = end < 0 ? src.length : end + close.length
      wipe(i + 1, stop - 1)
      i = stop
    } else if (src[i] === '"') {
      let j = i + 1
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
      wipe(i + 1, j)
      i = j + 1
    } else if (src[i] === "'") {
      const m = /^'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'/.exec(src.slice(i, i + 12))
      if (m) {
        wipe(i + 1, i + m[0].length - 1)
        i += m[0].length
      } else i++ // a lifetime
    } else i++
  }
  return out.join('')
}

/** Index just past the brace block that opens at or after `from` (`{` ... matching `}`). */
function blockEnd(code, from) {
  const open = code.indexOf('{', from)
  let depth = 0
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++
    else if (code[i] === '}' && --depth === 0) return i + 1
  }
  return code.length
}

/** The code with every `#[cfg(test)]` item blanked out. */
function withoutTests(code) {
  let out = code
  for (const m of code.matchAll(/#\[cfg\(test\)\]/g)) {
    const semi = code.indexOf(';', m.index)
    const brace = code.indexOf('{', m.index)
    const end = semi >= 0 && (brace < 0 || semi < brace) ? semi + 1 : blockEnd(code, m.index)
    out = out.slice(0, m.index) + out.slice(m.index, end).replace(/[^\n]/g, ' ') + out.slice(end)
  }
  return out
}

const lineOf = (code, index) => code.slice(0, index).split('\n').length

const files = rustFiles(SRC).map((file) => {
  const code = blank(readFileSync(file, 'utf8'))
  const test = isTestFile(file)
  return { file, rel: relative(SRC, file), module: moduleOf(file), test, code, production: test ? '' : withoutTests(code) }
})
const modules = new Set(files.map((f) => f.module))

/** The module a path names: its longest prefix that is a module of the crate. */
function resolve(segments) {
  for (let n = segments.length; n > 0; n--) {
    const name = segments.slice(0, n).join('::')
    if (modules.has(name)) return name
  }
  return null
}

/** Modules named by paths in `code` of module `self` (`use` trees expanded by their prefix). */
function importsOf(self, code) {
  const found = new Set()
  const add = (segments) => {
    const target = resolve(segments)
    if (target !== null && target !== '' && target !== self) found.add(target)
  }
  // A `use` tree: the prefix, then each branch of `{...}` (one level is all the crate writes,
  // nested ones are read by their prefix).
  for (const m of code.matchAll(/\buse\s+((?:crate|super|self)(?:::\w+)*)(?:::\{([^;]*)\})?\s*(?:as\s+\w+\s*)?;/g)) {
    const base = absolute(self, m[1].split('::'))
    if (!base) continue
    if (m[2] === undefined) add(base)
    else
      for (const branch of m[2].split(',')) {
        const words = branch
          .trim()
          .split(/\s+/)[0]
          .replace(/::\{.*/, '')
        if (!words) continue
        add(words === 'self' ? base : [...base, ...words.split('::').filter((w) => w !== '*')])
      }
  }
  // Inline paths: crate::a::b::f(...), super::x::y.
  for (const m of code.matchAll(/(?<![\w:])((?:crate|super)(?:::\w+)+)/g)) {
    const line = code.slice(code.lastIndexOf('\n', m.index) + 1, m.index)
    if (/\buse\s/.test(line)) continue
    const segments = absolute(self, m[1].split('::'))
    if (segments) add(segments)
  }
  return found
}

/** `crate::a::b` / `super::c` / `self::d` as segments from the crate root. */
function absolute(self, path) {
  const here = self === '' ? [] : self.split('::')
  if (path[0] === 'crate') return path.slice(1)
  if (path[0] === 'self') return [...here, ...path.slice(1)]
  let at = here
  let rest = path
  while (rest[0] === 'super') {
    at = at.slice(0, -1)
    rest = rest.slice(1)
  }
  return [...at, ...rest]
}

const edges = new Map(files.filter((f) => !f.test).map((f) => [f.module, importsOf(f.module, f.production)]))
/** The same graph between folders: every module counted as its first `depth` segments. */
function folderGraph(depth) {
  const cut = (m) => m.split('::').slice(0, depth).join('::')
  const graph = new Map()
  for (const [m, targets] of edges) {
    const from = cut(m)
    if (!graph.has(from)) graph.set(from, new Set())
    for (const t of targets) if (cut(t) !== from && !cut(t).startsWith(from + '::')) graph.get(from).add(cut(t))
  }
  return graph
}
// lib.rs's map (upnp, pxp, napi, ...), and one level down (upnp::link, upnp::device, ...).
const folderEdges = folderGraph(1)

/** Strongly connected components of `edges` with more than one module (Tarjan). */
function circles(edges) {
  let index = 0
  const stack = []
  const info = new Map()
  const found = []
  const visit = (v) => {
    info.set(v, { index, low: index, on: true })
    index++
    stack.push(v)
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue
      if (!info.has(w)) {
        visit(w)
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low)
      } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index)
    }
    if (info.get(v).low === info.get(v).index) {
      const component = []
      let w
      do {
        w = stack.pop()
        info.get(w).on = false
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of edges.keys()) if (!info.has(v)) visit(v)
  return found
}

/** Every `fn` with a body in production code: name, file, first line, length in lines. */
function functions() {
  const all = []
  for (const f of files.filter((f) => !f.test)) {
    for (const m of f.production.matchAll(/\bfn\s+(\w+)/g)) {
      // A declaration without a body (a trait's) ends at `;` before any `{`.
      const semi = f.production.indexOf(';', m.index)
      const brace = f.production.indexOf('{', m.index)
      if (brace < 0 || (semi >= 0 && semi < brace)) continue
      const first = lineOf(f.production, m.index)
      const last = lineOf(f.production, blockEnd(f.production, m.index) - 1)
      all.push({ name: m[1], rel: f.rel, line: first, lines: last - first + 1 })
    }
  }
  return all.sort((a, b) => b.lines - a.lines)
}

const codeLines = (text) => text.split('\n').filter((l) => l.trim() !== '').length

const sizes = files
  .map((f) => ({ rel: f.rel, code: codeLines(f.code), production: codeLines(f.production), test: f.test }))
  .sort((a, b) => b.code - a.code)
const fns = functions()
const found = [...new Map([...circles(edges), ...circles(folderEdges), ...circles(folderGraph(2))].map((c) => [c.join(' '), c])).values()]
const allowed = (c) => ALLOWED_CIRCLES.some(([a, b]) => c.length === 2 && c.includes(a) && c.includes(b))

if (process.argv.includes('--report')) {
  console.log('Largest files (lines of code: not blank, not comments; production = without tests)')
  console.log('| file | code | production |\n|---|---:|---:|')
  for (const s of sizes.slice(0, 15)) console.log(`| ${s.rel}${s.test ? ' (tests)' : ''} | ${s.code} | ${s.production} |`)
  console.log('\nLongest production functions (lines, signature to closing brace)')
  console.log('| function | file:line | lines |\n|---|---|---:|')
  for (const f of fns.slice(0, 15)) console.log(`| ${f.name} | ${f.rel}:${f.line} | ${f.lines} |`)
  console.log('\nImport circles between modules')
  for (const c of found)
    console.log(
      `- ${c.join(' <-> ')}${allowed(c) ? ' (allowed: ' + ALLOWED_CIRCLES.find(([a, b]) => c.includes(a) && c.includes(b))[2] + ')' : ''}`,
    )
  if (found.length === 0) console.log('- none')
  console.log('\nTop-level module edges (production code)')
  for (const [m, targets] of [...folderEdges].sort()) if (targets.size) console.log(`- ${m} -> ${[...targets].sort().join(', ')}`)
  console.log('\nModule edges (production code)')
  for (const [m, targets] of [...edges].sort()) if (targets.size) console.log(`- ${m || 'crate'} -> ${[...targets].sort().join(', ')}`)
}

const problems = [
  ...found.filter((c) => !allowed(c)).map((c) => `import circle: ${c.join(' <-> ')}`),
  ...fns.filter((f) => f.lines > MAX_FN_LINES).map((f) => `${f.rel}:${f.line}: fn ${f.name} has ${f.lines} lines (max ${MAX_FN_LINES})`),
  ...sizes.filter((s) => s.code > MAX_FILE_CODE_LINES).map((s) => `${s.rel}: ${s.code} lines of code (max ${MAX_FILE_CODE_LINES})`),
]
for (const p of problems) console.error(`rust-structure: ${p}`)
process.exit(problems.length ? 1 : 0)
