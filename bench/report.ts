// Turns one bench run into the side-by-side Markdown table (with ratios and PASS/MISS per
// target) and an SVG chart. No dependencies: the SVG is written by hand.
import type { LatencyResult } from './latency.ts'
import { renderLatency } from './report-latency.ts'
import { fmt, fmtSummary, type Summary } from './stats.ts'

export interface PairsCell {
  rate: Summary
  pairs: number
  /** Mappings the router still listed (upnpc -l) although the library reported both the add
   *  and the delete as done: deletes that silently do not work. */
  leftBehind: number
  /** Mappings still listed on ports where the library reported a failed add or delete, or
   *  that the router created only after the run was checked (an add it dequeued late). */
  leftAfterFailure: number
  failures: number
  errors: Record<string, number>
  addMedianMs: number
  deleteMedianMs: number
  elapsedMs: Summary
  concurrency: number
}

export interface Target {
  id: string
  label: string
  value: string
  ratio: number
  want: string
  pass: boolean
  note?: string
}

export interface Results {
  meta: {
    date: string
    quick: boolean
    node: string
    cpus: number
    cpuModel: string
    kernel: string
    versions: Record<string, string>
    reps: Record<string, number>
    pairsPerRep: Record<string, Record<string, number>>
    durationS?: number
    noise?: { loadAtStart: number; loadMean: number; loadMax: number; cpuBusyPct: number }
    phaseS?: Record<string, number>
  }
  discovery: Record<
    'floor' | 'nativeUntil' | 'natpmGateway' | 'natpmUsable' | 'natapi' | 'nativeGodot' | 'miniupnpc' | 'miniupnpcSearch',
    Summary
  >
  discoveryFailures: string[]
  extip: Record<string, Summary>
  pairs: Record<string, Partial<Record<'seq' | 'c8' | 'c64', PairsCell>>>
  eventloop: Record<
    string,
    { max: Summary; p99: Summary; ops: number; failures: number; discoveryMax?: Summary; opsMax?: Summary; leftBehind?: number }
  >
  memory: Record<
    string,
    {
      rssGrowthMB: Summary
      heapGrowthMB: Summary
      ops: number
      failures: number
      rssBeforeMB?: number
      leftBehind?: number
      rssGrowthNextMB?: Summary
    }
  >
  size: {
    nativeNode: { file: string; bytes: number; stripped: boolean }
    nativeJs: number
    miniupnpcSo: { file: string; bytes: number }
    peers: Record<string, { bytes: number; packages: number }>
  }
  require: Record<string, Summary>
  /** At real router latency (bench/latency.ts). */
  latency?: LatencyResult[]
  targets: Target[]
  /** Mappings that appeared with no failed operation to explain them (should stay empty). */
  unexplained?: string[]
}

const LIBS = ['miniupnpc', 'upnp-native', 'nat-port-mapper', 'nat-api'] as const
const TITLE: Record<string, string> = {
  miniupnpc: 'miniupnpc (C, Godot)',
  'upnp-native': 'upnp-native',
  'nat-port-mapper': '@achingbrain/nat-port-mapper',
  'nat-api': '@silentbot1/nat-api',
}
const COLOR: Record<string, string> = {
  miniupnpc: '#7f7f7f',
  'upnp-native': '#1f6fb4',
  'nat-port-mapper': '#e0861b',
  'nat-api': '#8a56b8',
  floor: '#3a9a3a',
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN)
const x = (v: number) => (Number.isFinite(v) ? `${fmt(v)}x` : '–')

/** A pairs/s cell: a speed only when every delete really removed its mapping. */
function pairsText(c: PairsCell | undefined, seqMini: number, unitCol = false): string {
  if (!c) return '–'
  if (c.leftBehind > 0) return `**${c.leftBehind} mappings left behind after ${c.pairs} pairs, deletes reported success**`
  let s = `${fmtSummary(c.rate)}${unitCol ? ' pairs/s' : ''} (${x(ratio(c.rate.median, seqMini))})`
  if (c.failures > 0) s += ` — **${c.failures} failed ops${c.leftAfterFailure ? `, ${c.leftAfterFailure} mappings left` : ''}**`
  return s
}

