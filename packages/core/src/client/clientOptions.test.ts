import { describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { socketOptionKeys } from '../options.js'
import type { Envelope } from '../protocol/envelope.js'
import { codec, deliver, received } from './fakeLink.js'
import { createClient } from './client.js'
import type { ClientOptions } from './clientOptions.js'

// A project without `exactOptionalPropertyTypes` (TypeScript's default) passes its own optional
// settings on as they are, `{ requestTimeoutMs: config.requestTimeoutMs }`: an option given as
// `undefined` must be one not given, its default applying, never a refusal or another behaviour.

const clientKeys =
  'mode codecs protocols framing socket heartbeat maxUnacked maxUnackedBytes ackEvery ' +
  'ackDelayMs requestTimeoutMs startClosed'

/** `options` with `key` set to `undefined`, as a loose caller writes it. */
const withUndefined = <T extends object>(options: T, key: string): T =>
  ({ ...options, [key]: undefined }) as T

const flushMicrotasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

const describeFrame = ({ t, s, a }: Envelope) => [t, s, a].filter((x) => x !== undefined).join(' ')

/**
 * Everything a protocol-mode client does over sends while connecting, a handshake, a run of
 * server messages to acknowledge, a request left unanswered to its timeout, the heartbeat's
 * silence, and an outbox filled past its bound: each event and frame, with the time it happened.
 */
async function protocolLifeOf(options: Partial<ClientOptions>): Promise<string[]> {
  FakeWebSocket.reset()
  const clock = new ManualClock(0)
  const log: string[] = []
  const at = (line: string) => log.push(`${clock.now()}: ${line}`)
  const client = createClient({
    url: 'ws://test.local/',
    ...options,
    socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options.socket },
  })
  client.events.on('statechange', (state) => at(`state ${state.status}`))
  client.events.on('error', (error) => at(`error ${error.code}`))
  const frames = () => {
    const sent = received().map(describeFrame)
    FakeWebSocket.last.sent.length = 0
    at(`frames ${sent.join(', ')}`)
  }
  client.send('say', 'early')
  FakeWebSocket.last.accept(codec.name)
  deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
  frames()
  // Past the default `ackEvery` (64), then the default `ackDelayMs` (20).
  for (let s = 1; s <= 70; s++) deliver({ t: 'said', s, d: s })
  frames()
  clock.advance(20)
  frames()
  const request = client.request('add', 1).then(
    () => at('answered'),
    (error: { code: string }) => at(`request ${error.code}`),
  )
  // The default request timeout (30 s) and heartbeat (25 s and 10 s).
  for (let i = 0; i < 8; i++) {
    clock.advance(5_000)
    await flushMicrotasks()
    frames()
  }
  await request
  // Past the default outbox bound of 10,000 messages.
  let sent = 0
  try {
    for (; sent <= 10_000; sent++) client.send('say', sent)
  } catch (error) {
    at(`send ${sent} threw ${(error as { code: string }).code}`)
  }
  client.close()
  return log
}

/** A raw-mode client's frames and messages over a link to any server. */
function rawLifeOf(options: Partial<ClientOptions>): string[] {
  FakeWebSocket.reset()
  const clock = new ManualClock(0)
  const log: string[] = []
  const client = createClient({
    url: 'ws://test.local/',
    mode: 'raw',
    ...options,
    socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options.socket },
  })
  client.on('said', (data) => log.push(`said ${String(data)}`))
  client.send('say', 'early')
  log.push(`protocols ${FakeWebSocket.last.protocols.join(' ')}`)
  FakeWebSocket.last.accept()
  FakeWebSocket.last.receive(codec.encode({ t: 'said', d: 1 }))
  log.push(`sent ${FakeWebSocket.last.sent.join(' ')}`)
  client.close()
  return log
}

describe('client options given as undefined', () => {
  it('live the same protocol-mode life as without the option', async () => {
    const base = await protocolLifeOf({})
    // The life tells the defaults apart: another bound, delay or timeout changes it.
    expect(base).toContain('30020: request REQUEST_TIMEOUT')
    expect(base).toContain('40020: send 9998 threw QUEUE_FULL')
    expect(await protocolLifeOf({ ackEvery: 32 })).not.toEqual(base)
    for (const key of clientKeys.split(' ').filter((key) => key !== 'socket')) {
      expect([key, await protocolLifeOf(withUndefined({}, key))]).toEqual([key, base])
    }
    const injected = ['WebSocket', 'clock', 'random', 'startClosed']
    for (const key of socketOptionKeys.split(' ').filter((key) => !injected.includes(key))) {
      expect([key, await protocolLifeOf({ socket: withUndefined({}, key) })]).toEqual([key, base])
    }
    for (const key of ['intervalMs', 'timeoutMs']) {
      const heartbeat = withUndefined({}, key)
      expect([key, await protocolLifeOf({ heartbeat })]).toEqual([key, base])
    }
  })

  it('live the same raw-mode life as without the option', () => {
    const base = rawLifeOf({})
    expect(base).toEqual(['protocols ', 'said 1', 'sent {"t":"say","d":"early"}'])
    for (const key of ['codecs', 'protocols', 'framing']) {
      expect([key, rawLifeOf(withUndefined({}, key))]).toEqual([key, base])
    }
  })
})
