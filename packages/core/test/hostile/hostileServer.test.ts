import { afterEach, describe, expect, it } from 'vitest'
import { json } from '@lifeline/codec'
import { WebSocket } from 'ws'
import { expectNoEvent, startScriptedServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { ScriptedEnvelope } from '@lifeline/test-utils'
import { createClient } from '../../src/index.js'
import type { ClientOptions } from '../../src/index.js'
import { quickRetry } from '../helpers.js'

// Scripted raw servers that break the protocol, against `createClient`: every failure is a
// reported, backed-off attempt, and repeated ones end in a fatal state, never in a loop.

const fx = useFixtures(afterEach)

function connect(url: string, options: Partial<ClientOptions> = {}) {
  const client = fx.add(
    createClient({
      url,
      ...options,
      socket: { WebSocket, ...quickRetry, ...options.socket },
    }),
  )
  const errors: string[] = []
  client.events.on('error', (error) => errors.push(error.code))
  return { client, errors }
}

const welcome = { t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } }

describe('a server that breaks the protocol on every connection', () => {
  it('gets maxViolations connections through the backoff, then a fatal PROTOCOL_ERROR', async () => {
    // An unknown `$` type right after `$welcome`: what an older client sees from a newer server.
    const closeCodes: number[] = []
    const server = fx.add(
      await startScriptedServer((link) => {
        link.socket.on('close', (code) => closeCodes.push(code))
        link.send(welcome)
        link.send({ t: '$newer-control-frame', d: {} })
      }),
    )
    const { client, errors } = connect(server.url('/'))
    const delays: number[] = []
    client.socket.addEventListener('reconnecting', (event) => delays.push(event.delayMs))
    // Before, the client reconnected at once, without end: thousands of connections in 5 s.
    await waitFor(() => client.state.status === 'closed', {
      message: () => `the client to give up (${server.connections.length} connections so far)`,
    })
    expect(server.connections).toHaveLength(5)
    expect(delays).toHaveLength(4)
    expect(client.state).toMatchObject({ closeCode: 4002, lastError: { code: 'PROTOCOL_ERROR' } })
    expect(errors).toEqual(Array(6).fill('PROTOCOL_ERROR'))
    await expectNoEvent(server.wss, 'connection', 200)
    expect(closeCodes).toEqual(Array(5).fill(4002))
  })

  it('ends at once on a frame over its maxBytes, that an old server would replay forever', async () => {
    const server = fx.add(
      await startScriptedServer((link) => {
        link.send(welcome)
        link.send({ t: 'big', d: 'x'.repeat(4_000), s: 1 })
      }),
    )
    const { client, errors } = connect(server.url('/'), { codecs: [json({ maxBytes: 1_024 })] })
    await waitFor(() => client.state.status === 'closed', { message: 'the client to stop' })
    expect(errors).toEqual(['MESSAGE_TOO_LARGE'])
    expect(server.connections[0]?.index).toBe(0)
    await expectNoEvent(server.wss, 'connection', 200)
    expect(server.connections).toHaveLength(1)
  })
})

describe('a server that never says $welcome', () => {
  it('fails each attempt after connectionTimeoutMs and backs off, answered pings or not', async () => {
    const server = fx.add(await startScriptedServer(() => undefined))
    const { client, errors } = connect(server.url('/'), {
      heartbeat: { intervalMs: 50, timeoutMs: 1_000 },
      socket: { connectionTimeoutMs: 300 },
    })
    await waitFor(() => server.connections.length >= 3, { message: 'three attempts' })
    expect(errors.slice(0, 2)).toEqual(['CONNECT_TIMEOUT', 'CONNECT_TIMEOUT'])
    expect(client.state.status).not.toBe('open')
    expect(client.state.status).not.toBe('closed')
  })
})

describe('a server whose $welcome acknowledges less than it had', () => {
  it('is refused as a violation (4002), reported', async () => {
    const server = fx.add(
      await startScriptedServer((link) => {
        if (link.index === 0) {
          link.send(welcome)
          link.socket.once('message', () => {
            // Acknowledge the client's first message, then drop the link.
            link.send({ t: '$ack', a: 1 })
            link.socket.close(1012)
          })
        } else link.send({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } })
      }),
    )
    const { client, errors } = connect(server.url('/'), { socket: { maxViolations: 1 } })
    client.send('say', 'one')
    await waitFor(() => client.state.status === 'closed', { message: 'the violation' })
    expect(errors).toEqual(['PROTOCOL_ERROR', 'PROTOCOL_ERROR'])
    expect(client.state).toMatchObject({ closeCode: 4002 })
    expect(server.connections).toHaveLength(2)
  })
})

/**
 * A server that answers the client's first message, and each `$resend` marker it gets back,
 * with a `$resend` of `a = next(markers so far)`: what it had the client write again is counted.
 */
