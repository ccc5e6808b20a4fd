// The zoo's NAT-PMP/PCP replay (__test__/zoo/pxp-replay.ts) on loopback: a report's exchanges
// paired into a recording, answers adapted to the request as RFC 6886/6887 require, the n-th
// request of a kind answered with the n-th recorded exchange, retransmissions and silences, and
// hostile datagrams ignored without harm (the lab test, __test__/cli/report.test.ts, replays
// real miniupnpd reports through it).
import dgram from 'node:dgram'
import * as fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { adapt, type PxpRecording, PxpReplay, pxpRecording, requestKind } from '../zoo/pxp-replay.ts'

const CLIENT = '192.168.77.10'
const field = (address: string): Buffer =>
  Buffer.concat([Buffer.from('00000000000000000000ffff', 'hex'), Buffer.from(address.split('.').map(Number))])

/** A PCP MAP request or answer (RFC 6887 11.1, 11.3: the payload is laid out alike). */
function pcpMap(o: {
  answer?: boolean
  nonce: number
  internal: number
  external: number
  lifetime: number
  epoch?: number
  address?: string
}): Buffer {
  const b = Buffer.alloc(60)
  b[0] = 2
  b[1] = o.answer ? 0x81 : 1
  b.writeUInt32BE(o.lifetime, 4)
  if (o.answer) b.writeUInt32BE(o.epoch ?? 0, 8)
  else field(CLIENT).copy(b, 8)
  b.fill(o.nonce, 24, 36)
  b[36] = 17
  b.writeUInt16BE(o.internal, 40)
  b.writeUInt16BE(o.external, 42)
  field(o.address ?? '0.0.0.0').copy(b, 44)
  return b
}

/** A NAT-PMP UDP mapping request (RFC 6886 3.3) or its answer. */
function pmpMap(o: { answer?: boolean; internal: number; external: number; lifetime: number; epoch?: number }): Buffer {
  const b = Buffer.alloc(o.answer ? 16 : 12)
  b[1] = o.answer ? 0x81 : 1
  if (o.answer) {
    b.writeUInt32BE(o.epoch ?? 0, 4)
    b.writeUInt16BE(o.internal, 8)
    b.writeUInt16BE(o.external, 10)
    b.writeUInt32BE(o.lifetime, 12)
  } else {
    b.writeUInt16BE(o.internal, 4)
    b.writeUInt16BE(o.external, 6)
    b.writeUInt32BE(o.lifetime, 8)
  }
  return b
}

/** A NAT-PMP external address answer (RFC 6886 3.2). */
function pmpAddressAnswer(epoch: number, address: string): Buffer {
  const b = Buffer.concat([Buffer.from([0, 0x80, 0, 0, 0, 0, 0, 0]), Buffer.from(address.split('.').map(Number))])
  b.writeUInt32BE(epoch, 4)
  return b
}

const sent = (t: number, local: string, body: Buffer, attempt = 1) => ({
  event: 'pxp.sent',
  t,
  peer: '192.168.77.1:5351',
  local,
  body: body.toString('hex'),
  attempt,
})
const received = (t: number, local: string, body: Buffer, detail = 'the answer') => ({
  event: 'pxp.received',
  t,
  peer: '192.168.77.1:5351',
  local,
  body: body.toString('hex'),
  detail,
})

