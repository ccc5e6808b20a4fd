// The command line before any network: help, version, usage errors and their exit code 2,
// the JSON document of a usage error. The CLI runs as a child process in a network namespace
// of its own with no usable interface (`offline`), so a check that regressed fails here
// instead of searching the network this runs on.
import { describe, expect, it } from 'vitest'
import { leaseNote, parseLease } from '../../cli/args.ts'
import { duration } from '../../cli/format.ts'
import { cli as runCli, expectUsageError, json, plain, type Run, VERSION } from '../helpers/cli-run.ts'

const cli = (args: string[]): Promise<Run> => runCli(args, { offline: true })

// Each case is its own process: run them side by side.
describe.concurrent('usage errors and exit codes', () => {
  // One test per command rather than one for all: each starts its own processes, and they
  // can run side by side.
  it('--help prints the main usage: every command and global option, the exit codes; exit 0', async () => {
    const main = plain(await cli(['--help']))
    expect(main.code).toBe(0)
    for (const command of ['status', 'map <port>', 'unmap <port>', 'list', 'ip', 'doctor']) expect(main.stdout).toContain(`  ${command} `)
    for (const option of [
      '--json',
      '--timeout',
      '--interface',
      '--ipv6',
      '--protocol',
      '--quiet',
      '--no-color',
      '--version',
      '--gateway',
    ]) {
      expect(main.stdout).toContain(option)
    }
    expect(main.stdout).toMatch(/Exit codes: 0 success, 1 .*2 usage error,\s+3 no usable gateway/)
    // Where "please report it" sends people: package.json's issue tracker.
    expect(main.stdout).toMatch(/\n\nReport bugs: https:\/\/github\.com\/upnp-native\/upnp-native\/issues\n$/)
  })

  it.each(['status', 'map', 'unmap', 'list', 'ip', 'doctor'])(
    '`%s --help` and `help %s` print the same usage with examples; exit 0',
    async (command) => {
      const [a, b] = await Promise.all([cli([command, '--help']), cli(['help', command])])
      plain(a)
      plain(b)
      expect(a.code).toBe(0)
      expect(a.stdout).toBe(b.stdout)
      expect(a.stdout).toMatch(new RegExp(`^Usage: upnp-native ${command}`))
      expect(a.stdout).toMatch(/Examples:\n {2}upnp-native /)
      if (command === 'map') expect(a.stdout).toContain('--keep')
    },
  )

  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const r = plain(await cli([flag]))
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`${VERSION}\n`)
    }
  })

  it.each([
    [['mpa', '7777'], /unknown command "mpa"/, /Did you mean `upnp-native map`/],
    [['--timout', '3'], /unknown option --timout/, /Did you mean --timeout/],
    [['map'], /the port to map is missing/, /upnp-native map --help/],
    [['map', '70000'], /"70000" is not a port number \(1-65535\)/, /map --help/],
    [['map', 'http'], /"http" is not a port number/, /map --help/],
    [['map', '7777', '7778'], /`map` takes one port, got 2/, /map --help/],
    [['map', '7777', '--internal', '0'], /--internal "0" is not a port number/, /map --help/],
    [['map', '7777', '--udp', '--tcp'], /choose one of --udp, --tcp and --both/, /map --help/],
    [['map', '7777', '--lease', 'soon'], /--lease "soon" is not a duration/, /--lease 30m/],
    [['map', '7777', '--internal'], /option --internal needs a value/, /map --help/],
    [['list', '--keep'], /--keep is not an option of `list`/, /--keep belongs to `map`/],
    [['unmap'], /the port to unmap is missing/, /unmap --help/],
    [['status', 'now'], /`status` takes no arguments/, /--help/],
    [['--timeout', '0'], /--timeout "0" is not a time/, /--timeout 800ms/],
    [['--protocol', 'smoke'], /--protocol must be upnp, pmp, pcp or auto/, /--help/],
    [['ip', '--protocol', 'pcp'], /PCP has no way to ask for the external address without making a mapping/, /--protocol pmp/],
    [['list', '--protocol', 'pmp'], /NAT-PMP has no mapping table to list/, /--protocol upnp/],
    [
      ['unmap', '7777', '--protocol', 'pcp'],
      /a PCP mapping can only be deleted by the program that made it/,
      /map <port> --keep --protocol pcp/,
    ],
    [['map', '7777', '--protocol', 'pmp'], /with --protocol pmp, map needs --keep/, /upnp-native map 7777 --keep --protocol pmp/],
    [['status', '--protocol', 'pmp', '--ipv6'], /--ipv6 works with UPnP only/, /--protocol upnp/],
    [['--quiet=yes'], /option --quiet takes no value/, /--help/],
  ])('%j -> exit 2, what is wrong and what to do', async (args, message, fix) => {
    expectUsageError(await cli(args), message, fix)
  })

  it('a usage error with --json is a JSON document (exit 2), even from the parser', async () => {
    for (const [args, command] of [
      [['map', '99999', '--json'], 'map'],
      [['--json', '--bogus'], 'status'],
      [['frobnicate', '--json'], null],
    ] as const) {
      const r = plain(await cli([...args]))
      expect(r.code).toBe(2)
      expect(r.stderr).toBe('')
      expect(json(r)).toMatchObject({
        schema: 1,
        command,
        ok: false,
        exitCode: 2,
        error: { code: 'USAGE', message: expect.any(String), fix: expect.any(String) },
      })
    }
  })
})

// What `map` prints ("lease 10 min", "1 h 30 min") is what --lease takes back (issue 22:
// `--lease 10min` was refused), and a bare number stays seconds, with a note under a minute.
describe('--lease in the forms the CLI prints', () => {
  it('every duration the CLI prints parses back to the same seconds', () => {
    for (const seconds of [1, 59, 90, 600, 3599, 3600, 5400, 7200, 86_400, 90_000, 604_800]) {
      expect(parseLease(duration(seconds)), duration(seconds)).toBe(seconds)
    }
  })

  it.each([
    ['10min', 600],
    ['10 min', 600],
    ['10m', 600],
    ['1h30m', 5400],
    ['1 h 30 min', 5400],
    ['2H', 7200],
    ['90s', 90],
    ['90 sec', 90],
    ['7d', 604_800],
    ['3600', 3600],
    ['0', 0],
    ['permanent', 0],
  ])('%s = %i s', (text, seconds) => {
    expect(parseLease(text)).toBe(seconds)
  })

  it.each(['10 minutes', 'soon', '1.5h', '-5', 'h', '10 m x'])('%s is refused', (text) => {
    expect(() => parseLease(text)).toThrow(/is not a duration/)
  })

  it('a bare number under a minute gets a note; others do not', () => {
    expect(leaseNote('10')).toBe('note: --lease 10 is 10 seconds (a bare number is seconds); for minutes write --lease 10m.')
    expect(leaseNote('1')).toMatch(/is 1 second \(/)
    for (const quiet of ['0', '60', '3600', '10m', '10 min']) expect(leaseNote(quiet)).toBeNull()
  })
})
