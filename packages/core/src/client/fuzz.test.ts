import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isLifelineError } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from '../protocol/envelope.js'
import type { Client } from './client.js'
import type { ClientState } from './clientState.js'
import { codec, createFakeClient } from './fakeLink.js'

// The client driven by arbitrary interleavings of its API, the server's side of the link and
// the clock, checked against what it promises whatever the order.

type Action =
  | { k: 'connect' }
  | { k: 'close'; code?: number; reason?: string }
  | { k: 'reconnect' }
  | { k: 'send'; reliable: boolean }
  | { k: 'request'; timeoutMs?: number; abort: 'none' | 'before' | 'later' }
  | { k: 'abort' }
  | { k: 'delivered'; back: number }
  | { k: 'listen'; what: 'add' | 'remove' | 'selfRemove' | 'closeOnReconnecting' }
  | { k: 'accept'; protocol: string }
  | { k: 'welcome'; resume: boolean }
  | { k: 'process' }
  | { k: 'ack' }
  | { k: 'serverSend' }
  | { k: 'serverRequest' }
  | { k: 'answer' }
  | { k: 'serverClose'; code: number }
  | { k: 'fail'; close: boolean }
  | { k: 'advance'; ms: number }
  | { k: 'flush' }
  | {
      k: 'reenter'
      on: 'said' | 'reset' | 'error' | 'drop' | 'statechange'
      call: 'close' | 'connect' | 'reconnect' | 'send' | 'request'
    }
  | { k: 'socketClose' }
  | { k: 'resend' }
  | { k: 'ping' }
  | { k: 'blackhole' }
  | { k: 'jump'; ms: number }
  | { k: 'stale'; what: 'close' | 'fail' | 'welcome' | 'open' }
  | { k: 'badClose' }

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ k: 'connect' as const }),
  fc.constant({ k: 'connect' as const }),
  fc.constant({ k: 'connect' as const }),
  fc.constant({ k: 'accept' as const, protocol: 'lifeline.v1.json' }),
  fc.constant({ k: 'accept' as const, protocol: 'lifeline.v1.json' }),
  fc.constant({ k: 'welcome' as const, resume: true }),
  fc.constant({ k: 'welcome' as const, resume: true }),
  fc.constant({ k: 'serverSend' as const }),
  fc.constant({ k: 'ack' as const }),
  fc.record({ k: fc.constant('send' as const), reliable: fc.boolean() }),
  fc.record({ k: fc.constant('send' as const), reliable: fc.constant(true) }),
  fc.constant({ k: 'accept' as const, protocol: 'lifeline.v1.json' }),
  fc.constant({ k: 'accept' as const, protocol: 'lifeline.v1.json' }),
  fc.record({ k: fc.constant('welcome' as const), resume: fc.boolean() }),
  fc.constant({ k: 'welcome' as const, resume: true }),
  fc.constant({ k: 'serverSend' as const }),
  fc.constant({ k: 'process' as const }),
  fc.oneof(
    fc.constant({ k: 'close' as const }),
    fc.record({
      k: fc.constant('close' as const),
      code: fc.constantFrom(1000, 3000, 4999),
      reason: fc.constantFrom('', 'bye'),
    }),
  ),
  fc.constant({ k: 'reconnect' as const }),
  fc.record({ k: fc.constant('send' as const), reliable: fc.boolean() }),
  fc.record(
    {
      k: fc.constant('request' as const),
      timeoutMs: fc.constantFrom(1, 500, 5_000, Infinity),
      abort: fc.constantFrom('none' as const, 'before' as const, 'later' as const),
    },
    { requiredKeys: ['k', 'abort'] },
  ),
  fc.constant({ k: 'abort' as const }),
  fc.record({ k: fc.constant('delivered' as const), back: fc.nat(3) }),
  fc.record({
    k: fc.constant('listen' as const),
    what: fc.constantFrom(
      'add' as const,
      'remove' as const,
      'selfRemove' as const,
      'closeOnReconnecting' as const,
    ),
  }),
  fc.record({
    k: fc.constant('accept' as const),
    protocol: fc.constantFrom('lifeline.v1.json', 'lifeline.v1.json', 'other'),
  }),
  fc.record({ k: fc.constant('welcome' as const), resume: fc.boolean() }),
  fc.constant({ k: 'process' as const }),
  fc.constant({ k: 'ack' as const }),
  fc.constant({ k: 'serverSend' as const }),
  fc.constant({ k: 'serverRequest' as const }),
  fc.constant({ k: 'answer' as const }),
  fc.record({
    k: fc.constant('serverClose' as const),
    code: fc.constantFrom(1000, 1001, 1006, 1011, 1012, 4000, 4401),
  }),
  fc.record({ k: fc.constant('fail' as const), close: fc.boolean() }),
  fc.record({
    k: fc.constant('advance' as const),
    ms: fc.constantFrom(0, 1, 100, 250, 1_000, 5_000, 30_000),
  }),
  fc.constant({ k: 'flush' as const }),
  fc.record({
    k: fc.constant('reenter' as const),
    on: fc.constantFrom(
      'said' as const,
      'reset' as const,
      'error' as const,
      'drop' as const,
      'statechange' as const,
    ),
    call: fc.constantFrom(
      'close' as const,
      'connect' as const,
      'reconnect' as const,
      'send' as const,
      'request' as const,
    ),
  }),
  fc.constant({ k: 'socketClose' as const }),
  fc.constant({ k: 'resend' as const }),
  fc.constant({ k: 'ping' as const }),
  fc.constant({ k: 'blackhole' as const }),
  fc.record({ k: fc.constant('jump' as const), ms: fc.constantFrom(1_000, 30_000, 120_000) }),
  fc.record({
    k: fc.constant('stale' as const),
    what: fc.constantFrom('close' as const, 'fail' as const, 'welcome' as const, 'open' as const),
  }),
  fc.constant({ k: 'badClose' as const }),
)