export function renderMarkdown(r: Results): string {
  const d = r.discovery
  const seqMini = r.pairs.miniupnpc?.seq?.rate.median ?? Number.NaN
  const rows: string[][] = []
  const row = (label: string, cells: Record<string, string>) => rows.push([label, ...LIBS.map((l) => cells[l] ?? '–')])

  row('Time to a usable gateway, Godot-style `discover()` (waits the 2000 ms timeout), ms', {
    miniupnpc: `${fmtSummary(d.miniupnpc)} (upnpDiscover + UPNP_GetValidIGD)`,
    'upnp-native': fmtSummary(d.nativeGodot),
    'nat-port-mapper': 'no such mode',
    'nat-api': 'no such mode',
  })
  row(`Time to a usable gateway, earliest, ms (router's SSDP reply: ${fmtSummary(d.floor)})`, {
    miniupnpc: 'cannot return early',
    'upnp-native': `${fmtSummary(d.nativeUntil)} with \`untilGateway\` (${x(ratio(d.nativeUntil.median, d.floor.median))} the router's reply)`,
    'nat-port-mapper': `${fmtSummary(d.natpmUsable)} (gateway yielded at ${fmt(d.natpmGateway.median)}, + externalIp())`,
    'nat-api': `${fmtSummary(d.natapi)} (first externalIp())`,
  })
  row(
    'GetExternalIPAddress latency, ms',
    Object.fromEntries(LIBS.map((l) => [l, fmtSummary(r.extip[l]) + (l === 'nat-api' ? ' (searches first)' : '')])),
  )
  for (const [mode, label] of [
    ['seq', 'Add+delete pairs/s, sequential'],
    ['c8', 'Add+delete pairs/s, 8 in flight'],
    ['c64', 'Add+delete pairs/s, 64 in flight'],
  ] as const) {
    row(
      `${label} (x miniupnpc sequential)`,
      Object.fromEntries(
        LIBS.map((l) => {
          const t = pairsText(r.pairs[l]?.[mode], seqMini)
          return [l, l === 'miniupnpc' && mode !== 'seq' && t !== '–' ? `${t}, ${mode === 'c8' ? 8 : 64} threads` : t]
        }),
      ),
    )
  }
  row(
    'Add / delete latency (median of per-run medians), ms',
    Object.fromEntries(
      LIBS.map((l) => {
        const c = r.pairs[l]?.seq
        return [l, c ? `${fmt(c.addMedianMs)} / ${fmt(c.deleteMedianMs)}` : '–']
      }),
    ),
  )
  const el = (l: string) => {
    if (l === 'miniupnpc') return `blocks its thread for each whole call (discover: ${fmt(d.miniupnpc.median)} ms)`
    const e = r.eventloop[l]
    if (!e) return '–'
    const extra = e.ops !== 1000 ? ` (${e.ops} ops only: too slow for 1,000)` : ''
    return `${fmtSummary(e.max)} / ${fmtSummary(e.p99)}${extra}${e.failures ? `, ${e.failures} failed ops` : ''}`
  }
  const idle = r.eventloop.idle
  row(
    `Event-loop delay during discovery + 1,000 ops (8 in flight), max / p99, ms (idle process: ${idle ? `${fmtSummary(idle.max)} / ${fmtSummary(idle.p99)}` : '–'})`,
    Object.fromEntries(LIBS.map((l) => [l, el(l)])),
  )
  row(
    'RSS growth over N ops (after warm-up, gc), MB',
    Object.fromEntries(
      LIBS.map((l) => {
        const m = r.memory[l]
        if (!m) return [l, '–']
        const next = m.rssGrowthNextMB ? `; next ${m.ops.toLocaleString('en-US')}: ${fmtSummary(m.rssGrowthNextMB)}` : ''
        const heap = m.heapGrowthMB.n ? ` (JS heap ${fmt(m.heapGrowthMB.median)})` : ''
        return [
          l,
          `${fmtSummary(m.rssGrowthMB)} over ${m.ops.toLocaleString('en-US')}${heap}${next}${m.failures ? `, ${m.failures} failed` : ''}`,
        ]
      }),
    ),
  )
  row('On disk', {
    miniupnpc: `${r.size.miniupnpcSo.file}: ${mb(r.size.miniupnpcSo.bytes)}`,
    'upnp-native': `${r.size.nativeNode.file}: ${mb(r.size.nativeNode.bytes)}${r.size.nativeNode.stripped ? ' (stripped release)' : ' (NOT stripped)'} + ${(r.size.nativeJs / 1024).toFixed(0)} KB JS`,
    'nat-port-mapper': `${mb(r.size.peers['nat-port-mapper']!.bytes)} in ${r.size.peers['nat-port-mapper']!.packages} packages`,
    'nat-api': `${mb(r.size.peers['nat-api']!.bytes)} in ${r.size.peers['nat-api']!.packages} packages`,
  })
  row('`require` / `import` time, fresh process, ms', {
    miniupnpc: 'linked in',
    'upnp-native': `${fmtSummary(r.require['upnp-native'])} (addon alone ${fmtSummary(r.require['upnp-native (addon only)'])})`,
    'nat-port-mapper': fmtSummary(r.require['nat-port-mapper']),
    'nat-api': fmtSummary(r.require['nat-api']),
  })

  const v = r.meta.versions
  const out: string[] = []
  out.push(
    `Run of ${r.meta.date}${r.meta.quick ? ' (**--quick**: fewer repetitions)' : ''}: ${r.meta.cpus} x ${r.meta.cpuModel}, Linux ${r.meta.kernel}, Node ${r.meta.node}; ` +
      `router ${v.router}; miniupnpc ${v.miniupnpc}, nat-port-mapper ${v['nat-port-mapper']}, nat-api ${v['nat-api']}, upnp-native ${v['upnp-native']}. ` +
      `Figures: median [min–max] over the repetitions; ratios against miniupnpc's sequential figure of the same run.`,
  )
  if (r.meta.noise) {
    out.push('')
    out.push(
      `Machine load during the run (${r.meta.durationS} s): load average ${r.meta.noise.loadAtStart} at the start, mean ${r.meta.noise.loadMean}, max ${r.meta.noise.loadMax}; ` +
        `CPU busy ${r.meta.noise.cpuBusyPct}% of ${r.meta.cpus} cores (the bench and the router alone keep about one core busy).`,
    )
    if (r.meta.noise.loadMean > 1.6) {
      out.push('')
      out.push(
        `**Warning: the machine was busy with other work (mean load ${r.meta.noise.loadMean} on ${r.meta.cpus} cores). Every operation here is a few ` +
          'hundred microseconds of wake-ups between processes, so a busy scheduler stretches them: treat these figures as noisy and rerun on a quiet machine.**',
      )
    }
  }
  if (r.latency?.length) {
    out.push('')
    out.push(renderLatency(r.latency))
    out.push('### Beside the npm peers (no delay)')
  }
  out.push('')
  out.push(`| | ${LIBS.map((l) => `${TITLE[l]} ${v[l] ?? ''}`.trim()).join(' | ')} |`)
  out.push(`|---|${LIBS.map(() => '---').join('|')}|`)
  for (const cells of rows) out.push(`| ${cells.join(' | ')} |`)
  out.push('')
  out.push('| target (upnp-native) | measured | ratio | want | |')
  out.push('|---|---|---|---|---|')
  for (const t of r.targets) {
    out.push(
      `| ${t.label} | ${t.value}${t.note ? ` (${t.note})` : ''} | ${Number.isFinite(t.ratio) ? fmt(t.ratio) : '–'} | ${t.want} | ${t.pass ? 'PASS' : '**MISS**'} |`,
    )
  }
  const missed = r.targets.filter((t) => !t.pass)
  out.push('')
  out.push(missed.length === 0 ? 'All targets met.' : `**Missed: ${missed.map((t) => t.label).join('; ')}.**`)
  const notes: string[] = []
  for (const [lib, modes] of Object.entries(r.pairs)) {
    for (const [mode, c] of Object.entries(modes)) {
      if (!c) continue
      if (c.leftBehind > 0)
        notes.push(
          `${TITLE[lib]} ${mode}: after ${c.pairs} pairs the router still listed ${c.leftBehind} of the library's mappings on ports where it had reported every add and delete as done (it ran at ${fmt(c.rate.median)} pairs/s, which is not a speed of add+delete).`,
        )
      if (c.leftAfterFailure > 0)
        notes.push(
          `${TITLE[lib]} ${mode}: ${c.leftAfterFailure} mappings stayed behind after operations that had reported a failure (requests that timed out queued in the router's accept backlog; it processed the add after the delete, some after the run had ended).`,
        )
      const errs = Object.entries(c.errors)
      if (errs.length)
        notes.push(
          `${TITLE[lib]} ${mode}: ${errs
            .slice(0, 3)
            .map(([e, k]) => `${k} x "${e}"`)
            .join('; ')}.`,
        )
    }
  }
  for (const [lib, e] of Object.entries(r.eventloop))
    if (e.leftBehind) notes.push(`${TITLE[lib]} event-loop runs: ${e.leftBehind} mappings left behind.`)
  for (const [lib, m] of Object.entries(r.memory))
    if (m.leftBehind) notes.push(`${TITLE[lib]} memory run: ${m.leftBehind} of ${m.ops / 2} mappings left behind.`)
  for (const f of r.discoveryFailures) notes.push(`discovery failure: ${f}`)
  for (const u of r.unexplained ?? []) notes.push(`unexplained mapping: ${u}`)
  if (notes.length) {
    out.push('')
    out.push('Observed:')
    for (const n of notes) out.push(`- ${n}`)
  }
  return `${out.join('\n')}\n`
}

