import type { IncomingMessage } from 'node:http'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemorySessionStore,
  createServer,
  type AnySchema,
  type Peer,
  type ServerOptions,
} from '../src/index.js'
import { ProtocolClient, startServer, urlOf } from './helpers.js'

const fx = useFixtures(afterEach)

interface User {
  name: string
  token: string
}

/** Who the request says it is: `x-user`, with a token that changes from connection to connection. */
function userOf(request: IncomingMessage): User {
  return { name: String(request.headers['x-user']), token: String(request.headers['x-token']) }
}

const as = (name: string, token = `${name}-token`) => ({
  headers: { 'x-user': name, 'x-token': token },
})

async function startOwned(options: Omit<ServerOptions<User>, 'port' | 'server'> = {}) {
  const warnings: { message: string; details: unknown }[] = []
  const server = await startServer<AnySchema, User>(fx, {
    authenticate: userOf,
    sessionOwner: (user) => user.name,
    logger: {
      warn: (message, details) => warnings.push({ message, details }),
      error: () => undefined,
    },
    ...options,
  })
  const peers: Peer<AnySchema, User>[] = []
  const resets: string[] = []
  server.on('connection', (peer) => peers.push(peer))
  server.on('session:reset', (_peer, info) => resets.push(info.reason))
  return { server, peers, resets, warnings }
}

/** Connects to `server` as `name` (with its token, or `token`), asking to resume `sid` with `a`. */
function resumeAs(server: { port: number }, sid: string, a: number, name: string, token?: string) {
  return ProtocolClient.connect(fx, urlOf(server), { sid, a }, as(name, token))
}

/** A round trip behind everything the server wrote so far: a replay would have arrived before it. */
async function settled(client: ProtocolClient): Promise<void> {
  client.send({ t: '$ping', d: { ts: 1 } })
  await client.next('$pong')
}

