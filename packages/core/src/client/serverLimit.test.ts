import { beforeEach, describe, expect, it } from 'vitest'
import { json } from '@lifeline/codec'
import type { Codec } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import { ManualClock } from '../testing/manualClock.js'
import { createFakeClient, deliver, received } from './fakeLink.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'

// The largest frame each side accepts travels in the handshake (`max`), and a message the server
// can never accept is refused on the client, where it is produced.

let clock: ManualClock
const create = (options: Partial<ClientOptions> = {}): Client => createFakeClient(clock, options)

function welcome(d: Record<string, unknown>) {
  const socket = FakeWebSocket.last
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0, ...d } }, socket)
}

const tooLarge = expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' })

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})

describe('the limits in the handshake', () => {
  it("announces its codec's maxBytes in $hello, and nothing for a codec without a limit", () => {
    create({ codecs: [json({ maxBytes: 4_096 })] })
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toEqual({ t: '$hello', d: { v: 1, r: 1, rs: 1, max: 4_096 } })
    create({ codecs: [json({ maxBytes: Infinity })] })
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toEqual({ t: '$hello', d: { v: 1, r: 1, rs: 1 } })
    const custom: Codec = {
      name: 'lifeline.v1.json',
      binary: false,
      encode: JSON.stringify,
      decode: (f) => JSON.parse(String(f)),
    }
    create({ codecs: [custom] })
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(received()[0]).toEqual({ t: '$hello', d: { v: 1, r: 1, rs: 1 } })
  })

  it("refuses at send() and request() what is over the server's max, up or down", async () => {
    const client = create()
    welcome({ max: 1_100 })
    expect(() => client.send('say', 'x'.repeat(1_200))).toThrow(tooLarge)
    await expect(client.request('echo', 'x'.repeat(1_200))).rejects.toEqual(tooLarge)
    expect(client.unacked).toBe(0)
    client.send('say', 'small')
    expect(received().at(-1)).toEqual({ t: 'say', d: 'small', s: 1, a: 0 })
    FakeWebSocket.last.serverClose(1006, '', false)
    // While the link is down the last server's limit still applies.
    expect(() => client.send('say', 'x'.repeat(1_200))).toThrow(tooLarge)
    expect(client.unacked).toBe(1)
    client.close()
  })

  it('checks nothing more when the server announces no max, or one above our own', () => {
    const client = create({ codecs: [json({ maxBytes: 1_024 })] })
    welcome({ max: 5_000 })
    client.send('say', 'x'.repeat(900))
    expect(client.unacked).toBe(1)
    FakeWebSocket.last.serverClose(1006, '', false)
    clock.advance(250)
    welcome({ resumed: true, a: 1 })
    client.send('say', 'y'.repeat(900))
    expect(client.unacked).toBe(1)
    client.close()
  })

  it('takes what was queued before the first $welcome and is too large out of the outbox, reported, and renumbers the rest', async () => {
    const client = create()
    const events: string[] = []
    client.events.on('error', (error) => events.push(`error:${error.code}`))
    client.events.on('drop', (event) => events.push(`drop:${event.type}`))
    client.send('say', 'one')
    client.send('big', 'x'.repeat(1_200))
    const request = client.request('echo', 'y'.repeat(1_200))
    client.send('say', 'two')
    expect(client.unacked).toBe(4)
    welcome({ max: 1_100 })
    await expect(request).rejects.toEqual(tooLarge)
    expect(events).toEqual([
      'error:MESSAGE_TOO_LARGE',
      'drop:big',
      'error:MESSAGE_TOO_LARGE',
      'drop:echo',
    ])
    // Sequence numbers without a gap: a gap would be a protocol violation at the server.
    expect(received().slice(1)).toEqual([
      { t: 'say', d: 'one', s: 1, a: 0 },
      { t: 'say', d: 'two', s: 2, a: 0 },
    ])
    client.send('say', 'three')
    expect(received().at(-1)).toMatchObject({ s: 3 })
    client.close()
  })

  it("answers a server request whose result is over the server's max with a coded error", async () => {
    const client = create()
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    client.handle('dump', () => 'z'.repeat(1_500))
    welcome({ max: 1_300 })
    deliver({ t: '$req', d: { id: 1, m: 'dump', d: null }, s: 1 })
    await new Promise((resolve) => setTimeout(resolve, 0))
    // Refused at once, where it is produced: the link stays up and the server is told.
    expect(client.state.status).toBe('open')
    expect(errors).toEqual(['MESSAGE_TOO_LARGE'])
    expect(received().at(-1)).toMatchObject({
      t: '$res',
      d: { id: 1, e: { code: 'MESSAGE_TOO_LARGE' } },
    })
    client.close()
  })

  it('treats a $welcome with a max under 1 KiB as a violation', () => {
    const client = create()
    welcome({ max: 1_000 }) // below a control frame's 1 KiB
    expect(client.state).toMatchObject({ status: 'reconnecting', closeCode: 4002 })
    client.close()
  })
})
