// The Godot differential suite: every scenario runs through the real Godot engine
// (godot3-server, driver.gd) and through upnp-native (native-driver.ts) against the same lab
// state; a table per scenario, a summary line, exit code 1 on any unexplained difference or
// stale deviation. Run inside the lab:  bash __test__/lab/lab.sh godot [scenario-id ...]
import { assertInLab } from '../lab/lab.ts'
import { compareRuns } from './compare.ts'
import { Lab } from './environment.ts'
import { godotVersion, runGodot } from './godot.ts'
import { runNative } from './native-driver.ts'
import { printScenario } from './report.ts'
import type { Scenario } from './scenario.ts'
import { callScenarios } from './scenarios/calls.ts'
import { discoveryScenarios } from './scenarios/discovery.ts'
import { gatewayScenarios } from './scenarios/gateways.ts'
import { judge, staleDeviations, type Verdict } from './verdicts.ts'

const SCENARIOS: Scenario[] = [...discoveryScenarios, ...gatewayScenarios, ...callScenarios]

async function main(): Promise<number> {
  assertInLab()
  const version = await godotVersion()
  if (!version) {
    console.error('godot: godot3-server is not installed (Debian: apt-get install godot3-server)')
    return 2
  }
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.id === w))
  if (unknown.length) {
    console.error(`godot: no scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(' ')}`)
    return 2
  }
  const scenarios = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.id)) : SCENARIOS
  const started = Date.now()
  const used = new Set<string>()
  const all: Verdict[] = []
  let engine = version
  const lab = await Lab.open()
  try {
    for (const s of scenarios) {
      await lab.prepare(s.env)
      const godot = await runGodot(s.steps)
      engine = godot.engine
      const godotObserved = await lab.observe()
      await lab.prepare(s.env)
      const ours = await runNative(s.steps)
      const oursObserved = await lab.observe()
      const rows = compareRuns(s.steps, { outcomes: godot.outcomes, observed: godotObserved }, { outcomes: ours, observed: oursObserved })
      const verdicts = judge(s.id, rows, used)
      printScenario(s.id, s.title, engine, verdicts)
      all.push(...verdicts)
    }
  } finally {
    await lab.close()
  }
  // Whether a listed deviation still shows can only be judged over every scenario.
  const stale = wanted.length
    ? []
    : staleDeviations(
        scenarios.map((s) => s.id),
        used,
      )
  const count = (k: Verdict['kind']) => all.filter((v) => v.kind === k).length
  const unexplained = count('unexplained')
  console.log('')
  for (const d of stale) console.log(`✗ stale deviation ${d.id} (${d.what}): no row shows it any more`)
  console.log(
    `Godot differential (Godot ${engine} vs upnp-native): ${scenarios.length} scenarios, ${all.length} rows: ` +
      `${count('agree')} agree, ${all.length - count('agree')} differ (${count('deliberate')} deliberate, ` +
      `${unexplained} unexplained); ${used.size} deviations shown, ` +
      `${wanted.length ? 'stale not judged (a subset ran)' : `${stale.length} stale`}; ${Math.round((Date.now() - started) / 1000)} s`,
  )
  return unexplained || stale.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err)
    process.exit(1)
  },
)
