// Turns what Godot and upnp-native did in one scenario into comparable rows: every step's
// result (a device list as its order, then each device field by field), timing classes, and what the routers really hold
// and were sent. A row compares exact values; the one tolerance is a lease's remaining
// seconds (it counts down between the two runs), at most 5 s apart.
import { IGDStatus, UPNPResult } from '../../index.ts'
import type { UpnpcMapping } from '../lab/lab.ts'
import type { FakeMapping } from '../fake-gateway/types.ts'
import type { Observed, SoapCall } from './environment.ts'
import { DEVICE_FIELDS, type DeviceView, type Step, stepLabel, type StepOutcome } from './program.ts'

export interface Row {
  label: string
  godot: string
  ours: string
  same: boolean
}

const MISSING = '—'
const LEASE_TOLERANCE_S = 5

/** Steps whose value is a UPNPResult. */
const RESULT_OPS = new Set(['discover', 'add', 'delete', 'dev_add', 'dev_delete'])

const resultText = (v: unknown): string =>
  typeof v === 'number' && UPNPResult[v] !== undefined ? `${UPNPResult[v]} (${v})` : (JSON.stringify(v) ?? 'undefined')
const statusText = (v: unknown): string =>
  typeof v === 'number' && IGDStatus[v] !== undefined ? `${IGDStatus[v]} (${v})` : (JSON.stringify(v) ?? 'undefined')
const fieldText = (field: string, v: unknown): string => (field === 'igd_status' ? statusText(v) : (JSON.stringify(v) ?? 'undefined'))

const row = (label: string, godot: string, ours: string, same = godot === ours): Row => ({ label, godot, ours, same })

/** How long a call took, in half seconds: "~0 s", "~1 s", "~4 s"... */
export function timingClass(ms: number): string {
  return `~${Math.round(ms / 500) / 2} s`
}

/** Names the devices of a list for row labels: the host:port of the description URL (a
 *  hand-built device without one: its position), "#2" on a URL's second entry. Rows then
 *  compare the same device on both sides, wherever each list puts it. */
function keyed(list: unknown): Array<[string, DeviceView | null]> {
  const devices = (Array.isArray(list) ? list : []) as Array<DeviceView | null>
  const seen = new Map<string, number>()
  return devices.map((device, i) => {
    const url = device ? String(device.description_url) : ''
    const base = url ? url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '') : `#${i}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return [n > 1 ? `${base} #${n}` : base, device]
  })
}

function deviceRows(prefix: string, godot: unknown, ours: unknown): Row[] {
  const g = keyed(godot)
  const o = keyed(ours)
  const order = (list: Array<[string, unknown]>) => list.map(([key]) => key).join(', ') || '(none)'
  const rows = [row(prefix, order(g), order(o))]
  const keys = [...new Set([...g, ...o].map(([key]) => key))]
  for (const key of keys) {
    const gd = g.find(([k]) => k === key)?.[1]
    const od = o.find(([k]) => k === key)?.[1]
    // The description URL is the key, unless the device has none.
    const fields = key.startsWith('#') ? DEVICE_FIELDS : DEVICE_FIELDS.filter((f) => f !== 'description_url')
    for (const field of fields) {
      rows.push(row(`${prefix} ${key} ${field}`, gd ? fieldText(field, gd[field]) : MISSING, od ? fieldText(field, od[field]) : MISSING))
    }
  }
  return rows
}

function stepRows(step: Step, g: StepOutcome, o: StepOutcome): Row[] {
  const label = stepLabel(step)
  const rows: Row[] = []
  if (step.op === 'devices') rows.push(...deviceRows('devices', g.value, o.value))
  else if (step.op === 'new_device' || step.op === 'get_device') {
    const asList = (v: unknown) => (v === null ? [] : [v])
    rows.push(...deviceRows(label, asList(g.value), asList(o.value)))
  } else {
    const text = RESULT_OPS.has(step.op) ? resultText : (v: unknown) => JSON.stringify(v) ?? 'undefined'
    rows.push(row(label, text(g.value), text(o.value)))
  }
  if (step.op === 'discover' || Math.max(g.ms, o.ms) >= 250) {
    rows.push(row(`${label} time`, timingClass(g.ms), timingClass(o.ms)))
  }
  return rows
}

// ---------------------------------------------------------------- what the routers hold

interface Entry {
  forward: string
  description: string
  lease?: number
}