describe('a recording from a report', () => {
  it('pairs requests and replies by socket, keeps ignored datagrams, maps the external address', () => {
    const recording = pxpRecording(
      [
        sent(10, `${CLIENT}:40000`, Buffer.from([0, 0])),
        received(11, `${CLIENT}:40000`, Buffer.from([0, 0x80, 0, 0]), 'ignored: response to opcode 0 cut at 4 bytes'),
        sent(12, `${CLIENT}:40001`, pcpMap({ nonce: 1, internal: 50000, external: 50000, lifetime: 120 })),
        sent(260, `${CLIENT}:40001`, pcpMap({ nonce: 1, internal: 50000, external: 50000, lifetime: 120 }), 2),
        received(262, `${CLIENT}:40000`, pmpAddressAnswer(135, '11.0.0.1'), 'the answer'),
        received(
          263,
          `${CLIENT}:40001`,
          pcpMap({ answer: true, nonce: 1, internal: 50000, external: 50000, lifetime: 120, epoch: 135, address: '11.0.0.1' }),
        ),
        { event: 'pxp.sent', t: 300, peer: '192.168.77.20:5351', local: `${CLIENT}:40002`, body: '0000', attempt: 1 },
      ],
      '192.168.77.1',
      (a) => (a === '11.0.0.1' ? '11.22.33.44' : a),
    )
    expect(recording?.listening).toBe(true)
    expect(recording?.exchanges.map((e) => [e.kind, e.replies.map((r) => r.answer)])).toEqual([
      ['natpmp 0', [false, true]],
      ['pcp 1', [true]],
    ])
    const [address, map] = recording!.exchanges
    expect(address!.replies[1]!.datagram.slice(16)).toBe('0b16212c') // 11.22.33.44
    expect(map!.replies[0]!.datagram.slice(-8)).toBe('0b16212c')
    // Nothing was sent to another router; "port unreachable" and no answer: nothing listens.
    expect(pxpRecording([], '192.168.77.1', (a) => a)).toBeNull()
    const refused = pxpRecording(
      [
        sent(1, `${CLIENT}:1`, Buffer.from([0, 0])),
        { event: 'pxp.failed', t: 2, peer: '192.168.77.1:5351', detail: 'REFUSED: port unreachable' },
      ],
      '192.168.77.1',
      (a) => a,
    )
    expect(refused).toMatchObject({ listening: false, exchanges: [{ kind: 'natpmp 0', replies: [] }] })
  })
})

describe('an answer adapted to the request', () => {
  const recordedRequest = pcpMap({ nonce: 1, internal: 50000, external: 50000, lifetime: 120 })
  const recordedAnswer = pcpMap({
    answer: true,
    nonce: 1,
    internal: 50000,
    external: 50000,
    lifetime: 120,
    epoch: 135,
    address: '11.22.33.44',
  })
  const request = pcpMap({ nonce: 2, internal: 41000, external: 41001, lifetime: 120 })

  it('PCP MAP: nonce, protocol, internal port and the port asked for; epoch; the rest as recorded', () => {
    const out = adapt(recordedAnswer, recordedRequest, request, 140)
    expect(out).toEqual(
      pcpMap({ answer: true, nonce: 2, internal: 41000, external: 41001, lifetime: 120, epoch: 140, address: '11.22.33.44' }),
    )
    // A router that had chosen another port than the one asked for chooses it again.
    const moved = pcpMap({ answer: true, nonce: 1, internal: 50000, external: 50002, lifetime: 120, epoch: 135, address: '11.22.33.44' })
    expect(adapt(moved, recordedRequest, request, 140).readUInt16BE(42)).toBe(50002)
  })

  it('NAT-PMP MAP: internal port and the port asked for; an answer in another version as it came', () => {
    const out = adapt(
      pmpMap({ answer: true, internal: 50000, external: 50000, lifetime: 7200, epoch: 135 }),
      pmpMap({ internal: 50000, external: 50000, lifetime: 7200 }),
      pmpMap({ internal: 41000, external: 41001, lifetime: 7200 }),
      136,
    )
    expect(out).toEqual(pmpMap({ answer: true, internal: 41000, external: 41001, lifetime: 7200, epoch: 136 }))
    // A NAT-PMP-only router's "unsupported version" to a PCP request.
    const other = Buffer.from([0, 0x80, 0, 1, 0, 0, 0, 135])
    expect(adapt(other, recordedRequest, request, 140)).toEqual(other)
  })
})

