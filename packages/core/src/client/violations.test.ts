import { beforeEach, describe, expect, it, vi } from 'vitest'
import { json, type InboundFrame, type LifelineError } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'

// A server that breaks the protocol, a handshake that never completes, an acknowledgement that
// goes back: each is a failed attempt through the backoff, and never a loop.

let clock: ManualClock
const create = (options: Partial<ClientOptions> = {}): Client => createFakeClient(clock, options)

function welcome(sid = 'S1', resumed = false, a = 0) {
  const socket = FakeWebSocket.last
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid, resumed, a } }, socket)
}

/** Waits out the backoff's delay, when the client waits to reconnect. */
function retry(client: Client): void {
  const { state } = client
  if (state.status === 'reconnecting') clock.advance(state.delayMs)
}

function errorsOf(client: Client): string[] {
  const errors: string[] = []
  client.events.on('error', (error) => errors.push(`${error.code}:${error.closeCode}`))
  return errors
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('a server that breaks the protocol on every link', () => {
  it('is retried with the backoff, then given up on with PROTOCOL_ERROR after maxViolations', () => {
    const client = create()
    const errors = errorsOf(client)
    const delays: number[] = []
    client.socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    for (let link = 1; link <= 5; link++) {
      expect(FakeWebSocket.instances).toHaveLength(link)
      welcome()
      // What an older client sees from a newer server: a control frame it does not know.
      deliver({ t: '$newer', d: {} })
      expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
      retry(client)
    }
    // Half of 500, 1000, 2000, 4000 (random 0.5): the backoff's schedule, not a hot loop.
    expect(delays).toEqual([250, 500, 1000, 2000])
    expect(client.state).toMatchObject({
      status: 'closed',
      closeCode: 4002,
      lastError: { code: 'PROTOCOL_ERROR' },
    })
    expect(errors).toEqual([...Array(5).fill('PROTOCOL_ERROR:1002'), 'PROTOCOL_ERROR:4002'])
    clock.advance(600_000)
    expect(FakeWebSocket.instances).toHaveLength(5)
  })

  it('reconnects on as long as links stay healthy for minUptimeMs in between', () => {
    const client = create({ socket: { minUptimeMs: 5_000 } })
    for (let link = 1; link <= 8; link++) {
      welcome('S1', link > 1, 0)
      clock.advance(5_000)
      deliver({ t: 'said', d: 'gap', s: 7 })
      expect(client.state).toMatchObject({ status: 'reconnecting', delayMs: 250 })
      retry(client)
    }
    expect(FakeWebSocket.instances).toHaveLength(9)
    client.close()
  })

  it('counts a bad $welcome and a frame before it as violations too', () => {
    const client = create({ socket: { maxViolations: 2 } })
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 5 } })
    expect(client.state.status).toBe('reconnecting')
    retry(client)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: 'said', d: 'early' })
    expect(client.state).toMatchObject({ status: 'closed', lastError: { code: 'PROTOCOL_ERROR' } })
  })

  it('ends at once, without a reconnect, on a frame over its own maxBytes', () => {
    const client = create({ codecs: [json({ maxBytes: 1_024 })] })
    const errors = errorsOf(client)
    welcome()
    deliver({ t: 'said', d: 'x'.repeat(2_000), s: 1 })
    expect(client.state).toMatchObject({
      status: 'closed',
      lastError: { code: 'MESSAGE_TOO_LARGE', closeCode: 1009 },
    })
    expect(errors).toEqual(['MESSAGE_TOO_LARGE:1009'])
    clock.advance(600_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })
})

describe('a codec of its own', () => {
  it('has a frame its decode refuses drop the link, whatever copy of LifelineError it threw', () => {
    // A codec built on another copy of @lifeline/codec (another version, another bundle)
    // throws an error `isLifelineError` knows and `instanceof` does not.
    const inner = json()
    const codec = {
      ...inner,
      decode(frame: InboundFrame): unknown {
        try {
          return inner.decode(frame)
        } catch (error) {
          const { code, message, closeCode } = error as LifelineError
          throw Object.assign(new Error(message), { name: 'LifelineError', code, closeCode })
        }
      },
    }
    const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const client = create({ codecs: [codec] })
    const errors = errorsOf(client)
    welcome()
    FakeWebSocket.last.receive('{not json')
    expect(reported).not.toHaveBeenCalled()
    expect(errors).toEqual(['DECODE_FAILED:1007'])
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 4002, reason: 'decode_failed' })
    expect(client.state.status).toBe('reconnecting')
    reported.mockRestore()
    client.close()
  })
})