const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The statuses a client may go to from each, as the state machine has them. */
const edges: Record<string, readonly string[]> = {
  connecting: ['open', 'reconnecting', 'closing', 'closed', 'connecting'],
  open: ['reconnecting', 'closing', 'closed', 'connecting'],
  reconnecting: ['connecting', 'closing', 'closed', 'reconnecting'],
  closing: ['closed', 'connecting'],
  closed: ['connecting'],
}

interface Session {
  sid: string
  /** The `say` numbers it processed, in order. */
  processed: number[]
  lastS: number
  /** What it sent the client, numbered from 1. */
  outbound: Envelope[]
  /** Request ids of the client it has not answered. */
  requests: number[]
}

async function run(
  actions: readonly Action[],
  cfg: { maxUnacked: number; w?: number | undefined; ping: boolean } = {
    maxUnacked: 1000,
    ping: false,
  },
): Promise<string[]> {
  FakeWebSocket.reset()
  const clock = new ManualClock(1_000)
  const problems: string[] = []
  const rejections: unknown[] = []
  const onRejection = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', onRejection)
  const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined)
  const client: Client = createFakeClient(clock, {
    requestTimeoutMs: 2_000,
    maxUnacked: cfg.maxUnacked,
    // Otherwise the default heartbeat, which the longer advances reach.
    ...(cfg.ping && { heartbeat: { intervalMs: 1000, timeoutMs: 2000 } }),
  })
  client.handle('confirm', (data) => data)

  const stateLog: [ClientState, ClientState][] = []
  let last = client.state
  client.events.on('statechange', (next, previous) => {
    stateLog.push([next, previous])
    if (previous !== last) problems.push(`statechange from ${previous.status}, not ${last.status}`)
    if (next !== client.state) problems.push(`statechange to ${next.status} is not the state`)
    if (!edges[previous.status]?.includes(next.status)) {
      problems.push(`edge ${previous.status} -> ${next.status}`)
    }
    last = next
  })
  const said: number[][] = [[]]
  client.on('said', (data) => said.at(-1)?.push((data as { n: number }).n))
  client.events.on('reset', () => said.push([]))

  // The server: one session at a time, which a `$welcome` without resume replaces.
  let sessionCount = 0
  let session: Session | undefined
  const sessions: Session[] = []
  const readUpTo = new Map<FakeWebSocket, number>()
  const helloOn = new Map<FakeWebSocket, { sid?: string; a?: number }>()
  const welcomed = new Set<FakeWebSocket>()
  const discarding = new Set<FakeWebSocket>()
  const newSession = (): Session => {
    const fresh = { sid: `S${++sessionCount}`, processed: [], lastS: 0, outbound: [], requests: [] }
    sessions.push(fresh)
    return fresh
  }

  /** Reads what the client wrote on `socket` since last time, as the server would. */
  const serverReads = (socket: FakeWebSocket) => {
    const from = readUpTo.get(socket) ?? 0
    readUpTo.set(socket, socket.sent.length)
    for (const frame of socket.sent.slice(from)) {
      const envelope = codec.decode(frame as string) as Envelope
      if (envelope.t === '$hello') {
        helloOn.set(socket, envelope.d as { sid?: string; a?: number })
        continue
      }
      if (!welcomed.has(socket) || !session) {
        if (envelope.s === undefined) continue
        problems.push(`'${envelope.t}' before $welcome`)
        continue
      }
      if (discarding.has(socket)) {
        if (envelope.t === '$resend') discarding.delete(socket)
        continue
      }
      if (envelope.s === undefined) continue
      if (envelope.s <= session.lastS) continue
      if (envelope.s !== session.lastS + 1) {
        problems.push(`gap: s ${envelope.s} after ${session.lastS}`)
        continue
      }
      session.lastS = envelope.s
      if (envelope.t === 'say') session.processed.push((envelope.d as { n: number }).n)
      if (envelope.t === '$req') session.requests.push((envelope.d as { id: number }).id)
    }
  }
  const open = () => {
    const socket = FakeWebSocket.instances.at(-1)
    return socket && socket.readyState === FakeWebSocket.OPEN ? socket : undefined
  }
  const serverSend = (socket: FakeWebSocket, envelope: Envelope) => {
    socket.receive(codec.encode(envelope))
  }

  let sayNumber = 0
  const accepted: number[] = []
  const receipts: number[] = []
  const controllers: AbortController[] = []
  const settled = new Map<number, number>()
  let requestCount = 0
  const handlers: (() => void)[] = []
  let calm = false
  let reentered = 0

  const guard = (what: string, fn: () => void, codes: readonly string[]) => {
    try {
      fn()
    } catch (error) {
      if (!isLifelineError(error) || !codes.includes(error.code)) {
        problems.push(`${what} threw ${String(error)}`)
      }
    }
  }
  const track = (promise: Promise<unknown>, what: string) => {
    const id = requestCount++
    settled.set(id, 0)
    promise.then(
      () => settled.set(id, (settled.get(id) ?? 0) + 1),
      (error: unknown) => {
        settled.set(id, (settled.get(id) ?? 0) + 1)
        if (!isLifelineError(error)) problems.push(`${what} rejected with ${String(error)}`)
      },
    )
  }

  const step = (a: Action) => {
    switch (a.k) {
      case 'connect':
        return guard('connect', () => client.connect(), [])
      case 'close':
        return guard('close', () => client.close(a.code, a.reason), [])
      case 'reconnect':
        return guard('reconnect', () => client.socket.reconnect(), [])
      case 'send': {
        const n = ++sayNumber
        return guard(
          'send',
          () => {
            const receipt = client.send('say', { n }, { reliable: a.reliable })
            if (a.reliable) {
              accepted.push(n)
              receipts.push(receipt)
            }
          },
          ['CLOSED', 'QUEUE_FULL'],
        )
      }
      case 'request': {
        const controller = new AbortController()
        controllers.push(controller)
        if (a.abort === 'before') controller.abort()
        let promise: Promise<unknown> | undefined
        guard(
          'request',
          () => {
            promise = client.request(
              'echo',
              { at: clock.now() },
              {
                timeoutMs: a.timeoutMs,
                signal: a.abort === 'none' ? undefined : controller.signal,
              },
            )
          },
          [],
        )
        if (promise) track(promise, 'request')
        return
      }
      case 'abort':
        return guard('abort', () => controllers.shift()?.abort(), [])
      case 'delivered': {
        const receipt = receipts.at(-1 - a.back)
        if (receipt === undefined) return
        let promise: Promise<unknown> | undefined
        guard('delivered', () => (promise = client.delivered(receipt)), [])
        if (promise) track(promise, 'delivered')
        return
      }
      case 'listen':
        if (a.what === 'add') handlers.push(client.on('said', () => undefined))
        else if (a.what === 'remove') handlers.shift()?.()
        else if (a.what === 'selfRemove') {
          const off = client.on('said', () => {
            off()
            handlers.push(client.once('said', () => undefined))
          })
        } else {
          const listener = (state: ClientState) => {
            if (state.status !== 'reconnecting' || calm) return
            client.events.off('statechange', listener)
            client.close(4000, 'from a listener')
          }
          client.events.on('statechange', listener)
        }
        return
      case 'accept': {
        const socket = FakeWebSocket.instances.at(-1)
        if (socket?.readyState === FakeWebSocket.CONNECTING) {
          guard('accept', () => socket.accept(a.protocol), [])
        }
        return
      }
      case 'welcome': {
        const socket = open()
        if (!socket || welcomed.has(socket)) return
        serverReads(socket)
        const hello = helloOn.get(socket)
        if (!hello) return
        const resume = a.resume && session !== undefined && hello.sid === session.sid
        if (!resume) session = newSession()
        const current = session as Session
        welcomed.add(socket)
        guard(
          'welcome',
          () =>
            serverSend(socket, {
              t: '$welcome',
              d: {
                sid: current.sid,
                resumed: resume,
                a: current.lastS,
                ...(cfg.w ? { w: cfg.w } : {}),
              },
            }),
          [],
        )
        // What the client had not processed goes again, in order.
        const from = resume ? (hello.a ?? 0) : 0
        for (const envelope of current.outbound.slice(from)) {
          if (open() !== socket) break
          guard('resend', () => serverSend(socket, { ...envelope, a: current.lastS }), [])
        }
        return
      }
      case 'process': {
        const socket = open()
        if (socket) serverReads(socket)
        return
      }
      case 'ack': {
        const socket = open()
        if (!socket || !welcomed.has(socket) || !session) return
        serverReads(socket)
        const a = session.lastS
        return guard('ack', () => serverSend(socket, { t: '$ack', a }), [])
      }
      case 'serverSend':
      case 'serverRequest':
      case 'answer': {
        const socket = open()
        if (!socket || !welcomed.has(socket) || !session) return
        serverReads(socket)
        let envelope: Envelope
        const s = session.outbound.length + 1
        if (a.k === 'serverSend') {
          const n = session.outbound.filter(({ t }) => t === 'said').length + 1
          envelope = { t: 'said', d: { n }, s }
        } else if (a.k === 'serverRequest') {
          envelope = { t: '$req', d: { id: s, m: 'confirm', d: 'ok?' }, s }
        } else {
          const id = session.requests.shift()
          if (id === undefined) return
          envelope = { t: '$res', d: { id, d: 'pong' }, s }
        }
        session.outbound.push(envelope)
        const ack = session.lastS
        return guard('server send', () => serverSend(socket, { ...envelope, a: ack }), [])
      }
      case 'serverClose': {
        const socket = FakeWebSocket.instances.at(-1)
        if (!socket || socket.readyState === FakeWebSocket.CLOSED) return
        return guard('serverClose', () => socket.serverClose(a.code, 'server', a.code !== 1006), [])
      }
      case 'fail': {
        const socket = FakeWebSocket.instances.at(-1)
        if (!socket || socket.readyState === FakeWebSocket.CLOSED) return
        return guard('fail', () => socket.fail('refused', { close: a.close }), [])
      }
      case 'advance': {
        const before = FakeWebSocket.instances.length
        guard('advance', () => clock.advance(a.ms), [])
        const attempts = FakeWebSocket.instances.length - before
        // The first retry comes at least 125 ms (half of 250) after a failure.
        if (attempts > 1 + Math.floor(a.ms / 100) + reentered) {
          problems.push(`${attempts} attempts in ${a.ms} ms`)
        }
        return
      }
      case 'flush':
        return
      case 'reenter': {
        let done = false
        const call = () => {
          if (done || calm) return
          done = true
          if (a.call === 'connect' || a.call === 'reconnect') reentered++
          const n = ++sayNumber
          guard(
            `${a.call} from ${a.on}`,
            () => {
              if (a.call === 'close') client.close()
              else if (a.call === 'connect') client.connect()
              else if (a.call === 'reconnect') client.socket.reconnect()
              else if (a.call === 'request')
                track(client.request('echo', n, { timeoutMs: 300 }), 'request')
              else {
                const receipt = client.send('say', { n })
                accepted.push(n)
                receipts.push(receipt)
              }
            },
            ['CLOSED', 'QUEUE_FULL'],
          )
        }
        if (a.on === 'said') client.once('said', call)
        else if (a.on === 'statechange') client.events.once('statechange', call)
        else client.events.once(a.on, call)
        return
      }
      case 'socketClose':
        return guard('socket.close', () => client.socket.close(), [])
      case 'resend': {
        const socket = open()
        if (!socket || !welcomed.has(socket) || !session || discarding.has(socket)) return
        serverReads(socket)
        discarding.add(socket)
        const ack = session.lastS
        return guard('$resend', () => serverSend(socket, { t: '$resend', a: ack }), [])
      }
      case 'ping': {
        const socket = open()
        if (!socket || !welcomed.has(socket)) return
        return guard('$ping', () => serverSend(socket, { t: '$ping', d: { ts: 1 } }), [])
      }
      case 'blackhole':
        return FakeWebSocket.instances.at(-1)?.blackhole()
      case 'jump':
        clock.jump(a.ms)
        return
      case 'badClose':
        return guard('close(999)', () => client.close(999), ['INVALID_ARGUMENT'])
      case 'stale': {
        // Late events of a socket the client let go.
        const old = FakeWebSocket.instances
          .slice(0, -1)
          .find((socket) => socket.readyState !== FakeWebSocket.CLOSED)
        if (!old) return
        return guard(
          `stale ${a.what}`,
          () => {
            if (a.what === 'close') old.serverClose(1000)
            else if (a.what === 'fail') old.fail()
            else if (a.what === 'open' && old.readyState === FakeWebSocket.CONNECTING) {
              old.accept('lifeline.v1.json')
            } else if (old.readyState === FakeWebSocket.OPEN) {
              serverSend(old, { t: '$welcome', d: { sid: 'X', resumed: false, a: 0 } })
            }
          },
          [],
        )
      }
    }
  }

  try {
    for (const a of actions) {
      const before = FakeWebSocket.instances.length
      reentered = 0
      step(a)
      if (a.k !== 'advance' && FakeWebSocket.instances.length - before > 2 + reentered) {
        problems.push(`${FakeWebSocket.instances.length - before} attempts at once on ${a.k}`)
      }
      if (a.k === 'flush' || a.k === 'close' || a.k === 'abort') await flush()
      if (client.state.status === 'closed') {
        await flush()
        if (client.state.status === 'closed' && clock.pending !== 0) {
          problems.push(`${clock.pending} timers while closed, after ${a.k}`)
        }
      }
      if (problems.length > 0) break
    }
    await flush()

    // Then the link is stable: everything accepted reaches the server once and in order.
    calm = true
    if (problems.length === 0) {
      guard('connect', () => client.connect(), [])
      // A fresh link: connect() keeps an open one, which the actions may have black-holed.
      guard('reconnect', () => client.socket.reconnect(), [])
      const status = (): string => client.state.status
      for (let round = 0; round < 20 && status() !== 'open'; round++) {
        const socket = FakeWebSocket.instances.at(-1)
        if (socket?.readyState === FakeWebSocket.CONNECTING)
          step({ k: 'accept', protocol: 'lifeline.v1.json' })
        step({ k: 'welcome', resume: true })
        if (status() !== 'open') clock.advance(clock.nextDelay() ?? 1_000)
        await flush()
      }
      if (status() !== 'open') problems.push(`not open at the end: ${client.state.status}`)
      else {
        for (let i = 0; i < 3; i++) {
          step({ k: 'ack' })
          await flush()
        }
        const resets = sessions.length - 1
        const all = sessions.flatMap((s) => s.processed)
        if (resets === 0 && JSON.stringify(all) !== JSON.stringify(accepted)) {
          problems.push(`processed ${JSON.stringify(all)}, sent ${JSON.stringify(accepted)}`)
        }
        for (const s of sessions) {
          const sorted = [...s.processed].sort((x, y) => x - y)
          if (
            JSON.stringify(sorted) !== JSON.stringify(s.processed) ||
            new Set(s.processed).size !== s.processed.length
          ) {
            problems.push(`session ${s.sid} processed ${JSON.stringify(s.processed)}`)
          }
        }
        const missing = accepted.filter((n) => !all.includes(n))
        if (missing.length > 0) problems.push(`never processed: ${JSON.stringify(missing)}`)
        for (const got of said) {
          if (!got.every((n, i) => n === i + 1)) {
            problems.push(`said out of order: ${JSON.stringify(got)}`)
          }
        }
        if (client.unacked !== 0) problems.push(`${client.unacked} unacked at the end`)
      }
    }

    guard('close', () => client.close(), [])
    await flush()
    await flush()
    if (clock.pending !== 0) problems.push(`${clock.pending} timers after close()`)
    for (const [id, count] of settled) {
      if (count !== 1) problems.push(`promise ${id} settled ${count} times`)
    }
    for (const [next, previous] of stateLog) {
      if (next.status === previous.status && JSON.stringify(next) === JSON.stringify(previous)) {
        problems.push(`statechange told twice: ${next.status}`)
      }
    }
    if (reported.mock.calls.length > 0) {
      problems.push(`reported: ${reported.mock.calls.map((c) => String(c.at(-1))).join('; ')}`)
    }
  } finally {
    await flush()
    process.off('unhandledRejection', onRejection)
    reported.mockRestore()
  }
  for (const reason of rejections) problems.push(`unhandled rejection: ${String(reason)}`)
  return problems
}

beforeEach(() => FakeWebSocket.reset())
afterEach(() => vi.restoreAllMocks())

describe('the client under arbitrary interleavings', () => {
  it('keeps its promises whatever the order of calls, server events and time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(action, { maxLength: 120, size: 'max' }),
        fc.record({
          maxUnacked: fc.constantFrom(2, 1000),
          w: fc.constantFrom(undefined, 4096, 16384),
          ping: fc.boolean(),
        }),
        async (actions, cfg) => {
          const problems = await run(actions, cfg)
          expect(problems).toEqual([])
        },
      ),
      { numRuns: 1000 },
    )
  }, 600_000)
})