describe('the responder', () => {
  let replay: PxpReplay | null = null
  let client: dgram.Socket | null = null
  afterEach(async () => {
    await replay?.stop()
    client?.close()
    replay = null
    client = null
  })

  /** Starts a replay of `recording` on loopback; `ask` sends datagrams and resolves with the
   *  replies received until `count` came (each in order: UDP on loopback keeps it). */
  async function start(recording: PxpRecording) {
    replay = new PxpReplay(recording, '127.0.0.1', 0)
    await replay.start()
    const port = replay.boundPort!
    const socket = dgram.createSocket('udp4')
    client = socket
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    const inbox: Buffer[] = []
    const waiting: Array<() => void> = []
    socket.on('message', (m) => {
      inbox.push(m)
      waiting.shift()?.()
    })
    return async (datagrams: Buffer[], count: number): Promise<Buffer[]> => {
      inbox.length = 0
      for (const d of datagrams) socket.send(d, port, '127.0.0.1')
      while (inbox.length < count) await new Promise<void>((resolve) => waiting.push(resolve))
      return [...inbox]
    }
  }

  const answerOf = (internal: number, lifetime = 120) =>
    pcpMap({ answer: true, nonce: 1, internal, external: internal, lifetime, epoch: 135, address: '11.22.33.44' })
  const recording: PxpRecording = {
    listening: true,
    exchanges: [
      { kind: 'pcp 0', t: 5, request: '02'.padEnd(48, '0'), replies: [] }, // unanswered
      ...[50000, 50001].map((internal, i) => ({
        kind: 'pcp 1',
        t: 10 + i,
        request: pcpMap({ nonce: 1, internal, external: internal, lifetime: 120 }).toString('hex'),
        // The router granted the first 120 s, the second 240 s: which one answered shows.
        replies: [{ t: 11 + i, datagram: answerOf(internal, 120 * (i + 1)).toString('hex'), answer: true }],
      })),
    ],
  }
  const map = (nonce: number, internal: number) => pcpMap({ nonce, internal, external: internal, lifetime: 120 })

  it('answers the n-th request of a kind with the n-th exchange, a retransmission with the same, the rest with the last', async () => {
    const ask = await start(recording)
    const [first] = await ask([map(2, 41000)], 1)
    expect(first!.subarray(24, 36)).toEqual(Buffer.alloc(12, 2))
    expect(first!.readUInt16BE(40)).toBe(41000)
    // The epoch is the recorded one advanced by the replay's own clock: never behind.
    expect(first!.readUInt32BE(8)).toBeGreaterThanOrEqual(135)
    const replies = await ask([map(2, 41000), map(3, 41002), map(4, 41004)], 3)
    const lifetimes = (ds: Buffer[]) => ds.map((d) => [d.readUInt16BE(42), d.readUInt32BE(4)])
    // The retransmission gets the first exchange again, the next request the second, the one
    // after that the last again.
    expect(lifetimes([first!, ...replies])).toEqual([
      [41000, 120],
      [41000, 120],
      [41002, 240],
      [41004, 240],
    ])
    // The ANNOUNCE the report shows unanswered stays unanswered.
    const silent = await ask([Buffer.from(recording.exchanges[0]!.request, 'hex'), map(5, 41006)], 1)
    expect(lifetimes(silent)).toEqual([[41006, 240]])
    expect(replay!.received).toBe(6)
  })

  it('ignores hostile datagrams and keeps answering', async () => {
    const ask = await start(recording)
    const junk = [
      Buffer.alloc(0),
      Buffer.from([2]),
      Buffer.alloc(1101, 2), // longer than any PCP message
      answerOf(41000), // a response
      Buffer.concat([map(6, 41000), Buffer.from([1])]), // not a multiple of 4
      map(6, 41000).subarray(0, 56), // MAP cut short
      Buffer.from([9, 1, 0, 0]), // another version
    ]
    const fuzz = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 1200 }), { numRuns: 300, seed: 24 }).map((a) => Buffer.from(a))
    for (const d of [...junk, ...fuzz]) expect(() => requestKind(d)).not.toThrow()
    // In rounds small enough for the socket buffers: only the real request after the junk is
    // answered (loopback keeps the order).
    const hostile = [...junk, ...fuzz.filter((d) => requestKind(d) === null)]
    for (let i = 0; i < hostile.length; i += 10) {
      const got = await ask([...hostile.slice(i, i + 10), map(7, 41010)], 1)
      expect(got.map((d) => d.readUInt16BE(40))).toEqual([41010])
    }
    expect(replay!.received).toBe(Math.ceil(hostile.length / 10))
  })

  it('does not listen where the report saw only "port unreachable"', async () => {
    replay = new PxpReplay({ listening: false, exchanges: [] }, '127.0.0.1', 0)
    await replay.start()
    expect(replay.boundPort).toBeNull()
  })
})