describe('handshake deadline', () => {
  it('fails an attempt whose $welcome does not come within connectionTimeoutMs of its start', () => {
    const client = create({ socket: { connectionTimeoutMs: 10_000 } })
    const errors = errorsOf(client)
    clock.advance(3_000)
    FakeWebSocket.last.accept('lifeline.v1.json')
    // The server answers pings but never welcomes.
    clock.advance(6_999)
    expect(client.state.status).toBe('connecting')
    clock.advance(1)
    expect(FakeWebSocket.instances[0]?.closedWith).toEqual({
      code: 4408,
      reason: 'no $welcome in time',
    })
    expect(errors).toEqual(['CONNECT_TIMEOUT:4408'])
    expect(client.state).toMatchObject({ status: 'reconnecting', delayMs: 250, closeCode: 4408 })
    // Not a violation: a slow server is retried for as long as any unreachable one.
    for (let attempt = 2; attempt <= 8; attempt++) {
      retry(client)
      FakeWebSocket.last.accept('lifeline.v1.json')
      clock.advance(10_000)
    }
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 9 })
    retry(client)
    welcome()
    expect(client.state.status).toBe('open')
    client.close()
  })

  it('leaves a welcomed link alone', () => {
    const client = create({ heartbeat: false })
    welcome()
    clock.advance(60_000)
    expect(client.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(1)
    client.close()
  })
})

describe('acknowledgements in $welcome', () => {
  it('refuses a resume that acknowledges less than the server already had', () => {
    const client = create()
    const errors = errorsOf(client)
    welcome('S1')
    client.send('say', 1)
    client.send('say', 2)
    deliver({ t: '$ack', a: 2 })
    FakeWebSocket.last.serverClose(1006, '', false)
    retry(client)
    welcome('S1', true, 1)
    expect(errors).toEqual(['PROTOCOL_ERROR:1002'])
    expect(FakeWebSocket.instances[1]?.closedWith).toEqual({ code: 4002, reason: 'protocol_error' })
    expect(client.state.status).toBe('reconnecting')
  })

  it.each([-1, 0.5, 1.5])('refuses a $welcome whose a is %s, no sequence number', (a) => {
    const client = create()
    const errors = errorsOf(client)
    client.send('say', 1)
    client.send('say', 2)
    welcome('S1', false, a)
    expect(errors).toEqual(['PROTOCOL_ERROR:1002'])
    expect(client.state.status).toBe('reconnecting')
    expect(client.unacked).toBe(2)
  })

  it('refuses a new session that acknowledges messages kept offline, never sent: they are not forgotten', async () => {
    const client = create()
    const errors = errorsOf(client)
    const receipt = client.send('say', 1)
    client.send('say', 2)
    let settled = false
    client.delivered(receipt).then(
      () => (settled = true),
      () => {},
    )
    // The server has seen nothing of them (the client sends nothing before `$welcome`).
    welcome('S1', false, 2)
    await Promise.resolve()
    expect(errors).toEqual(['PROTOCOL_ERROR:1002'])
    expect(client.state.status).toBe('reconnecting')
    expect(client.unacked).toBe(2)
    expect(settled).toBe(false)
    retry(client)
    welcome('S1', false, 0)
    expect(received().slice(1)).toEqual([
      { t: 'say', d: 1, s: 1, a: 0 },
      { t: 'say', d: 2, s: 2, a: 0 },
    ])
    client.close()
  })

  it('refuses a resume that acknowledges messages sent while offline, which no link wrote', () => {
    const client = create()
    const errors = errorsOf(client)
    welcome('S1')
    client.send('say', 1)
    FakeWebSocket.last.serverClose(1006, '', false)
    client.send('say', 2)
    retry(client)
    welcome('S1', true, 2)
    expect(errors).toEqual(['PROTOCOL_ERROR:1002'])
    expect(client.unacked).toBe(2)
    retry(client)
    welcome('S1', true, 1)
    expect(received().slice(1)).toEqual([{ t: 'say', d: 2, s: 2, a: 0 }])
    client.close()
  })

  it('accepts a resume that acknowledges as much or more', () => {
    const client = create()
    welcome('S1')
    client.send('say', 1)
    client.send('say', 2)
    deliver({ t: '$ack', a: 1 })
    FakeWebSocket.last.fail()
    retry(client)
    welcome('S1', true, 1)
    expect(client.state.status).toBe('open')
    expect(received().slice(1)).toEqual([{ t: 'say', d: 2, s: 2, a: 0 }])
    client.close()
  })
})
