import { json } from '@lifeline/codec'
import { createClient } from '@lifeline/core'
import { expectNoEvent, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { Peer } from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

// Each side tells the other its largest accepted frame in the handshake (`max`), and a message
// the client can never accept is refused where the server produces it.

const fx = useFixtures(afterEach)
const tooLarge = expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' })

/** A server that hands out its peers and collects its `error` events. */
async function limitServer(maxMessageSize?: number) {
  const server = await startServer(fx, maxMessageSize === undefined ? {} : { maxMessageSize })
  const peers: Peer[] = []
  const errors: unknown[] = []
  server.on('connection', (peer) => peers.push(peer))
  server.on('error', (error) => errors.push(error))
  return { server, peers, errors }
}

describe('limits in the handshake', () => {
  it("announces the server's max in $welcome, and refuses a $hello max that is not an integer of at least 1 KiB", async () => {
    const { server } = await limitServer(4_096)
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server), { max: 1_100 })
    expect(welcome).toMatchObject({ resumed: false, a: 0, max: 4_096 })
    // Below a control frame's 1 KiB, not even an error answer to a request would fit.
    for (const max of [0, 512, 1_023]) {
      const bad = await ProtocolClient.open(fx, urlOf(server))
      bad.send({ t: '$hello', d: { v: 1, max } })
      expect(await bad.waitClose()).toMatchObject({ code: 1002 })
    }
  })

  it('peer.send and peer.request refuse what is over the client max, and keep nothing', async () => {
    const { server, peers } = await limitServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { max: 1_100 })
    const peer = peers[0] as Peer
    const big = 'x'.repeat(2_000)
    expect(() => peer.send('m', big)).toThrow(tooLarge)
    expect(() => peer.send('m', big, { reliable: false })).toThrow(tooLarge)
    await expect(peer.request('m', big)).rejects.toEqual(tooLarge)
    peer.send('m', 'small')
    const [message] = await client.waitForMessages(1)
    // Nothing refused took a sequence number: the client sees no gap.
    expect(message).toMatchObject({ t: 'm', d: 'small', s: 1 })
  })

  it('checks nothing for a client that announced no max (older clients)', async () => {
    const { server, peers } = await limitServer()
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    ;(peers[0] as Peer).send('m', 'x'.repeat(2_000))
    expect(await client.waitForMessages(1)).toHaveLength(1)
  })

  it('a room send skips a member whose max it exceeds and reports it; the others get it', async () => {
    const { server, peers, errors } = await limitServer()
    const small = await ProtocolClient.connect(fx, urlOf(server), { max: 1_100 })
    const large = await ProtocolClient.connect(fx, urlOf(server), { max: 100_000 })
    for (const peer of peers) peer.join('room')
    const big = 'x'.repeat(2_000)
    expect(server.to('room').send('m', big)).toBe(1)
    expect(server.broadcast('m', big, { reliable: false })).toBe(1)
    expect(errors).toEqual([tooLarge, tooLarge])
    expect(await large.client.waitForMessages(2)).toHaveLength(2)
    server.to('room').send('m', 'small')
    const [first] = await small.client.waitForMessages(1)
    expect(first).toMatchObject({ d: 'small', s: 1 })
  })

  it('answers an RPC whose response is over the client max with a MESSAGE_TOO_LARGE error response', async () => {
    const { server, errors } = await limitServer()
    server.handle('dump', () => 'x'.repeat(2_000))
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { max: 1_100 })
    client.send({ t: '$req', d: { id: 1, m: 'dump', d: null }, s: 1 })
    const response = await client.next('$res')
    expect(response.d).toMatchObject({ id: 1, e: { code: 'MESSAGE_TOO_LARGE' } })
    expect(errors).toEqual([tooLarge])
  })

  it('does not resume a session whose replay holds a message over the new max: reset, reported', async () => {
    const { server, peers } = await limitServer()
    const resets: string[] = []
    const ends: string[] = []
    server.on('session:reset', (_peer, { reason }) => resets.push(reason))
    server.on('session:end', (_peer, { reason }) => ends.push(reason))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    const peer = peers[0] as Peer
    await first.client.drop()
    await waitFor(() => !peer.connected, { message: 'the server to see the drop' })
    // Sent while the client was away, to a client that said nothing of its limit.
    peer.send('m', 'x'.repeat(2_000))
    const second = await ProtocolClient.connect(fx, urlOf(server), {
      sid: first.welcome.sid,
      a: 0,
      max: 1_100,
    })
    expect(second.welcome).toMatchObject({ resumed: false })
    expect(resets).toEqual(['oversize'])
    expect(ends).toEqual(['oversize'])
    await expectNoEvent(second.client.socket, 'message', 100)
  })
})

describe('two honest peers with different limits', () => {
  it('refuse the message where it is produced: no reconnect loop, the refusal reported', async () => {
    // The server accepts 2 MiB; the client's codec 1 MiB; the message is in between.
    const { server } = await limitServer(2 * 1_048_576)
    const refusals: unknown[] = []
    let connections = 0
    const seen = () => connections++
    server.on('connection', (peer) => {
      seen()
      try {
        peer.send('big', 'x'.repeat(1.5 * 1_048_576))
      } catch (error) {
        refusals.push(error)
      }
    })
    server.on('resume', seen)
    const client = fx.add(
      createClient({
        url: urlOf(server),
        codecs: [json()],
        socket: { WebSocket, initialDelayMs: 20, maxDelayMs: 100 },
      }),
    )
    const errors: string[] = []
    client.events.on('error', (error) => errors.push(error.code))
    await waitFor(() => client.state.status === 'open', { message: 'the client to open' })
    // Before, the message was replayed on every resume: about 35 reconnects a second.
    await expectNoEvent(server, 'resume', 200)
    expect(connections).toBe(1)
    expect(refusals).toEqual([tooLarge])
    expect(errors).toEqual([])
    expect(client.state.status).toBe('open')
  })
})
