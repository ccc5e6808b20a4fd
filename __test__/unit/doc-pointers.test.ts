// Pointers from code to the documentation still lead somewhere: source comments, help texts,
// error messages and schemas name a page (`docs/cli.md`, `SECURITY.md`), often with the
// heading or bold lead-in to read (`docs/cli.md, "JSON output"`), or give its GitHub URL (`.../blob/HEAD/
// docs/bundlers.md#bundlers`). When a section moves (the README was split into docs/ in issue
// 27), remark-validate-links checks the links between Markdown files; this checks the rest.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../lab/lab.ts'

const ROOT = repoRoot()
// This file names pointers only as examples.
const SELF = '__test__/unit/doc-pointers.test.ts'
const REPOSITORY_BLOB = 'https://github.com/upnp-native/upnp-native/blob/HEAD/'
// Files read as text; Markdown is remark's, lockfiles hold no pointers.
const SKIPPED = /\.(md|lock|png|svg|node|gz|bin|der)$|(^|\/)package-lock\.json$|(^|\/)(seeds|corpus|devices)\//

interface Pointer {
  from: string
  file: string
  heading?: string
  anchor?: string
}

/** A Markdown file's headings and bold lead-ins (`**Terminal safety**`), outside code fences,
 *  inline code marks removed: what a quoted name may point at. Anchors exist for headings only. */
function landmarks(file: string): { headings: string[]; bold: string[] } {
  const found = { headings: [] as string[], bold: [] as string[] }
  let fenced = false
  for (const line of fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    if (fenced) continue
    const heading = /^#{1,6} (.+)$/.exec(line)?.[1]
    if (heading) found.headings.push(heading.replaceAll('`', '').trim())
    for (const [, bold = ''] of line.matchAll(/\*\*([^*]+)\*\*/g)) found.bold.push(bold.replaceAll('`', '').replace(/[.:]$/, ''))
  }
  return found
}

/** GitHub's anchor for a heading (ASCII headings: lower case, punctuation dropped, spaces to -). */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replaceAll(' ', '-')
}

/** "JSON output" names `JSON output (--json, schema 1)`: a heading, or the words it starts with. */
function namesHeading(name: string, heading: string): boolean {
  return heading === name || (heading.startsWith(name) && /^[ :(,]/.test(heading.slice(name.length)))
}

/** Every pointer in one file's text; a comment's lines are joined first (a heading in quotes may wrap). */
function pointersIn(from: string, text: string): Pointer[] {
  const joined = text.replace(/\n[ \t]*(?:\*|\/\/|#)?[ \t]*/g, ' ')
  const found: Pointer[] = []
  const named = /(?<![\w/.-])(docs\/[\w/-]+\.md|(?:README|SECURITY|BENCHMARKS|CHANGELOG|CONTRIBUTING)(?:\.md)?)(?:,? \\?"([^"\\]+)\\?")?/g
  for (const [, name = '', heading] of joined.matchAll(named)) {
    const file = name.endsWith('.md') ? name : `${name}.md`
    // A bare word ("the README's test command") is no pointer unless a heading follows it.
    if (name === file || heading) found.push({ from, file, heading })
  }
  const urls = new RegExp(`${REPOSITORY_BLOB.replaceAll('.', '\\.')}([\\w./-]+)(?:#([\\w-]+))?`, 'g')
  for (const [, file = '', anchor] of joined.matchAll(urls)) found.push({ from, file, anchor })
  return found
}

function allPointers(): Pointer[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && f !== SELF && !SKIPPED.test(f) && fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false })?.isFile())
  return files.flatMap((f) => pointersIn(f, fs.readFileSync(path.join(ROOT, f), 'utf8')))
}

/** What is wrong with a pointer, or null when it leads somewhere. */
function broken(p: Pointer): string | null {
  if (!fs.existsSync(path.join(ROOT, p.file))) return `${p.from}: ${p.file} does not exist`
  if (!p.file.endsWith('.md')) return null
  const { headings, bold } = landmarks(p.file)
  const named = [...headings, ...bold]
  if (p.heading && !named.some((h) => namesHeading(p.heading!, h))) return `${p.from}: ${p.file} has no heading "${p.heading}"`
  if (p.anchor && !headings.some((h) => slug(h) === p.anchor)) return `${p.from}: ${p.file} has no heading #${p.anchor}`
  return null
}

describe('pointers from code to the documentation', () => {
  it('reads the forms the code uses', () => {
    const text = [
      '/** see docs/cli.md, "JSON output"; (README, "Bundlers") and',
      ' *  docs/troubleshooting.md,',
      ' *  "Logging". */',
      `'(${REPOSITORY_BLOB}docs/bundlers.md#bundlers).'`,
      '"description": "(docs/cli.md, \\"JSON output\\")"',
      "# runs the README's test command; seeds/README.md",
    ].join('\n')
    expect(pointersIn('x', text)).toEqual([
      { from: 'x', file: 'docs/cli.md', heading: 'JSON output' },
      { from: 'x', file: 'README.md', heading: 'Bundlers' },
      { from: 'x', file: 'docs/troubleshooting.md', heading: 'Logging' },
      { from: 'x', file: 'docs/cli.md', heading: 'JSON output' },
      { from: 'x', file: 'docs/bundlers.md', anchor: 'bundlers' },
    ])
  })

  it('a moved heading, a missing page or a stale anchor is reported', () => {
    expect(broken({ from: 'x', file: 'README.md', heading: 'Bundlers' })).toBe('x: README.md has no heading "Bundlers"')
    expect(broken({ from: 'x', file: 'docs/nothing.md' })).toBe('x: docs/nothing.md does not exist')
    expect(broken({ from: 'x', file: 'docs/cli.md', anchor: 'json-output' })).toBe('x: docs/cli.md has no heading #json-output')
    expect(broken({ from: 'x', file: 'docs/cli.md', anchor: 'json-output---json-schema-1' })).toBeNull()
    expect(broken({ from: 'x', file: 'docs/portmapper.md', heading: 'The journal' })).toBeNull()
    expect(broken({ from: 'x', file: 'SECURITY.md', heading: 'Terminal safety' })).toBeNull() // a bold lead-in
  })

  it('every page, heading and anchor named in the code exists', () => {
    const pointers = allPointers()
    // The scan finds what it should: the help text, the browser error, the doc comments.
    expect(pointers.map((p) => p.from)).toEqual(expect.arrayContaining(['cli/help.ts', 'browser.cjs', 'lib/portmapper/options.ts']))
    expect(pointers.map(broken).filter((b) => b !== null)).toEqual([])
  })
})