// ------------------------------------------------------------------ chart

interface Bar {
  label: string
  color: string
  s?: Summary
  text?: string
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function panel(
  y0: number,
  title: string,
  bars: Bar[],
  opts: { log: boolean; unit: string; ref?: { value: number; label: string } },
): { svg: string; height: number } {
  const W = 960
  const left = 300
  const right = 150
  const barH = 18
  const gap = 8
  const top = 30
  const plotW = W - left - right
  const vals = bars.flatMap((b) => (b.s ? [b.s.max, b.s.median] : [])).filter((v) => Number.isFinite(v) && v > 0)
  const hi = Math.max(...vals, opts.ref?.value ?? 0) * (opts.log ? 1.5 : 1.1)
  const lo = opts.log ? Math.min(...vals, opts.ref?.value ?? Infinity) / 1.5 : 0
  const pos = (v: number): number => {
    if (!Number.isFinite(v) || v <= 0) return 0
    if (opts.log) return Math.max(0, (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW
    return (v / hi) * plotW
  }
  const parts: string[] = []
  const height = top + bars.length * (barH + gap) + (opts.ref ? 36 : 24)
  parts.push(`<text x="10" y="${y0 + 20}" font-size="15" font-weight="bold">${esc(title)}</text>`)
  // axis ticks
  const ticks: number[] = []
  if (opts.log) {
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const t = m * 10 ** e
        if (t >= lo && t <= hi) ticks.push(t)
      }
    }
  } else {
    const step = 10 ** Math.floor(Math.log10(hi / 2))
    const nice = [1, 2, 5].map((m) => m * step).find((s) => hi / s <= 8) ?? step * 10
    for (let t = 0; t <= hi; t += nice) ticks.push(t)
  }
  const axisY = y0 + top + bars.length * (barH + gap)
  for (const t of ticks) {
    const tx = left + pos(t)
    parts.push(`<line x1="${tx}" y1="${y0 + top - 4}" x2="${tx}" y2="${axisY}" stroke="#e4e4e4"/>`)
    parts.push(`<text x="${tx}" y="${axisY + 14}" font-size="10" text-anchor="middle" fill="#666">${Number(t.toPrecision(3))}</text>`)
  }
  parts.push(`<text x="${left + plotW}" y="${axisY + 14}" font-size="10" text-anchor="start" fill="#666"> ${esc(opts.unit)}</text>`)
  bars.forEach((b, i) => {
    const y = y0 + top + i * (barH + gap)
    parts.push(`<text x="${left - 8}" y="${y + barH - 5}" font-size="12" text-anchor="end">${esc(b.label)}</text>`)
    if (!b.s || !Number.isFinite(b.s.median)) {
      parts.push(
        `<text x="${left + 4}" y="${y + barH - 5}" font-size="12" fill="#c0392b" font-weight="bold">${esc(b.text ?? 'n/a')}</text>`,
      )
      return
    }
    const w = Math.max(1, pos(b.s.median))
    parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color}" rx="2"/>`)
    if (b.s.n > 1) {
      const a = left + pos(b.s.min)
      const c = left + pos(b.s.max)
      const m = y + barH / 2
      parts.push(
        `<path d="M${a.toFixed(1)} ${m}H${c.toFixed(1)}M${a.toFixed(1)} ${m - 5}V${m + 5}M${c.toFixed(1)} ${m - 5}V${m + 5}" stroke="#222" stroke-width="1.2" fill="none"/>`,
      )
    }
    const labelX = left + Math.max(w, pos(b.s.max)) + 6
    parts.push(
      `<text x="${labelX.toFixed(1)}" y="${y + barH - 5}" font-size="12">${esc(fmt(b.s.median))}${b.text ? ` ${esc(b.text)}` : ''}</text>`,
    )
  })
  if (opts.ref) {
    const rx = left + pos(opts.ref.value)
    parts.push(`<line x1="${rx}" y1="${y0 + top - 6}" x2="${rx}" y2="${axisY + 4}" stroke="#c0392b" stroke-dasharray="4 3"/>`)
    parts.push(`<text x="${rx + 4}" y="${axisY + 26}" font-size="10" fill="#c0392b">${esc(opts.ref.label)}</text>`)
  }
  return { svg: parts.join('\n'), height: height + 12 }
}

