// Sleep and resume: after the machine slept (wall clock ahead of the monotonic clock) or the
// process was paused or starved (timers far too late), every mapping is checked at once.
// The clock comparison with fake clocks; then a real paused process (SIGSTOP/SIGCONT) whose
// mapping the router forgot meanwhile.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { missedMs, WakeWatch } from '../../../lib/portmapper/wake-watch.ts'
import { repoRoot, upnpcDelete, upnpcList } from '../../lab/lab.ts'

describe('WakeWatch (fake clocks)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  function watch() {
    vi.useFakeTimers()
    const clock = { wall: 1_700_000_000_000, monotonic: 1000 }
    const wakes: number[] = []
    const w = new WakeWatch((ms) => wakes.push(ms), {
      intervalMs: 5000,
      thresholdMs: 5000,
      wall: () => clock.wall,
      monotonic: () => clock.monotonic,
    })
    /** Time passes on both clocks; the watch's timer fires when its interval is due. */
    const pass = (ms: number, { wallOnly = 0 } = {}) => {
      clock.wall += ms + wallOnly
      clock.monotonic += ms
      vi.advanceTimersByTime(ms)
    }
    return { w, clock, wakes, pass }
  }

  it('on time: nothing; ticks keep coming', () => {
    const { w, wakes, pass } = watch()
    w.start()
    for (let i = 0; i < 10; i++) pass(5000)
    expect(wakes).toEqual([])
    expect(w.running).toBe(true)
    w.stop()
    expect(w.running).toBe(false)
  })

  it('slept: the wall clock jumped while the monotonic clock stood still (Linux, macOS)', () => {
    const { w, wakes, pass, clock } = watch()
    w.start()
    pass(2000)
    clock.wall += 3_600_000 // one hour asleep, invisible to the monotonic clock
    pass(3000)
    expect(wakes).toEqual([3_600_000])
    pass(5000)
    expect(wakes).toHaveLength(1) // once
  })

  it('paused or starved: the timer fired far too late on both clocks', () => {
    const { w, wakes, clock } = watch()
    w.start()
    // The process did not run for 40 s: when it runs again, the due timer fires at once.
    clock.wall += 40_000
    clock.monotonic += 40_000
    vi.advanceTimersByTime(5000)
    expect(wakes).toEqual([35_000])
  })

  it('small jitter and clock slews are not a wake; a clock set backwards is', () => {
    expect(missedMs(5000, 5200, 5150)).toBe(150)
    expect(missedMs(5000, 5000, 5000)).toBe(0)
    expect(missedMs(5000, -60_000, 5000)).toBe(65_000)
    const { w, wakes, pass } = watch()
    w.start()
    pass(5000, { wallOnly: 900 })
    pass(5000)
    expect(wakes).toEqual([])
  })

  it('stopped: no timer left', () => {
    const { w } = watch()
    w.start()
    w.stop()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('PortMapper after a pause', () => {
  const PORT = 47600
  afterAll(async () => {
    await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })
  })

  it('SIGSTOP for 12 s, the router forgot the mapping meanwhile: lost and restored at once after SIGCONT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot(), '__test__/fixtures/sleeper.ts'), String(PORT)], {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    const saw = (line: string, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes(`${line}\n`)) {
            clearTimeout(timer)
            child.stdout?.off('data', check)
            resolve()
          }
        }
        const timer = setTimeout(() => reject(new Error(`no ${line} within ${ms} ms: ${out}`)), ms)
        child.stdout?.on('data', check)
        check()
      })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await saw(`MAPPED ${PORT}`, 10_000)
      child.kill('SIGSTOP')
      expect((await upnpcDelete({ externalPort: PORT, protocol: 'UDP' })).ok).toBe(true)
      expect((await upnpcList()).some((m) => m.externalPort === PORT)).toBe(false)
      await new Promise((r) => setTimeout(r, 12_000))
      child.kill('SIGCONT')
      // Without the wake check the next look would be 10 minutes away.
      await saw('LOST', 5000)
      await saw('RESTORED', 5000)
      expect((await upnpcList()).some((m) => m.externalPort === PORT)).toBe(true)
    } finally {
      child.kill('SIGKILL')
    }
  }, 40_000)
})