const tableEntries = (table: Array<UpnpcMapping | FakeMapping>): Map<string, Entry> =>
  new Map(
    table.map((m) => [
      `${m.protocol} ${m.externalPort}`,
      { forward: `→ ${m.internalClient}:${m.internalPort}`, description: m.description, lease: m.leaseDuration },
    ]),
  )

function tableRows(name: string, godot: Map<string, Entry>, ours: Map<string, Entry>): Row[] {
  const keys = [...new Set([...godot.keys(), ...ours.keys()])].sort()
  if (keys.length === 0) return [row(`${name} table`, '(empty)', '(empty)')]
  return keys.flatMap((key) => {
    const g = godot.get(key)
    const o = ours.get(key)
    const forward = (e?: Entry) => (e ? `${e.forward}, lease ${e.lease ?? '?'} s` : '(none)')
    const leaseClose = g?.lease !== undefined && o?.lease !== undefined && Math.abs(g.lease - o.lease) <= LEASE_TOLERANCE_S
    return [
      row(`${name} ${key}`, forward(g), forward(o), !!g && !!o && g.forward === o.forward && (leaseClose || g.lease === o.lease)),
      row(`${name} ${key} description`, g ? JSON.stringify(g.description) : '(none)', o ? JSON.stringify(o.description) : '(none)'),
    ]
  })
}

function soapText(call: SoapCall | undefined): string {
  if (!call) return MISSING
  const a = call.args
  const service = call.soapAction.replace(/^urn:schemas-upnp-org:service:/, '').replace(/#.*/, '')
  if (call.action === 'AddPortMapping') {
    return `${a.NewExternalPort} ${a.NewProtocol} → ${a.NewInternalClient}:${a.NewInternalPort} enabled ${a.NewEnabled} lease ${a.NewLeaseDuration} remote ${JSON.stringify(a.NewRemoteHost)} [${service}]`
  }
  return `${a.NewExternalPort} ${a.NewProtocol} remote ${JSON.stringify(a.NewRemoteHost)} [${service}]`
}

function soapRows(godot: SoapCall[], ours: SoapCall[]): Row[] {
  const rows: Row[] = []
  const devicesSeen = [...new Set([...godot, ...ours].map((c) => c.device))].sort()
  for (const device of devicesSeen) {
    const g = godot.filter((c) => c.device === device)
    const o = ours.filter((c) => c.device === device)
    const actions = (calls: SoapCall[]) => calls.map((c) => c.action).join(', ') || '(none)'
    rows.push(row(`sent to ${device}`, actions(g), actions(o)))
    for (const action of ['AddPortMapping', 'DeletePortMapping']) {
      const ga = g.filter((c) => c.action === action)
      const oa = o.filter((c) => c.action === action)
      for (let i = 0; i < Math.max(ga.length, oa.length); i++) {
        rows.push(row(`${device} ${action} #${i + 1}`, soapText(ga[i]), soapText(oa[i])))
        if (action === 'AddPortMapping') {
          const d = (c?: SoapCall) => (c ? JSON.stringify(c.args.NewPortMappingDescription) : MISSING)
          rows.push(row(`${device} ${action} #${i + 1} description`, d(ga[i]), d(oa[i])))
        }
      }
    }
  }
  return rows
}

function observedRows(godot: Observed, ours: Observed): Row[] {
  const rows: Row[] = []
  if (godot.routerTable || ours.routerTable) {
    rows.push(...tableRows('miniupnpd', tableEntries(godot.routerTable ?? []), tableEntries(ours.routerTable ?? [])))
  }
  const fakeIds = [...new Set([...Object.keys(godot.fakeTables), ...Object.keys(ours.fakeTables)])].sort()
  for (const id of fakeIds) {
    const g = tableEntries(godot.fakeTables[id] ?? [])
    const o = tableEntries(ours.fakeTables[id] ?? [])
    if (g.size || o.size) rows.push(...tableRows(`fake ${id}`, g, o))
  }
  rows.push(...soapRows(godot.soapCalls, ours.soapCalls))
  return rows
}

export function compareRuns(
  steps: Step[],
  godot: { outcomes: StepOutcome[]; observed: Observed },
  ours: { outcomes: StepOutcome[]; observed: Observed },
): Row[] {
  const rows = steps.flatMap((step, i) => stepRows(step, godot.outcomes[i]!, ours.outcomes[i]!))
  return [...rows, ...observedRows(godot.observed, ours.observed)]
}
