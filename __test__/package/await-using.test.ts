// `await using` with PortMapper and Mapping, in the syntax itself (Node 24+), run by
// .ci/node-matrix.sh under every Node version package.json claims: the mappings are on
// miniupnpd inside the block and gone (`upnpc -l`) as each block ends, while the process still
// runs. The syntax is in a plain .mjs child (__test__/fixtures/await-using.mjs) that Node
// parses itself: this file goes through vitest's transform, which could lower it.
// Node 22 has no `await using` (a SyntaxError): there the test is skipped, and a second test
// checks that the syntax really is missing, so the skip cannot hide a Node that has it.
// `[Symbol.asyncDispose]()` itself is tested on every Node in __test__/unit/signals.test.ts.
import { spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import vm from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, upnpcDelete, upnpcList } from '../lab/lab.ts'

const OUTER_PORT = 47710
const INNER_PORT = 47711
const FIXTURE = path.join(repoRoot(), '__test__/fixtures/await-using.mjs')
const major = Number(process.versions.node.split('.')[0])
const hasAwaitUsing = major >= 24

/** Whether this Node parses `await using` (the function is made, never called). */
function parsesAwaitUsing(): boolean {
  try {
    return typeof vm.runInNewContext('(async () => { await using x = null })') === 'function'
  } catch {
    return false
  }
}

/** The fixture as a child under this same Node: its stdout lines in order, stdin to go on. */
function startFixture() {
  const child = spawn(process.execPath, [FIXTURE, String(OUTER_PORT), String(INNER_PORT)], {
    cwd: repoRoot(),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines: string[] = []
  const waiting: ((line: string) => void)[] = []
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiting.shift()
    if (waiter) waiter(line)
    else lines.push(line)
  })
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // A line, or (when the fixture ends instead) why: its exit code and stderr.
  const next = (): Promise<string> =>
    Promise.race([
      new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiting.push(resolve))),
      exitCode.then((code) => `exited with ${code}: ${stderr.trim()}`),
    ])
  return {
    next,
    /** Lets the fixture take its next step. */
    goOn: () => child.stdin.write('\n'),
    exitCode,
    kill: () => child.kill('SIGKILL'),
  }
}

const listed = async (): Promise<number[]> =>
  (await upnpcList())
    .filter((m) => m.protocol === 'UDP' && (m.externalPort === OUTER_PORT || m.externalPort === INNER_PORT))
    .map((m) => m.externalPort)
    .sort()

beforeAll(() => {
  // What the runner prints: which Node ran this file, and whether the syntax test ran.
  console.info(`await using: Node ${process.version}, ${hasAwaitUsing ? 'runs' : 'skipped (no await using before Node 24)'}`)
})

afterAll(async () => {
  for (const externalPort of [OUTER_PORT, INNER_PORT]) await upnpcDelete({ externalPort, protocol: 'UDP' }).catch(() => {})
})

describe(`await using under Node ${process.version}`, () => {
  it.skipIf(!hasAwaitUsing)('each block deletes its mapping on miniupnpd when it ends (Mapping, then PortMapper)', async () => {
    const fixture = startFixture()
    try {
      expect(await fixture.next()).toBe(`NODE ${process.version}`)
      expect(await fixture.next()).toBe(`MAPPED ${INNER_PORT}`)
      expect(await listed()).toEqual([OUTER_PORT, INNER_PORT])
      fixture.goOn()
      expect(await fixture.next()).toBe('LEFT MAPPING BLOCK')
      expect(await listed()).toEqual([OUTER_PORT])
      fixture.goOn()
      expect(await fixture.next()).toBe('LEFT MAPPER BLOCK')
      expect(await listed()).toEqual([])
      fixture.goOn()
      expect(await fixture.exitCode).toBe(0)
    } finally {
      fixture.kill()
    }
  })

  it('the skip above is only for a Node without the syntax', () => {
    expect(parsesAwaitUsing()).toBe(hasAwaitUsing)
  })
})
