import { beforeEach, describe, expect, it } from 'vitest'
import { LifelineError } from '@lifeline/codec'
import { ReconnectingWebSocket } from './reconnectingWebSocket.js'
import type { ReconnectingWebSocketOptions } from './options.js'
import { FakeWebSocket } from './testing/fakeWebSocket.js'
import { ManualClock } from './testing/manualClock.js'

let clock: ManualClock

function create(options: ReconnectingWebSocketOptions = {}): ReconnectingWebSocket {
  return new ReconnectingWebSocket('ws://test.local/', undefined, {
    WebSocket: FakeWebSocket,
    clock,
    random: () => 0.5,
    ...options,
  })
}

function record(socket: ReconnectingWebSocket): string[] {
  const log: string[] = []
  socket.addEventListener('close', (event) => log.push(`close:${event.code}`))
  socket.addEventListener('error', (event) => log.push(`error:${event.error.code}`))
  socket.addEventListener('reconnecting', (event) =>
    log.push(`reconnecting:${event.attempt}:${event.delayMs}`),
  )
  return log
}

/** Waits out the backoff's delay: the next attempt starts. */
function retry(socket: ReconnectingWebSocket): void {
  const { state } = socket
  if (state.status === 'reconnecting') clock.advance(state.delayMs)
}

const violation = () => new LifelineError('PROTOCOL_ERROR', 'bad frame', { closeCode: 1002 })

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000_000)
})

describe('failLink', () => {
  it('drops the link with its code as a failed attempt: backoff, no reset of the retry count', () => {
    const socket = create()
    const log = record(socket)
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.accept()
      socket.failLink(violation(), 4002, 'protocol_error')
      expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
      const { state } = socket
      if (state.status !== 'reconnecting') throw new Error(`state ${state.status}`)
      expect(state.cause).toMatchObject({ code: 4002, error: { code: 'PROTOCOL_ERROR' } })
      // Nothing happens before the delay has passed.
      clock.advance(state.delayMs - 1)
      expect(FakeWebSocket.instances).toHaveLength(i + 1)
      clock.advance(1)
      expect(FakeWebSocket.instances).toHaveLength(i + 2)
    }
    // random 0.5: half of 500, 1000, 2000.
    expect(log).toEqual([
      'error:PROTOCOL_ERROR',
      'close:4002',
      'reconnecting:2:250',
      'error:PROTOCOL_ERROR',
      'close:4002',
      'reconnecting:3:500',
      'error:PROTOCOL_ERROR',
      'close:4002',
      'reconnecting:4:1000',
    ])
    socket.close()
  })

  it('ends for good after maxViolations links in a row broke the protocol', () => {
    const socket = create({ maxViolations: 3 })
    const log = record(socket)
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.accept()
      socket.failLink(violation(), 4002)
      retry(socket)
    }
    expect(FakeWebSocket.instances).toHaveLength(3)
    expect(socket.state).toMatchObject({
      status: 'closed',
      cause: { code: 4002, error: { code: 'PROTOCOL_ERROR', closeCode: 4002 } },
    })
    expect(log.slice(-3)).toEqual(['error:PROTOCOL_ERROR', 'close:4002', 'error:PROTOCOL_ERROR'])
    // reconnect() starts again with a fresh count.
    socket.reconnect()
    FakeWebSocket.last.accept()
    socket.failLink(violation(), 4002)
    expect(socket.state.status).toBe('reconnecting')
    socket.close()
  })

  it('counts again after a link that stayed open minUptimeMs', () => {
    const socket = create({ maxViolations: 2, minUptimeMs: 5_000 })
    FakeWebSocket.last.accept()
    socket.failLink(violation(), 4002)
    retry(socket)
    FakeWebSocket.last.accept()
    clock.advance(5_000)
    socket.failLink(violation(), 4002)
    // Stable link: the count and the backoff start again (delay of the first retry).
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2, delayMs: 250 })
    socket.close()
  })

  it("'retry' neither counts as a violation nor as a stable link", () => {
    const socket = create({ maxViolations: 1, minUptimeMs: 1_000 })
    for (let i = 0; i < 4; i++) {
      FakeWebSocket.last.accept()
      clock.advance(2_000)
      socket.failLink(new LifelineError('CONNECT_TIMEOUT', 'no handshake'), 4408, '', 'retry')
      retry(socket)
    }
    expect(socket.state).toMatchObject({ status: 'connecting', attempt: 5 })
    socket.close()
  })

  it("'fatal' closes for good at once and reports its error once", () => {
    const socket = create()
    const log = record(socket)
    FakeWebSocket.last.accept()
    const error = new LifelineError('MESSAGE_TOO_LARGE', 'too big', { closeCode: 1009 })
    socket.failLink(error, 4002, 'message_too_large', 'fatal')
    expect(socket.state).toEqual({
      status: 'closed',
      cause: { code: 4002, reason: 'message_too_large', wasClean: false, error },
    })
    expect(log).toEqual(['error:MESSAGE_TOO_LARGE', 'close:4002'])
    clock.advance(600_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('refuses a close code the standard refuses, and does nothing without a link', () => {
    const socket = create()
    expect(() => socket.failLink(violation(), 1002)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    FakeWebSocket.last.accept()
    socket.failLink(violation(), 4002)
    const state = socket.state
    socket.failLink(violation(), 4002)
    expect(socket.state).toBe(state)
    socket.close()
  })

  it('refuses a maxViolations that is not a number >= 0', () => {
    expect(() => create({ maxViolations: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