async function resendingServer(next: (markers: number) => number) {
  const seen = { markers: 0, resentBytes: 0 }
  const server = fx.add(
    await startScriptedServer((link) => {
      link.send(welcome)
      link.socket.on('message', (data: Buffer) => {
        const { t, s } = JSON.parse(String(data)) as { t: string; s?: number }
        if (seen.markers > 0 && s !== undefined) seen.resentBytes += data.length
        if (t === '$resend' ? ++seen.markers < 1_000 : seen.markers === 0 && s === 1) {
          link.send({ t: '$resend', a: next(seen.markers) })
        }
      })
    }),
  )
  return { server, seen }
}

describe('a server that asks for the same resend again and again', () => {
  it('is refused as a violation (4002) at its second $resend, the outbox resent once', async () => {
    // Each marker, and the first message, get the same `$resend`: everything again.
    const { server, seen } = await resendingServer(() => 0)
    const { client, errors } = connect(server.url('/'), { socket: { maxViolations: 1 } })
    const outbox = 'x'.repeat(1_000)
    for (let n = 0; n < 20; n++) client.send('m', outbox)
    // Before, each `$resend` had the whole outbox written again, without end.
    await waitFor(() => client.state.status === 'closed', {
      message: () =>
        `the violation (${seen.markers} markers, ${seen.resentBytes} bytes resent so far)`,
    })
    expect(client.state).toMatchObject({ closeCode: 4002, lastError: { code: 'PROTOCOL_ERROR' } })
    expect(errors).toEqual(['PROTOCOL_ERROR', 'PROTOCOL_ERROR'])
    expect(seen.markers).toBe(1)
    expect(seen.resentBytes).toBeLessThan(20 * 1_100)
  })
})

describe('a server that asks for one more envelope at each $resend', () => {
  it('is refused (4002) once the bytes resent pass 2 x maxUnackedBytes + 8 x its progress', async () => {
    // a = 0, 1, 2…: each covers the first envelope the previous round resent, so each passes
    // the floor, and each had the rest of the outbox written again.
    const { server, seen } = await resendingServer((markers) => markers)
    const maxUnackedBytes = 250_000
    const { client, errors } = connect(server.url('/'), {
      maxUnackedBytes,
      socket: { maxViolations: 1 },
    })
    for (let n = 0; n < 200; n++) client.send('m', 'x'.repeat(1_000))
    // Before, the 200 messages were resent 20,100 times (some 20 MB), with no violation.
    await waitFor(() => client.state.status === 'closed', {
      message: () =>
        `the violation (${seen.markers} markers, ${seen.resentBytes} bytes resent so far)`,
    })
    expect(client.state).toMatchObject({ closeCode: 4002, lastError: { code: 'PROTOCOL_ERROR' } })
    expect(errors).toEqual(['PROTOCOL_ERROR', 'PROTOCOL_ERROR'])
    // The bound: 2 x 250,000, 8 x the few envelopes acknowledged and frames received, and the
    // round that passed it (under 200 KB).
    expect(seen.resentBytes).toBeLessThan(3 * maxUnackedBytes)
    expect(seen.markers).toBeLessThan(10)
  })
})

describe('a server whose new session acknowledges more than the client kept', () => {
  it('is refused before the client takes the session: the next one that differs is a reset', async () => {
    const sids: unknown[] = []
    const server = fx.add(
      await startScriptedServer((link) => {
        sids.push(link.hello.sid)
        if (link.index === 0) {
          link.send(welcome)
          link.socket.once('message', () => link.socket.close(1012))
        } else if (link.index === 1) {
          // A new session that claims two envelopes processed where the client kept one.
          link.send({ t: '$welcome', d: { sid: 'S2', resumed: false, a: 2 } })
        } else link.send({ t: '$welcome', d: { sid: 'S2', resumed: true, a: 0 } })
      }),
    )
    const { client, errors } = connect(server.url('/'))
    const resets: string[] = []
    client.events.on('reset', (event) => resets.push(event.previousSessionId))
    client.send('say', 'one')
    await waitFor(() => server.connections.length === 3 && client.state.status === 'open', {
      message: 'the third link',
    })
    expect(errors).toEqual(['PROTOCOL_ERROR'])
    // The client never took session S2: the third link asks to resume S1, and S2 is a reset.
    expect(sids).toEqual([undefined, 'S1', 'S1'])
    expect(resets).toEqual(['S1'])
  })
})

