import { beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'

// What a listener of the client's own events sends while the link goes down.

let clock: ManualClock

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe("a 'statechange' listener as the link goes down", () => {
  it("has an unreliable message reported as a 'drop', and a reliable one resent", () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    const drops: unknown[] = []
    client.events.on('drop', (drop) => drops.push(drop))
    client.events.on('statechange', (state) => {
      if (state.status !== 'reconnecting') return
      client.send('volatile', 'now', { reliable: false })
      client.send('kept', 'now')
    })
    FakeWebSocket.last.serverClose(1012, 'restart')
    expect(drops).toEqual([{ type: 'volatile', data: 'now', reason: 'offline' }])
    clock.advance(1_000)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
    expect(received().slice(1)).toEqual([{ t: 'kept', d: 'now', s: 1, a: 0 }])
    client.close()
  })
})

describe("a 'statechange' listener that closes the client", () => {
  it('has a once listener called for one state only', () => {
    const client = createFakeClient(clock)
    FakeWebSocket.last.accept('lifeline.v1.json')
    client.events.on('statechange', (state) => {
      if (state.status === 'open') client.close()
    })
    const seen: string[] = []
    client.events.once('statechange', (state) => seen.push(state.status))
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    expect(client.state.status).not.toBe('open')
    // The close's own change, emitted within that of 'open', came to it first.
    expect(seen).toEqual(['closing'])
  })
})

describe("an 'error' listener that reconnects as a link fails before its '$welcome'", () => {
  it("leaves the next link's handshake its own bound: a welcomed link is not dropped later", async () => {
    const client = createFakeClient(clock, { heartbeat: { intervalMs: 1_000, timeoutMs: 2_000 } })
    let reconnected = false
    client.events.on('error', () => {
      if (reconnected) return
      reconnected = true
      client.socket.reconnect()
    })
    FakeWebSocket.last.accept('lifeline.v1.json')
    // No `$welcome`, no frame at all: the heartbeat gives up and the listener reconnects.
    clock.advance(3_000)
    expect(reconnected).toBe(true)
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.accept('lifeline.v1.json')
    deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } })
    expect(client.state.status).toBe('open')
    for (let i = 0; i < 20; i++) {
      clock.advance(1_000)
      if (client.state.status !== 'open') break
      deliver({ t: '$pong', d: { ts: 0 } })
    }
    expect(client.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(2)
    client.close()
    await new Promise<void>((resolve) => setTimeout(resolve, 0))
    expect(clock.pending).toBe(0)
  })
})
