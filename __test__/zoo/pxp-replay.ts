// The NAT-PMP (RFC 6886) and PCP (RFC 6887) side of a report's router, replayed: a UDP responder
// on port 5351 at the replay's address that answers each request with the answer the report
// recorded to a request of the same kind, adapted where the protocol requires it, so that
// `doctor --protocol pmp|pcp|auto` under `lab.sh replay` gets the verdicts the user's run got.
//
// A kind is the protocol, the opcode and whether it is a delete (lifetime 0): the n-th request of
// a kind gets the n-th recorded exchange of that kind (the last one again after that), and a
// retransmission (same source, same bytes) the same one again. Adapted in the answer: the epoch
// (the recorded one advanced by the replay's own clock, so a router up for 2 min stays up and
// counting), a MAP's nonce, protocol and internal port (PCP) or internal port (NAT-PMP), which
// the client checks, and the external port when the router had granted the one suggested. The
// rest is as recorded: result code, lifetime, external address (a public one is the lab's, set
// by from-report.ts), options; an answer in another protocol version ("unsupported version") is
// sent as it came, and so is a datagram the client had ignored. An exchange the report shows
// unanswered stays unanswered; a router that answered nothing but "port unreachable" gets no
// socket at all, so that the kernel says the same.
//
// Everything that arrives is hostile: a datagram that is no NAT-PMP/PCP request of ours (too
// short or long, a response, a kind never recorded) is ignored; nothing is ever printed.
import dgram from 'node:dgram'
import net from 'node:net'
import { performance } from 'node:perf_hooks'

/** RFC 6886 3, RFC 6887 19.1. */
export const PXP_PORT = 5351
/** RFC 6887 7: no PCP message is longer (NAT-PMP's are 16 bytes at most). */
const MAX_MESSAGE = 1100
/** Retransmissions remembered (a flood of distinct requests only costs this much). */
const MAX_SEEN = 4096

/** One request of the report and what came back to its socket, in order. */
export interface RecordedExchange {
  /** `requestKind()` of the request. */
  kind: string
  /** Milliseconds after the report's run started. */
  t: number
  /** The request, hex. */
  request: string
  /** Every datagram the router sent back: `answer` the one the client took, others ignored. */
  replies: { t: number; datagram: string; answer: boolean }[]
}

/** `pxp.json`: what a replay answers on UDP 5351. */
export interface PxpRecording {
  /** False when the report saw only "port unreachable": nothing listens in the replay either. */
  listening: boolean
  exchanges: RecordedExchange[]
}

/** A report's record, as far as this file reads it. */
interface PxpRecord {
  event: string
  t: number
  peer?: string
  local?: string
  body?: string
  attempt?: number
  detail?: string
}

const u16 = (b: Buffer, at: number): number => b.readUInt16BE(at)
const u32 = (b: Buffer, at: number): number => b.readUInt32BE(at)

/** The kind of a request: "natpmp 0", "natpmp 1", "natpmp 1 delete", "pcp 0", "pcp 1 delete",
 *  ...; null for what is no request (a response, too short or long, misaligned PCP). */
export function requestKind(b: Buffer): string | null {
  if (b.length < 2 || b.length > MAX_MESSAGE || b[1]! & 0x80) return null
  const [version, opcode] = [b[0]!, b[1]!]
  if (version === 0) {
    // RFC 6886 3.3: a mapping request is 12 bytes, its lifetime at 8..12.
    if (opcode === 1 || opcode === 2) return b.length >= 12 ? `natpmp ${opcode}${u32(b, 8) === 0 ? ' delete' : ''}` : null
    return `natpmp ${opcode}`
  }
  if (version === 2) {
    // RFC 6887 7.1: a 24-byte header, a multiple of 4; MAP adds 36 bytes; lifetime at 4..8.
    if (b.length < 24 || b.length % 4) return null
    if (opcode === 1) return b.length >= 60 ? `pcp 1${u32(b, 4) === 0 ? ' delete' : ''}` : null
    return `pcp ${opcode}`
  }
  return null
}

/** Where a response carries the server's epoch, if it does. */
function epochAt(d: Buffer): number | null {
  // NAT-PMP: bytes 4..8, except in "unsupported opcode" (5), which may echo the request there.
  if (d[0] === 0 && d.length >= 8 && u16(d, 2) !== 5) return 4
  if (d[0] === 2 && d.length >= 24) return 8
  return null
}

/**
 * The NAT-PMP/PCP exchanges the report's run had with `host` (a URL hostname), paired by the
 * client's socket (one per request); null when none went there. `external` maps a recorded
 * external address (NAT-PMP's, PCP MAP's) to the one the replay gives.
 */
export function pxpRecording(records: PxpRecord[], host: string, external: (address: string) => string): PxpRecording | null {
  const ours = records.filter((r) => r.event.startsWith('pxp.') && r.peer && new URL(`http://${r.peer}`).hostname === host)
  if (!ours.some((r) => r.event === 'pxp.sent')) return null
  const open = new Map<string, RecordedExchange>()
  const exchanges: RecordedExchange[] = []
  let refused = false
  for (const r of ours) {
    if (r.event === 'pxp.failed' && /^REFUSED\b/.test(r.detail ?? '')) refused = true
    if (!r.local || !r.body || !/^(?:[0-9a-f]{2})+$/i.test(r.body)) continue
    const bytes = Buffer.from(r.body, 'hex')
    if (r.event === 'pxp.sent' && (r.attempt ?? 1) === 1) {
      const kind = requestKind(bytes)
      if (!kind) continue
      const exchange: RecordedExchange = { kind, t: r.t, request: r.body, replies: [] }
      open.set(r.local, exchange)
      exchanges.push(exchange)
    }
    if (r.event === 'pxp.received') {
      open
        .get(r.local)
        ?.replies.push({ t: r.t, datagram: withExternal(bytes, external).toString('hex'), answer: r.detail === 'the answer' })
    }
  }
  return { listening: !(refused && exchanges.every((e) => e.replies.length === 0)), exchanges }
}

