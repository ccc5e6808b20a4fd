// CHANGELOG.md against package.json's version (scripts/changelog.mjs): CI's check that a
// version bump has its entry, and the notes the release workflow publishes.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../lab/lab.ts'

const ROOT = repoRoot()
const SCRIPT = path.join(ROOT, 'scripts/changelog.mjs')
const version: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version

function changelog(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    })
  })
}

describe('CHANGELOG.md', () => {
  it("has a section for package.json's version", async () => {
    const r = await changelog('check')
    expect(r, r.stderr).toMatchObject({ code: 0 })
    expect(r.stdout).toContain(`## [${version}]`)
  })

  it('a bumped version without a section fails the check, naming what to add', async () => {
    const r = await changelog('check', '99.0.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('CHANGELOG.md has no "## [99.0.0]" section')
  })

  it("release notes are one version's section: its body, without its heading, the next version or the links", async () => {
    const { section } = (await import(SCRIPT)) as { section: (text: string, version: string) => { heading: string; body: string } | null }
    const text = [
      '# Changelog',
      '',
      '## [0.2.0] - 2027-01-02',
      '',
      '### Fixed',
      '',
      '- a fix',
      '',
      '## [0.1.0] - 2026-12-24',
      '',
      '- first',
      '',
      '[0.2.0]: https://example.invalid/v0.2.0',
      '',
    ].join('\n')
    expect(section(text, '0.2.0')).toEqual({ heading: '## [0.2.0] - 2027-01-02', body: '### Fixed\n\n- a fix' })
    expect(section(text, '0.1.0')).toEqual({ heading: '## [0.1.0] - 2026-12-24', body: '- first' })
    expect(section(text, '0.3.0')).toBeNull()
  })

  it('an undated section is refused as release notes, naming the heading to write', async () => {
    const r = await changelog('notes', version)
    const dated = /^## \[[^\]]+\] - \d{4}-\d{2}-\d{2}$/m.test(fs.readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'))
    if (dated) return expect(r.code).toBe(0)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`write "## [${version}] - YYYY-MM-DD" before tagging`)
  })
})