describe('a server that says resumed: true of a session the client did not ask to resume', () => {
  it('is taken as a new session: the state says resumed: false, and a reset is told', async () => {
    const server = fx.add(
      await startScriptedServer((link) => {
        // The first link asked for no session; the second asked for S1 and is given S2.
        const sid = link.index === 0 ? 'S1' : 'S2'
        link.send({ t: '$welcome', d: { sid, resumed: true, a: 0 } })
      }),
    )
    const { client, errors } = connect(server.url('/'))
    const opened: unknown[] = []
    client.events.on('statechange', (state) => {
      if (state.status === 'open') opened.push([state.sessionId, state.resumed])
    })
    const resets: string[] = []
    client.events.on('reset', (event) => resets.push(event.previousSessionId))
    await waitFor(() => opened.length === 1, { message: 'the first link' })
    client.socket.reconnect()
    await waitFor(() => opened.length === 2, { message: 'the second link' })
    // Before, both said resumed: true, the second beside its reset.
    expect(opened).toEqual([
      ['S1', false],
      ['S2', false],
    ])
    expect(resets).toEqual(['S1'])
    expect(errors).toEqual([])
  })
})

describe('a server that sends before its $welcome what PROTOCOL.md does not allow there', () => {
  it('is refused (4002) for a $ping or a message first, or a second $welcome; not for an $error', async () => {
    const cases: Array<[ScriptedEnvelope[], ScriptedEnvelope[]]> = [
      [[{ t: '$ping', d: { ts: 1 } }], []],
      [[{ t: 'news', d: 1 }], []],
      [[], [welcome]],
      [[], [{ t: '$hello', d: { v: 1 } }]],
    ]
    for (const [before, after] of cases) {
      const server = fx.add(
        await startScriptedServer((link) => {
          for (const envelope of [...before, welcome, ...after]) link.send(envelope)
        }),
      )
      const { client, errors } = connect(server.url('/'), {
        socket: { WebSocket, ...quickRetry, maxViolations: 1 },
      })
      await waitFor(() => client.state.status === 'closed', { message: 'the violation' })
      expect(client.state).toMatchObject({ closeCode: 4002, lastError: { code: 'PROTOCOL_ERROR' } })
      expect(errors[0]).toBe('PROTOCOL_ERROR')
    }
    // An `$error` before the `$welcome` only informs.
    const server = fx.add(
      await startScriptedServer((link) => {
        link.send({ t: '$error', d: { code: 'SOON', message: 'a note' } })
        link.send(welcome)
      }),
    )
    const { client, errors } = connect(server.url('/'))
    await waitFor(() => client.state.status === 'open', { message: 'the link' })
    expect(errors).toEqual(['REMOTE_ERROR'])
  })
})

describe('a server that numbers a control frame other than $req and $res, or not those', () => {
  it('is refused (4002) rather than letting a $pong take the number of the message behind it', async () => {
    for (const bad of [
      { t: '$pong', d: { ts: 1 }, s: 1 },
      { t: '$ping', d: { ts: 1 }, s: 1 },
      { t: '$ack', s: 1 },
      { t: '$error', d: { code: 'X', message: 'y' }, s: 1 },
      { t: '$req', d: { id: 1, m: 'm', d: 1 } },
      { t: '$res', d: { id: 1, d: 1 } },
    ]) {
      const server = fx.add(
        await startScriptedServer((link) => {
          link.send(welcome)
          link.send(bad)
          link.send({ t: 'news', d: 'real', s: 1 })
        }),
      )
      const { client, errors } = connect(server.url('/'), {
        socket: { WebSocket, ...quickRetry, maxViolations: 1 },
      })
      const news: unknown[] = []
      client.on('news', (data) => news.push(data))
      await waitFor(() => client.state.status === 'closed', { message: `${bad.t} refused` })
      expect(client.state).toMatchObject({ closeCode: 4002, lastError: { code: 'PROTOCOL_ERROR' } })
      expect(errors[0]).toBe('PROTOCOL_ERROR')
      // Before, the `$pong` took s = 1 and the message was dropped as its duplicate.
      expect(news).toEqual([])
    }
  })
})

describe('a server that floods $ping and reads nothing', () => {
  it('has no answer held for each: what the client holds to write stays small', async () => {
    const count = 300_000
    const server = fx.add(
      await startScriptedServer((link) => {
        link.send(welcome)
        // Reads nothing more: every answer stays with the client, past the kernel's buffers.
        link.socket.pause()
        const ping = JSON.stringify({ t: '$ping', d: { ts: 0 } })
        for (let i = 0; i < count; i++) link.socket.send(ping)
      }),
    )
    const { client, errors } = connect(server.url('/'))
    let frames = 0
    client.socket.addEventListener('message', () => frames++)
    await waitFor(() => frames > count, { timeoutMs: 60_000, message: 'the pings' })
    // Each answer held was some 30 bytes counted and a write of its own: 300,000 of them held
    // megabytes, more with every ping.
    expect(client.socket.bufferedAmount).toBeLessThan(65_536)
    expect(client.state.status).toBe('open')
    expect(errors).toEqual([])
  }, 70_000)
})
