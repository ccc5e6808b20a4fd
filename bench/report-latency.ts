// The Markdown tables of the latency phase (bench/latency.ts): per router delay, sequential
// pairs and the 64-batch side by side with the per-round ratios and the router's CPU per pair,
// cold start to a first mapping, and upnp-native at 1..256 operations in flight.
import { BATCH, rowName, THREADS, type LatencyResult, type LatencyRow } from './latency.ts'
import { leftTotal } from './router-table.ts'
import { fmt, fmtSummary, summarize, type Summary } from './stats.ts'

const rate = (r: LatencyRow | undefined) => {
  if (!r) return '–'
  const left = leftTotal(r)
  const trouble = r.failures || left ? ` — **${r.failures} failed, ${left} left**` : ''
  return `${fmtSummary(r.rate)}${trouble}`
}
const cpu = (r: LatencyRow | undefined) =>
  r
    ? `${fmt(r.routerCpuUs.median)}${r.routerWaitUs && Number.isFinite(r.routerWaitUs.median) ? ` (${fmt(r.routerWaitUs.median)})` : ''}`
    : '–'
const ratio = (s: Summary) => (s.n ? `**${fmt(s.median)}x** [${fmt(s.min)}–${fmt(s.max)}]` : '–')

export function renderLatency(list: LatencyResult[]): string {
  const out: string[] = []
  out.push('### At real router latency')
  out.push('')
  out.push(
    'Router replies delayed in the lab (`lab.sh delay`, a userspace cable; the delay as the client sees it is the TCP connect time). ' +
      'Rates in pairs/s, median [min–max] over the rounds; ratios: upnp-native over miniupnpc, per round, median [min–max]; ' +
      `the 64-batch (${BATCH} adds at once, then ${BATCH} deletes) against miniupnpc's run of the same round with its best thread count (${THREADS.join(', ')}: the highest median). ` +
      "Router CPU: miniupnpd's time on a CPU per add+delete pair and, in brackets, its time waiting for one (the lab's client and router share two CPUs; a real router has its own).",
  )
  out.push('')
  out.push(
    '| delay (TCP connect, ms) | load | workload | miniupnpc | upnp-native | ratio | router CPU (wait) per pair, µs: miniupnpc / upnp-native |',
  )
  out.push('|---|---|---|---|---|---|---|')
  for (const l of list) {
    const head = `${l.delayMs} ms (${fmtSummary(l.connectMs)})`
    const load = fmtSummary(l.load)
    const mSeq = l.rows[rowName('miniupnpc', 'seq')]
    const nSeq = l.rows[rowName('upnp-native', 'seq')]
    out.push(`| ${head} | ${load} | sequential | ${rate(mSeq)} | ${rate(nSeq)} | ${ratio(l.ratios.seq)} | ${cpu(mSeq)} / ${cpu(nSeq)} |`)
    const nBatch = l.rows[rowName('upnp-native', 'batch')]
    const threads = THREADS.map((t) => `${t}t: ${rate(l.rows[rowName('miniupnpc', 'batch', t)])}`).join('<br>')
    const cpus = THREADS.map((t) => cpu(l.rows[rowName('miniupnpc', 'batch', t)])).join(', ')
    out.push(`| | | 64-batch | ${threads} | ${rate(nBatch)} | ${ratio(l.ratios.batch)} | ${cpus} / ${cpu(nBatch)} |`)
  }
  out.push('')
  out.push('Cold start to a first mapping (a fresh process: search, gateway, one add confirmed), ms:')
  out.push('')
  const firstNames = Object.keys(list[0]?.first ?? {})
  out.push(`| delay | ${firstNames.join(' | ')} |`)
  out.push(`|---|${firstNames.map(() => '---').join('|')}|`)
  for (const l of list) out.push(`| ${l.delayMs} ms | ${firstNames.map((n) => fmtSummary(l.first[n])).join(' | ')} |`)
  out.push('')
  const sweepRuns = list[0]?.sweep[0]?.rates?.length ?? 1
  out.push(
    `upnp-native with 1..256 add+delete pairs in flight (${sweepRuns > 1 ? `median [min–max] of ${sweepRuns} interleaved runs` : 'one run each'}; failures and mappings left behind checked with \`upnpc -l\` after every run):`,
  )
  out.push('')
  const sweep = list[0]?.sweep.map((p) => p.inFlight) ?? []
  out.push(`| delay | ${sweep.map((n) => `${n} in flight`).join(' | ')} |`)
  out.push(`|---|${sweep.map(() => '---').join('|')}|`)
  for (const l of list) {
    const cells = l.sweep.map((p) => {
      const left = leftTotal(p)
      const rate = p.rates && p.rates.length > 1 ? fmtSummary(summarize(p.rates)) : fmt(p.rate)
      return `${rate}${p.failures || left ? ` (**${p.failures} failed, ${left} left**)` : ''}`
    })
    out.push(`| ${l.delayMs} ms | ${cells.join(' | ')} |`)
  }
  const notes: string[] = []
  for (const l of list) {
    for (const f of l.firstFailures) notes.push(`${l.delayMs} ms cold start: ${f}`)
    for (const [name, r] of Object.entries(l.rows)) {
      const errs = Object.entries(r.errors)
      if (errs.length)
        notes.push(
          `${l.delayMs} ms ${name}: ${errs
            .slice(0, 3)
            .map(([e, k]) => `${k} x "${e}"`)
            .join('; ')}`,
        )
    }
  }
  if (notes.length) {
    out.push('')
    for (const n of notes) out.push(`- ${n}`)
  }
  return `${out.join('\n')}\n`
}