export function renderChart(r: Results): string {
  const d = r.discovery
  const panels: { title: string; bars: Bar[]; log: boolean; unit: string; ref?: { value: number; label: string } }[] = []
  if (r.latency?.length) {
    panels.push({
      title: 'At router latency: upnp-native / miniupnpc, per round (higher is better)',
      log: false,
      unit: 'x miniupnpc',
      bars: r.latency.flatMap((l) => [
        { label: `${l.delayMs} ms delay, sequential pairs`, color: COLOR['upnp-native']!, s: l.ratios.seq },
        { label: `${l.delayMs} ms delay, 64-batch (vs best threads)`, color: COLOR.floor!, s: l.ratios.batch },
      ]),
      ref: { value: 1, label: 'miniupnpc = 1' },
    })
  }
  panels.push({
    title: 'Time to a usable gateway (ms, log scale; lower is better)',
    log: true,
    unit: 'ms',
    bars: [
      { label: "router's own SSDP reply (floor)", color: COLOR.floor!, s: d.floor },
      { label: 'upnp-native untilGateway', color: COLOR['upnp-native']!, s: d.nativeUntil },
      { label: 'nat-port-mapper (+ externalIp)', color: COLOR['nat-port-mapper']!, s: d.natpmUsable },
      { label: 'nat-api (first externalIp)', color: COLOR['nat-api']!, s: d.natapi },
      { label: 'upnp-native discover() 2000 ms', color: COLOR['upnp-native']!, s: d.nativeGodot },
      { label: 'miniupnpc / Godot, 2000 ms', color: COLOR.miniupnpc!, s: d.miniupnpc },
    ],
  })
  const seqMini = r.pairs.miniupnpc?.seq?.rate.median
  const pairBars: Bar[] = []
  for (const l of LIBS) {
    for (const [mode, name] of [
      ['seq', 'sequential'],
      ['c8', '8 in flight'],
      ['c64', '64 in flight'],
    ] as const) {
      const c = r.pairs[l]?.[mode]
      if (!c) continue
      const label = `${l} ${l === 'miniupnpc' && mode !== 'seq' ? name.replace('in flight', 'threads') : name}`
      if (c.leftBehind > 0)
        pairBars.push({ label, color: COLOR[l]!, text: `deletes do not work: ${c.leftBehind} mappings left after ${c.pairs} pairs` })
      else
        pairBars.push({
          label,
          color: COLOR[l]!,
          s: c.rate,
          text: c.failures ? `(${c.failures} failed ops${c.leftAfterFailure ? `, ${c.leftAfterFailure} mappings left` : ''})` : undefined,
        })
    }
  }
  panels.push({
    title: 'Add+delete pairs per second (higher is better; only deletes that really deleted count)',
    log: false,
    unit: 'pairs/s',
    bars: pairBars,
    ref: seqMini ? { value: seqMini, label: 'miniupnpc sequential' } : undefined,
  })
  const elBars: Bar[] = [
    { label: 'miniupnpc (blocks during discover)', color: COLOR.miniupnpc!, s: d.miniupnpc },
    ...(['upnp-native', 'nat-port-mapper', 'nat-api'] as const)
      .filter((l) => r.eventloop[l])
      .map((l) => ({ label: l, color: COLOR[l]!, s: r.eventloop[l]!.max })),
    ...(r.eventloop.idle ? [{ label: 'idle Node process (control)', color: COLOR.floor!, s: r.eventloop.idle.max }] : []),
  ]
  panels.push({
    title: 'Event-loop max delay during discovery + operations (ms, log scale)',
    log: true,
    unit: 'ms',
    bars: elBars,
    ref: { value: 5, label: 'target 5 ms' },
  })
  const memBars: Bar[] = LIBS.filter((l) => r.memory[l]).map((l) => ({
    label: `${l} (${r.memory[l]!.ops.toLocaleString('en-US')} ops)`,
    color: COLOR[l]!,
    s: r.memory[l]!.rssGrowthMB,
  }))
  panels.push({ title: 'RSS growth after warm-up (MB; lower is better)', log: false, unit: 'MB', bars: memBars })

  let y = 10
  const body: string[] = []
  for (const p of panels) {
    const { svg, height } = panel(y, p.title, p.bars, { log: p.log, unit: p.unit, ref: p.ref })
    body.push(svg)
    y += height
  }
  const foot = `upnp-native bench, ${r.meta.date.slice(0, 16).replace('T', ' ')} UTC${r.meta.quick ? ' (--quick)' : ''}; bars: median, whiskers: min–max; lab router ${r.meta.versions.router ?? ''}`
  body.push(`<text x="10" y="${y + 6}" font-size="10" fill="#666">${esc(foot)}</text>`)
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="960" height="${y + 16}" viewBox="0 0 960 ${y + 16}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${body.join('\n')}\n</svg>\n`
  )
}
