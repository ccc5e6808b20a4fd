// CHANGELOG.md and package.json's version, kept together.
//   node scripts/changelog.mjs check            the current version has a section (CI: a
//                                               version bump without an entry fails)
//   node scripts/changelog.mjs notes [VERSION]  prints that version's section (the GitHub
//                                               Release's notes); it must be dated
//                                               (`## [X.Y.Z] - YYYY-MM-DD`) by the release
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const fail = (message) => {
  console.error(`changelog: ${message}`)
  process.exit(1)
}

/** The section of `version`: its heading line and body (up to the next `## ` or the links). */
export function section(changelog, version) {
  const lines = changelog.split('\n')
  const start = lines.findIndex((l) => l.startsWith(`## [${version}]`))
  if (start === -1) return null
  let end = lines.findIndex((l, i) => i > start && (l.startsWith('## ') || /^\[[^\]]+\]: /.test(l)))
  if (end === -1) end = lines.length
  return {
    heading: lines[start],
    body: lines
      .slice(start + 1, end)
      .join('\n')
      .trim(),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, wanted] = process.argv.slice(2)
  const changelog = fs.readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8')
  const version = wanted ?? JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version
  const found = section(changelog, version)
  if (!found) fail(`CHANGELOG.md has no "## [${version}]" section: add one for this version (what changed, per Keep a Changelog)`)
  if (!found.body) fail(`the "## [${version}]" section of CHANGELOG.md is empty`)
  if (mode === 'check') {
    console.log(`changelog: ${found.heading}`)
  } else if (mode === 'notes') {
    if (!/^## \[[^\]]+\] - \d{4}-\d{2}-\d{2}$/.test(found.heading)) {
      fail(`"${found.heading}" has no release date: write "## [${version}] - YYYY-MM-DD" before tagging`)
    }
    process.stdout.write(`${found.body}\n`)
  } else {
    fail('usage: node scripts/changelog.mjs check | notes [VERSION]')
  }
}
