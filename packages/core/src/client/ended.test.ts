import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'

// A client that ends on its own (a fatal close code, retries exhausted) settles what waits on
// the server with the error that ended it, as `close()` settles it with CLOSED.

let clock: ManualClock

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

/** What `promise` has come to once the microtasks and a macrotask have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  const settled = promise.then(
    () => 'resolved',
    (error: { code: string }) => error.code,
  )
  return Promise.race([
    settled,
    new Promise<string>((resolve) => setTimeout(resolve, 0, 'pending')),
  ])
}

/** An open client with two requests (one without a timeout) and a receipt waiting. */
function waiting() {
  const client = createFakeClient(clock)
  FakeWebSocket.last.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
  const forever = client.request('slow', null, { timeoutMs: Infinity })
  const timed = client.request('slow', null)
  const receipt = client.delivered(client.send('m', 1))
  return { client, forever, timed, receipt }
}

describe('a client that ends on its own', () => {
  it('rejects its pending requests with the error that ended it', async () => {
    const { client, forever, timed, receipt } = waiting()
    FakeWebSocket.last.serverClose(4401, 'unauthenticated')
    expect(client.state.status).toBe('closed')
    expect(await outcome(receipt)).toBe('UNAUTHENTICATED')
    expect(await outcome(forever)).toBe('UNAUTHENTICATED')
    expect(await outcome(timed)).toBe('UNAUTHENTICATED')
    // No timer is left for them.
    expect(clock.pending).toBe(0)
  })
})

describe('a client ended on its own, asked again', () => {
  it('rejects a new request at once with the error that ended it, and sends it nowhere', async () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    FakeWebSocket.last.serverClose(4401, 'unauthenticated')
    expect(client.state.status).toBe('closed')

    const forever = client.request('slow', null, { timeoutMs: Infinity })
    const timed = client.request('slow', null)
    expect(await outcome(forever)).toBe('UNAUTHENTICATED')
    expect(await outcome(timed)).toBe('UNAUTHENTICATED')
    expect(clock.pending).toBe(0)
    // Not kept for a later connect(): its caller was told it failed, so it must not run.
    expect(client.unacked).toBe(0)

    // A message is still kept for connect(), its receipt told the cause, as before.
    const receipt = client.send('m', 1)
    expect(await outcome(client.delivered(receipt))).toBe('UNAUTHENTICATED')

    // Connected again, it asks and is answered.
    client.connect()
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
    const answered = client.request('fast', null)
    const sent = received().filter(({ t }) => t === '$req')
    expect(sent.map(({ d }) => (d as { m: string }).m)).toEqual(['fast'])
    deliver({ t: '$res', s: 1, a: 2, d: { id: (sent[0]?.d as { id: number }).id, d: 'ok' } })
    await expect(answered).resolves.toBe('ok')
  })

  it('rejects a new request at once once its retries are exhausted', async () => {
    const client = createFakeClient(clock, { socket: { maxRetries: 1 } })
    FakeWebSocket.last.fail()
    for (let i = 0; i < 5 && client.state.status !== 'closed'; i++) {
      clock.runNext()
      FakeWebSocket.last.fail()
    }
    expect(client.state).toMatchObject({ status: 'closed' })
    const code = (client.state as { lastError?: { code: string } }).lastError?.code
    expect(code).toBe('RETRIES_EXHAUSTED')
    expect(await outcome(client.request('slow', null, { timeoutMs: Infinity }))).toBe(code)
    expect(clock.pending).toBe(0)
  })
})

describe('a client whose socket is closed directly (client.socket.close())', () => {
  it('is closed as by close(): pending requests and receipts reject with CLOSED', async () => {
    const { client, forever, timed, receipt } = waiting()
    client.socket.close()
    expect(await outcome(forever)).toBe('CLOSED')
    expect(client.state.status).toBe('closed')
    expect(await outcome(timed)).toBe('CLOSED')
    expect(await outcome(receipt)).toBe('CLOSED')
    expect(clock.pending).toBe(0)
    expect(() => client.send('m', 2)).toThrow(expect.objectContaining({ code: 'CLOSED' }))
    // The message and both requests kept for connect(), as after close().
    expect(client.unacked).toBe(3)
  })

  it('is open again after client.socket.reconnect(), as after connect()', async () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    client.socket.close()
    await Promise.resolve()
    expect(client.state.status).toBe('closed')
    client.socket.reconnect()
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
    expect(client.state.status).toBe('open')
    client.send('m', 1)
    expect(received().filter(({ t }) => t === 'm')).toHaveLength(1)
  })
})

describe("a 'statechange' listener that connects the client again as close() ends it", () => {
  it('has the receipts close() rejects rejected with CLOSED, not undefined', async () => {
    const client = createFakeClient(clock)
    const receipt = client.delivered(client.send('m', 1))
    client.events.once('statechange', (state) => {
      if (state.status === 'closed') client.connect()
    })
    client.close()
    // The listener's connect() has the client connecting before close() rejects what waits.
    expect(client.state.status).toBe('connecting')
    await expect(receipt).rejects.toMatchObject({ code: 'CLOSED' })
    client.close()
  })
})

describe("a 'statechange' listener that connects the client again as close() begins", () => {
  it('has what it requests and sends afterwards answered, not rejected as closed', async () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    const before = client.request('echo', 0)
    let request: Promise<unknown> | undefined
    let receipt: Promise<void> | undefined
    client.events.once('statechange', () => {
      client.connect()
      request = client.request('echo', 1)
      receipt = client.delivered(client.send('m', 1))
    })
    client.close()
    expect(await outcome(before)).toBe('CLOSED')
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
    // Both go out on the new link, so both are owed their answer.
    expect(received().map(({ t }) => t)).toEqual(['$hello', '$req', '$req', 'm'])
    deliver({ t: '$res', d: { id: 2, d: 'pong' }, s: 1, a: 3 })
    expect(await outcome(request as Promise<unknown>)).toBe('resolved')
    expect(await outcome(receipt as Promise<void>)).toBe('resolved')
    client.close()
  })
})
