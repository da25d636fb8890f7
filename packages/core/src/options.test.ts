import { describe, expect, it } from 'vitest'
import { ReconnectingWebSocket } from './reconnectingWebSocket.js'
import type { HeartbeatOptions } from './heartbeat.js'
import type { ReconnectingWebSocketOptions } from './options.js'
import { socketOptionKeys } from './options.js'
import { FakeWebSocket } from './testing/fakeWebSocket.js'
import { ManualClock } from './testing/manualClock.js'

// A project without `exactOptionalPropertyTypes` (TypeScript's default) passes its own optional
// settings on as they are, `{ maxRetries: config.maxRetries }`: an option given as `undefined`
// must be one not given, its default applying, never a refusal or another behaviour.

/** `options` with `key` set to `undefined`, as a loose caller writes it. */
const withUndefined = <T extends object>(options: T, key: string): T =>
  ({ ...options, [key]: undefined }) as T

/**
 * Everything a socket does over a life of offline sends, failed and timed-out attempts, an open
 * link with a heartbeat's silence, a drop after `minUptimeMs` and a fatal close: each event and
 * each send with the time it happened, and the delay of each timer the socket waits on.
 */
function lifeOf(options: ReconnectingWebSocketOptions): string[] {
  FakeWebSocket.reset()
  const clock = new ManualClock(1_000_000)
  const log: string[] = []
  const at = (line: string) => log.push(`${clock.now() - 1_000_000}: ${line}`)
  const socket = new ReconnectingWebSocket('ws://test.local/', undefined, {
    WebSocket: FakeWebSocket,
    clock,
    random: () => 0.5,
    ...options,
  })
  for (const type of ['open', 'connecting', 'drop'] as const) {
    socket.addEventListener(type, () => at(type))
  }
  socket.addEventListener('close', ({ code }) =>
    at(`close ${code}, ${FakeWebSocket.last.sent.length} sent`),
  )
  socket.addEventListener('error', ({ error }) => at(`error ${error.code}`))
  socket.addEventListener('reconnecting', ({ delayMs }) => at(`reconnecting in ${delayMs}`))
  socket.addEventListener('message', ({ data }) => at(`message ${String(data)}`))
  const send = (data: string) => {
    try {
      socket.send(data)
    } catch (error) {
      at(`send threw ${(error as { code: string }).code}`)
    }
  }
  // Past the default bound of 1,000 messages, then past the default 1 MiB.
  for (let i = 0; i < 1_001; i++) send(`m${i}`)
  send('x'.repeat(1024 * 1024))
  at(`queued ${socket.queuedMessages}`)
  // Past the default cap of the backoff's delays.
  for (let i = 0; i < 9; i++) {
    FakeWebSocket.last.fail()
    at(`waits ${clock.nextDelay()}`)
    clock.runNext()
  }
  // An attempt abandoned at the default connection timeout.
  at(`waits ${clock.nextDelay()}`)
  clock.runNext()
  clock.runNext()
  FakeWebSocket.last.accept()
  at(`sent ${FakeWebSocket.last.sent.length}`)
  FakeWebSocket.last.receive('pong')
  // The heartbeat's pings and its timeout, when it is on; a stable link otherwise.
  for (let i = 0; i < 4 && socket.readyState === ReconnectingWebSocket.OPEN; i++) {
    clock.advance(20_000)
    at(`sent ${FakeWebSocket.last.sent.length}`)
  }
  if (socket.readyState === ReconnectingWebSocket.OPEN) FakeWebSocket.last.serverClose(1006)
  at(`waits ${clock.nextDelay()}`)
  clock.runNext()
  if (FakeWebSocket.last.readyState === FakeWebSocket.CONNECTING) FakeWebSocket.last.accept()
  FakeWebSocket.last.serverClose(1008)
  at(`state ${socket.state.status}`)
  return log
}

describe('ReconnectingWebSocket options given as undefined', () => {
  const withHeartbeat: ReconnectingWebSocketOptions = {
    heartbeat: { ping: 'ping', isPong: (data) => data === 'pong' },
  }

  it('lives the same life as without the option', () => {
    const base = lifeOf({})
    const heartbeatLife = lifeOf(withHeartbeat)
    // The life tells the defaults apart: another bound, delay or timeout changes it.
    expect(base).toContain('0: send threw QUEUE_FULL')
    expect(heartbeatLife).not.toEqual(base)
    const injected = ['WebSocket', 'clock', 'random']
    for (const key of socketOptionKeys.split(' ').filter((key) => !injected.includes(key))) {
      expect([key, lifeOf(withUndefined({}, key))]).toEqual([key, base])
    }
    for (const key of ['maxMessages', 'maxBytes', 'overflow']) {
      expect([key, lifeOf({ queue: withUndefined({}, key) })]).toEqual([key, base])
    }
    for (const key of ['intervalMs', 'timeoutMs']) {
      const heartbeat = withUndefined(withHeartbeat.heartbeat as object, key)
      expect([key, lifeOf({ heartbeat })]).toEqual([key, heartbeatLife])
    }
    // Without a ping any frame is life, and without `isPong` the pong is a message.
    for (const key of ['ping', 'isPong'] as const) {
      const without: HeartbeatOptions = { ...(withHeartbeat.heartbeat as HeartbeatOptions) }
      delete without[key]
      const life = lifeOf({ heartbeat: without })
      expect(life).not.toEqual(heartbeatLife)
      expect([key, lifeOf({ heartbeat: withUndefined(without, key) })]).toEqual([key, life])
    }
  })

  it('takes the injected socket, clock and random as not given', () => {
    for (const key of ['WebSocket', 'clock', 'random']) {
      const socket = new ReconnectingWebSocket('ws://127.0.0.1:9/', undefined, {
        startClosed: true,
        [key]: undefined,
      })
      expect(socket.state.status).toBe('closed')
      socket.close()
    }
  })
})