describe('sessionOwner', () => {
  it("does not resume a session for another owner: it gets a new one and none of the session's replay, and the owner then resumes it whole", async () => {
    const { server, peers, resets, warnings } = await startOwned()
    const alice = await ProtocolClient.connect(fx, urlOf(server), {}, as('alice'))
    const peer = peers[0] as Peer<AnySchema, User>
    peer.send('m', 'for alice 1')
    await alice.client.waitForMessages(1)
    await alice.client.drop()
    await waitFor(() => !peer.connected, { message: 'the server to see the drop' })
    peer.send('m', 'for alice 2')

    const mallory = await resumeAs(server, alice.welcome.sid, 0, 'mallory')
    await settled(mallory.client)
    expect(mallory.welcome.resumed).toBe(false)
    expect(mallory.welcome.sid).not.toBe(alice.welcome.sid)
    expect(mallory.client.messages()).toEqual([])
    expect(resets).toEqual(['owner'])
    expect(peers[1]?.user.name).toBe('mallory')
    expect(warnings).toEqual([
      {
        message: 'session not resumed: it belongs to another owner',
        details: { code: 'FORBIDDEN', remoteAddress: '127.0.0.1' },
      },
    ])
    // Nothing of the session, its id least of all, reaches the log.
    expect(JSON.stringify(warnings)).not.toContain(alice.welcome.sid.slice(0, 22))

    // A fresh token of the same owner resumes it, with everything it missed.
    const back = await resumeAs(server, alice.welcome.sid, 1, 'alice', 'a-new-token')
    expect(back.welcome).toMatchObject({ sid: alice.welcome.sid, resumed: true, a: 0 })
    const replayed = await back.client.waitForMessages(1)
    expect(replayed.map((frame) => frame.d)).toEqual(['for alice 2'])
    expect(peer.user).toEqual({ name: 'alice', token: 'a-new-token' })
    expect(server.stats).toMatchObject({ sessionsCreated: 2, sessionsResumed: 1, takeovers: 0 })
  })

  it("leaves the owner's live link alone: no takeover, no 4409", async () => {
    const { server, peers } = await startOwned()
    const alice = await ProtocolClient.connect(fx, urlOf(server), {}, as('alice'))
    const mallory = await resumeAs(server, alice.welcome.sid, 0, 'mallory')
    expect(mallory.welcome.resumed).toBe(false)
    peers[0]?.send('m', 'still here')
    expect((await alice.client.waitForMessages(1)).map((frame) => frame.d)).toEqual(['still here'])
    expect(alice.client.closed).toBeUndefined()
    expect(peers[0]?.connected).toBe(true)
    expect(server.stats).toMatchObject({ takeovers: 0, sessions: 2 })
  })

  it('resumes a session restored from the store by its owner only', async () => {
    // A server that closed left its sessions in the store: the next one restores them.
    const store = createMemorySessionStore()
    const first = await startOwned({ store })
    const alice = await ProtocolClient.connect(fx, urlOf(first.server), {}, as('alice'))
    first.peers[0]?.send('m', 'kept')
    await alice.client.waitForMessages(1)
    await first.server.close()
    const second = await startOwned({ store })
    const mallory = await resumeAs(second.server, alice.welcome.sid, 0, 'mallory')
    await settled(mallory.client)
    expect(mallory.welcome.resumed).toBe(false)
    expect(mallory.client.messages()).toEqual([])
    const back = await resumeAs(second.server, alice.welcome.sid, 0, 'alice')
    expect(back.welcome.resumed).toBe(true)
    expect((await back.client.waitForMessages(1)).map((frame) => frame.d)).toEqual(['kept'])
    expect(second.resets).toEqual(['owner'])
  })

  it.each([
    {
      name: 'without its tag (made without sessionOwner)',
      edit: (sid: string) => sid.slice(0, 22),
    },
    { name: 'with its tag cut short', edit: (sid: string) => sid.slice(0, -1) },
    {
      name: 'with its secret changed and its tag kept',
      edit: (sid: string) => (sid[0] === 'A' ? 'B' : 'A') + sid.slice(1),
    },
    {
      name: 'with a tag of another session',
      edit: (sid: string) => `${sid.slice(0, 22)}.${'A'.repeat(22)}`,
    },
  ])('does not take an id $name for its owner', async ({ edit }) => {
    const { server, resets } = await startOwned()
    const alice = await ProtocolClient.connect(fx, urlOf(server), {}, as('alice'))
    expect(alice.welcome.sid).toMatch(/^[\w-]{22}\.[\w-]{22}$/)
    const again = await resumeAs(server, edit(alice.welcome.sid), 0, 'alice')
    expect(again.welcome.resumed).toBe(false)
    expect(resets).toEqual(['owner'])
    expect(alice.client.closed).toBeUndefined()
  })

  it('tells apart owners that differ only in lone surrogates, which UTF-8 makes one', async () => {
    // Names as a JSON body may give them: each lone surrogate would become U+FFFD in UTF-8.
    const names: Record<string, string> = { alice: 'x\uD800', mallory: 'x\uDC00' }
    const { server, resets } = await startOwned({
      authenticate: (request) => ({ ...userOf(request), name: names[userOf(request).name] ?? '' }),
    })
    const alice = await ProtocolClient.connect(fx, urlOf(server), {}, as('alice'))
    const mallory = await ProtocolClient.connect(
      fx,
      urlOf(server),
      { sid: alice.welcome.sid, a: 0 },
      as('mallory'),
    )
    expect(mallory.welcome.resumed).toBe(false)
    expect(resets).toEqual(['owner'])
    expect(alice.client.closed).toBeUndefined()
  })

  it('closes with 1011 and reports a sessionOwner that fails, or answers no string', async () => {
    for (const sessionOwner of [
      () => {
        throw new Error('no such user')
      },
      () => 42 as unknown as string,
    ]) {
      const { server } = await startOwned({ sessionOwner })
      const errors: unknown[] = []
      server.on('error', (error) => errors.push(error))
      const client = await ProtocolClient.open(fx, urlOf(server), as('alice'))
      client.send({ t: '$hello', d: { v: 1 } })
      expect((await client.waitClose()).code).toBe(1011)
      expect(errors).toHaveLength(1)
      expect(server.stats.sessions).toBe(0)
    }
  })

  it('refuses a sessionOwner that is no function, or has no authenticate to give it a user, at once (INVALID_ARGUMENT)', () => {
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' })
    expect(() =>
      createServer({
        port: 0,
        authenticate: userOf,
        sessionOwner: 'name' as unknown as (user: unknown) => string,
      }),
    ).toThrow(invalid)
    // Every user would be `undefined`: one owner for all, or a 1011 for every connection.
    expect(() =>
      createServer<AnySchema, User>({ port: 0, sessionOwner: (user) => user.name }),
    ).toThrow(invalid)
  })

  it('keeps a session id a bearer credential without sessionOwner', async () => {
    const server = await startServer<AnySchema, User>(fx, { authenticate: userOf })
    const alice = await ProtocolClient.connect(fx, urlOf(server), {}, as('alice'))
    expect(alice.welcome.sid).toMatch(/^[\w-]{22}$/)
    const other = await resumeAs(server, alice.welcome.sid, 0, 'mallory')
    expect(other.welcome.resumed).toBe(true)
  })
})