/** A response with its external address mapped (NAT-PMP's external address answer, PCP MAP). */
function withExternal(d: Buffer, external: (address: string) => string): Buffer {
  const out = Buffer.from(d)
  if (out[0] === 0 && out[1] === 0x80 && out.length >= 12) {
    const mapped = external([...out.subarray(8, 12)].join('.'))
    if (net.isIPv4(mapped)) Buffer.from(mapped.split('.').map(Number)).copy(out, 8)
  }
  const v4mapped = Buffer.from('00000000000000000000ffff', 'hex')
  if (out[0] === 2 && out[1] === 0x81 && out.length >= 60 && out.subarray(44, 56).equals(v4mapped)) {
    const mapped = external([...out.subarray(56, 60)].join('.'))
    if (net.isIPv4(mapped)) Buffer.from(mapped.split('.').map(Number)).copy(out, 56)
  }
  return out
}

/** The recorded answer made an answer to `request` (see the file's comment). */
export function adapt(answer: Buffer, recordedRequest: Buffer, request: Buffer, epoch: number): Buffer {
  const out = Buffer.from(answer)
  // Another version's answer ("unsupported version"): as the router sent it.
  if (out.length < 2 || out[0] !== request[0]) return out
  const at = epochAt(out)
  if (at !== null) out.writeUInt32BE(epoch, at)
  const opcode = out[1]! & 0x7f
  // NAT-PMP MAP (RFC 6886 3.3): request internal 4..6, suggested 6..8; answer internal 8..10,
  // external 10..12.
  if (out[0] === 0 && (opcode === 1 || opcode === 2) && out.length >= 16 && request.length >= 12 && recordedRequest.length >= 12) {
    request.copy(out, 8, 4, 6)
    if (u16(out, 10) === u16(recordedRequest, 6)) request.copy(out, 10, 6, 8)
  }
  // PCP MAP (RFC 6887 11.1, 11.3): nonce 24..36, protocol 36, internal port 40..42, suggested
  // or assigned external port 42..44, in request and answer alike.
  if (out[0] === 2 && opcode === 1 && out.length >= 60 && request.length >= 60 && recordedRequest.length >= 60) {
    request.copy(out, 24, 24, 37)
    request.copy(out, 40, 40, 42)
    if (u16(out, 42) === u16(recordedRequest, 42)) request.copy(out, 42, 42, 44)
  }
  return out
}

/** The responder of one replay (see the file's comment). */
export class PxpReplay {
  private socket: dgram.Socket | null = null
  private readonly started = performance.now()
  /** Requests answered so far, by kind. */
  private readonly served = new Map<string, number>()
  /** "source request" -> the exchange it got: a retransmission gets the same one. */
  private readonly seen = new Map<string, RecordedExchange>()
  /** When the report's run started sending, in its own time. */
  private readonly t0: number
  /** Requests received, answered or not. */
  received = 0

  /** `port`: 5351, or another (0 = any) for a test on loopback. */
  constructor(
    private readonly recording: PxpRecording,
    private readonly address: string,
    private readonly port = PXP_PORT,
  ) {
    this.t0 = recording.exchanges[0]?.t ?? 0
  }

  /** The port it listens on; null when it does not listen. */
  get boundPort(): number | null {
    return this.socket?.address().port ?? null
  }

  async start(): Promise<void> {
    if (!this.recording.listening) return
    const socket = dgram.createSocket(net.isIPv6(this.address) ? 'udp6' : 'udp4')
    socket.on('error', () => undefined)
    socket.on('message', (message, from) => {
      try {
        this.onRequest(socket, message, from)
      } catch {
        // A datagram this replay cannot read is one it does not answer.
      }
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(this.port, this.address, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    this.socket = socket
  }

  async stop(): Promise<void> {
    const socket = this.socket
    this.socket = null
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  /** The epoch a reply recorded at `t` with `epoch` carries now: advanced by the replay's clock
   *  as much as it had advanced by the run's (a reboot within the run stays one). */
  private epochNow(epoch: number, t: number): number {
    const now = epoch - Math.floor((t - this.t0) / 1000) + Math.floor((performance.now() - this.started) / 1000)
    return Math.min(0xffffffff, Math.max(0, now))
  }

  private onRequest(socket: dgram.Socket, message: Buffer, from: dgram.RemoteInfo): void {
    const kind = requestKind(message)
    if (!kind) return
    this.received++
    const key = `${from.address} ${from.port} ${message.toString('hex')}`
    let exchange = this.seen.get(key)
    if (!exchange) {
      const recorded = this.recording.exchanges.filter((e) => e.kind === kind)
      const n = this.served.get(kind) ?? 0
      exchange = recorded[Math.min(n, recorded.length - 1)]
      if (!exchange) return
      this.served.set(kind, n + 1)
      if (this.seen.size >= MAX_SEEN) this.seen.clear()
      this.seen.set(key, exchange)
    }
    const recordedRequest = Buffer.from(exchange.request, 'hex')
    for (const reply of exchange.replies) {
      const datagram = Buffer.from(reply.datagram, 'hex')
      const epochField = epochAt(datagram)
      const epoch = epochField === null ? 0 : this.epochNow(u32(datagram, epochField), reply.t)
      socket.send(reply.answer ? adapt(datagram, recordedRequest, message, epoch) : datagram, from.port, from.address)
    }
  }
}
