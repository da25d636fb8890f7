import type { Duplex } from 'node:stream'
import { inspect } from 'node:util'
import { ManualClock } from '@lifeline/core/testing'
import { expectNoEvent, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import type {
  ClaimedSession,
  CommitResult,
  Peer,
  SessionCommit,
  SessionRecord,
  SharedSessionStore,
} from '../src/index.js'
import { ProtocolClient, startServer, urlOf, type Frame } from './helpers.js'

const fx = useFixtures(afterEach)

/**
 * A shared store in memory whose writes a test holds back, fails or fences, to see what the
 * server acknowledges and sends meanwhile.
 */
function fakeSharedStore() {
  const sessions = new Map<
    string,
    { epoch: number; lastClientSeq: number; lastServerSeq: number }
  >()
  let gate: Promise<void> = Promise.resolve()
  let open: () => void = () => undefined
  const state = {
    reachable: true,
    /** Sessions' commits, and store writes (each carries the commits of one turn). */
    commits: 0,
    writes: 0,
    failWith: undefined as Error | undefined,
  }
  const store: SharedSessionStore = {
    shared: true,
    available: () => state.reachable,
    async create(record: SessionRecord): Promise<number> {
      sessions.set(record.id, {
        epoch: 1,
        lastClientSeq: record.lastClientSeq,
        lastServerSeq: record.lastServerSeq,
      })
      return 1
    },
    async claim(): Promise<ClaimedSession | undefined> {
      return undefined
    },
    async commit(commits: readonly SessionCommit[]): Promise<CommitResult[]> {
      await gate
      if (state.failWith) throw state.failWith
      state.writes++
      return commits.map(({ id, epoch, change }) => {
        state.commits++
        const session = sessions.get(id)
        if (session === undefined) return 'missing'
        if (session.epoch !== epoch) return 'fenced'
        session.lastClientSeq = Math.max(session.lastClientSeq, change.lastClientSeq)
        for (const { s } of change.sent) session.lastServerSeq = Math.max(session.lastServerSeq, s)
        return 'ok'
      })
    },
    async release(): Promise<void> {},
    async keepAlive(): Promise<void> {},
    onRevoked: () => () => undefined,
    get: () => undefined,
    set: () => undefined,
    delete: () => undefined,
  }
  return {
    store,
    sessions,
    state,
    /** Holds every write until `release()`. */
    hold(): void {
      gate = new Promise((resolve) => (open = resolve))
    },
    release(): void {
      open()
    },
    /** Another process claims the session: this one's token is stale. */
    fence(id: string): void {
      const session = sessions.get(id)
      if (session !== undefined) session.epoch++
    },
  }
}

/**
 * A server on `fake` with a client whose session is stored; then the store goes unreachable and
 * the client sends `up` 1 to 3, which the server echoes at once.
 */
/**
 * A server on `fake` that answers `up` with `down`, and its client, which sent `up` 1: processed,
 * and its write held by the store.
 */
async function processedUnstored(
  fake: ReturnType<typeof fakeSharedStore>,
  options: Omit<NonNullable<Parameters<typeof startServer>[1]>, 'store'> = {},
) {
  const server = await startServer(fx, { store: fake.store, ...options })
  server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
  const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
  await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
  fake.hold()
  client.send({ t: 'up', d: 1, s: 1 })
  await waitFor(() => server.stats.messagesReceived === 1, { message: 'processed' })
  return { server, client, welcome }
}

async function servedWhileAway(fake: ReturnType<typeof fakeSharedStore>) {
  const server = await startServer(fx, { store: fake.store })
  server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
  const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
  await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
  fake.state.reachable = false
  for (let s = 1; s <= 3; s++) client.send({ t: 'up', d: s, s })
  return { fake, server, client, welcome }
}

/** Takes the listener the server gives `fake` for handoffs; calls it as the store would. */
function handoffOf(
  fake: ReturnType<typeof fakeSharedStore>,
): (id: string, token?: number) => Promise<void> {
  let listener: ((id: string, token?: number) => Promise<void>) | undefined
  fake.store.onHandoff = (given) => {
    listener = given
    return () => undefined
  }
  return (id, token) => {
    if (listener === undefined) throw new Error('the server took no handoff listener')
    return listener(id, token)
  }
}

/** The highest `a` the client has been sent. */
function ackOf(client: ProtocolClient): number {
  return Math.max(0, ...client.received.map((frame: Frame) => frame.a ?? 0))
}

describe('a server on a shared store', () => {
  it('acknowledges a client message and sends its reply only once the store holds them', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store })
    const ids: (string | undefined)[] = []
    server.on('connection', (peer) =>
      peer.on('up', (n, _peer, info) => {
        ids.push(info.id)
        peer.send('down', n)
      }),
    )
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    fake.hold()
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => ids.length === 1, { message: 'processed' })
    // Processed at once, but neither acknowledged nor answered while the write is held.
    await expectNoEvent(client.socket, 'message', 150)
    expect(ackOf(client)).toBe(0)
    fake.release()
    const down = await client.next('down')
    expect(down).toMatchObject({ d: 1, s: 1, a: 1 })
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 1, lastServerSeq: 1 })
    // The handler's info names the message: peer id and sequence.
    const peer = [...server.peers.values()][0]
    expect(ids).toEqual([`${peer?.id}:1`])
  })

  it('acknowledges what a commit stored with its next frame, or ackDelayMs after: no $ack of its own at once', async () => {
    const clock = new ManualClock()
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store, clock, heartbeat: false })
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastClientSeq === 1, {
      message: 'stored',
    })
    // Stored: the acknowledgement waits for a frame to go with, or for ackDelayMs (20 ms).
    await expectNoEvent(client.socket, 'message', 150)
    clock.advance(19)
    await expectNoEvent(client.socket, 'message', 50)
    expect(ackOf(client)).toBe(0)
    clock.advance(1)
    await waitFor(() => ackOf(client) === 1, { message: 'acknowledged' })
    expect(client.received.filter((frame) => frame.t === '$ack')).toHaveLength(1)
  })

  it('acknowledges at once by bytes once per quarter window received, not on every commit that lags', async () => {
    // No timer fires (ManualClock): every `$ack` here went at once, by bytes.
    const clock = new ManualClock()
    const fake = fakeSharedStore()
    const server = await startServer(fx, {
      store: fake.store,
      clock,
      heartbeat: false,
      ackEvery: 10_000,
    })
    let processed = 0
    server.on('connection', (peer) => peer.on('up', () => processed++))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    // A steady stream whose commits lag a batch behind: each commit stores what came before
    // the batch processed while it was held. 32 batches of 16 KiB: 512 KiB, four times the
    // 128 KiB (a quarter of the default window) that acknowledges at once.
    fake.hold()
    let s = 0
    for (let batch = 0; batch < 32; batch++) {
      for (let n = 0; n < 4; n++) client.send({ t: 'up', d: 'x'.repeat(4_000), s: ++s })
      await waitFor(() => processed === s, { message: `batch ${batch} processed` })
      // The commit held is the one issued for the batch before.
      if (batch === 0) continue
      const commits = fake.state.commits
      fake.release()
      fake.hold()
      await waitFor(() => fake.state.commits > commits, { message: `batch ${batch} committed` })
    }
    await expectNoEvent(client.socket, 'message', 50)
    // Before, past the first 128 KiB every commit sent its `$ack` at once: some 25.
    const acks = client.received.filter((frame) => frame.t === '$ack').length
    expect(acks).toBeGreaterThanOrEqual(3)
    expect(acks).toBeLessThanOrEqual(5)
  })

  it('asks a client to resend again only once a commit stored the first envelope it resent, with an a that covers it', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, {
      store: fake.store,
      outboundHighWaterBytes: 64 * 1024,
      heartbeat: false,
    })
    const peers: Peer[] = []
    let processed = 0
    server.on('connection', (peer) => {
      peers.push(peer)
      peer.on('up', () => processed++)
    })
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server), { rs: 1 })
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    const pad = 'p'.repeat(16 * 1024)
    // 80 KiB of pushes the client does not acknowledge yet: its output is over the 64 KiB mark,
    // so its next frames wait, and past 64 KiB of them are discarded.
    const overTheMark = async () => {
      const before = client.messages().length
      for (let n = 0; n < 5; n++) peers[0]?.send('push', pad)
      await waitFor(() => client.messages().length === before + 5, { message: 'the pushes' })
    }
    const resends = () => client.received.filter((frame) => frame.t === '$resend')
    // Round 1 with the store away (served at once, acknowledged as processed): its `$resend`
    // acknowledges everything processed.
    fake.state.reachable = false
    await overTheMark()
    for (let s = 1; s <= 10; s++) client.send({ t: 'up', d: pad, s })
    await expectNoEvent(client.socket, 'message', 200)
    client.acknowledge()
    const first = (await client.next('$resend')).a as number
    expect(first).toBe(processed)
    expect(first).toBeLessThan(10)
    // The store back (its retry stores round 1); round 2 with its writes held: the first
    // envelope resent, right behind the marker, waits and is then processed, but not stored.
    fake.state.reachable = true
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastClientSeq === first, {
      message: 'round 1 stored',
    })
    await overTheMark()
    fake.hold()
    client.send({ t: '$resend' })
    for (let s = first + 1; s <= 10; s++) client.send({ t: 'up', d: pad, s })
    await expectNoEvent(client.socket, 'message', 200)
    client.acknowledge()
    await waitFor(() => processed > first, { message: 'the first envelope resent processed' })
    // The next `$resend` must acknowledge it (the client refuses one that does not): it waits
    // for the commit that stores it. Before, it went at once with the same a.
    await expectNoEvent(client.socket, 'message', 200)
    expect(resends()).toHaveLength(1)
    fake.release()
    const second = (await client.next('$resend')).a as number
    expect(second).toBeGreaterThanOrEqual(first + 1)
    expect(server.stats).toMatchObject({ protocolErrors: 0, slowConsumers: 0 })
  })

  it('lets go of a session another process took: 1012, and the session ends as moved', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store })
    const ends: string[] = []
    server.on('session:end', (_peer, { reason }) => ends.push(reason))
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    fake.fence(welcome.sid)
    client.send({ t: 'up', d: 1, s: 1 })
    expect(await client.waitClose()).toEqual({ code: 1012, reason: 'session moved' })
    expect(ends).toEqual(['moved'])
    // Nothing was acknowledged nor sent by the process that lost the session.
    expect(ackOf(client)).toBe(0)
    expect(client.messages()).toEqual([])
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
  })

  it('hands a session over when another process asks: stops taking its messages, stores what it processed, lets go', async () => {
    const fake = fakeSharedStore()
    const handOff = handoffOf(fake)
    const server = await startServer(fx, { store: fake.store })
    const processed: number[] = []
    server.on('connection', (peer) =>
      peer.on('up', (n) => {
        processed.push(n as number)
        peer.send('down', n)
      }),
    )
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    fake.hold()
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => processed.length === 1, { message: 'processed' })
    let handedOver = false
    const handoff = handOff(welcome.sid).then(() => (handedOver = true))
    // A message after the request is not processed here: the client sends it again where it is.
    client.send({ t: 'up', d: 2, s: 2 })
    expect(await client.waitClose()).toEqual({ code: 1012, reason: 'session moved' })
    expect(handedOver).toBe(false)
    fake.release()
    await handoff
    // Answered only once the processed message is stored, with this process's token.
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 1 })
    expect(processed).toEqual([1])
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
    // A session this process does not hold: answered at once.
    await handOff('unknown')
  })

  it('hands a session over with the answers of its RPC handlers still running, or CLOSED past handoffTimeoutMs', async () => {
    const fake = fakeSharedStore()
    Object.assign(fake.store, { handoffTimeoutMs: 300 })
    const sent: unknown[] = []
    const commit = fake.store.commit.bind(fake.store)
    fake.store.commit = (commits) => {
      for (const { change } of commits) sent.push(...change.sent.map(({ t, d }) => ({ t, d })))
      return commit(commits)
    }
    const handOff = handoffOf(fake)
    const server = await startServer(fx, { store: fake.store })
    server.on('error', () => undefined)
    server.handle('soon', () => new Promise((resolve) => setTimeout(() => resolve('done'), 50)))
    server.handle('never', () => new Promise(() => undefined))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    client.send({ t: '$req', d: { id: 1, m: 'soon' }, s: 1 })
    client.send({ t: '$req', d: { id: 2, m: 'never' }, s: 2 })
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastClientSeq === 2, {
      message: 'both requests stored as processed',
    })
    await withTimeout(handOff(welcome.sid), 5_000, 'the handoff')
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
    // The process that takes the session drops both requests as duplicates: the answers are
    // in the store, or they would never come.
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 2, lastServerSeq: 2 })
    expect(sent).toEqual([
      { t: '$res', d: { id: 1, d: 'done' } },
      { t: '$res', d: { id: 2, e: { code: 'CLOSED', message: expect.any(String) } } },
    ])
  })

  it('hands a session over with what it processed when the store refused its write once', async () => {
    const fake = fakeSharedStore()
    const handOff = handoffOf(fake)
    const server = await startServer(fx, { store: fake.store })
    server.on('error', () => undefined)
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    // The write in flight when another process asks is refused; the store stays reachable.
    const commit = fake.store.commit.bind(fake.store)
    fake.store.commit = async (commits) => {
      try {
        return await commit(commits)
      } finally {
        fake.state.failWith = undefined
      }
    }
    fake.hold()
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => server.stats.messagesReceived === 1, { message: 'processed' })
    const handoff = handOff(welcome.sid)
    fake.state.failWith = new Error('refused')
    fake.release()
    await handoff
    // Tried again before it let go: the process that claims it next resumes after 1.
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 1, lastServerSeq: 1 })
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
  })

  it("lets a session go in a handoff once its write in flight took the store's handoffTimeoutMs", async () => {
    const fake = fakeSharedStore()
    Object.assign(fake.store, { handoffTimeoutMs: 100 })
    const handOff = handoffOf(fake)
    const { server, welcome } = await processedUnstored(fake)
    // The store stalls: not a handoff that never answers, but one that lets go, as a crash.
    await withTimeout(handOff(welcome.sid), 2_000, 'the handoff')
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 0 })
    fake.release()
  })

  it("answers a handoff once a restore of the session in flight here took the store's handoffTimeoutMs", async () => {
    const fake = fakeSharedStore()
    Object.assign(fake.store, { handoffTimeoutMs: 100 })
    const handOff = handoffOf(fake)
    let claims = 0
    fake.store.claim = () => {
      claims++
      return new Promise<ClaimedSession | undefined>(() => undefined)
    }
    const server = await startServer(fx, { store: fake.store, closeTimeoutMs: 200 })
    server.on('error', () => undefined)
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid: 'held-elsewhere', a: 0 } })
    await waitFor(() => claims === 1, { message: 'the claim' })
    // The store never answers the restore's claim: the process asking is not kept waiting.
    await withTimeout(handOff('held-elsewhere'), 2_000, 'the handoff')
    expect(server.stats.sessions).toBe(0)
    await withTimeout(server.close(), 2_000, 'server.close()')
  })

  it('keeps a session it claimed afresh while a handoff of an older token waited for that claim', async () => {
    const fake = fakeSharedStore()
    const handOff = handoffOf(fake)
    fake.sessions.set('moving', { epoch: 4, lastClientSeq: 0, lastServerSeq: 0 })
    let answer: ((claimed: ClaimedSession) => void) | undefined
    fake.store.claim = () => new Promise((resolve) => (answer = resolve))
    const server = await startServer(fx, { store: fake.store })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid: 'moving', a: 0 } })
    await waitFor(() => answer, { message: 'the claim' })
    // Asked for the session by the token 3 another process held, while this one claims it.
    let handedOver = false
    const handoff = handOff('moving', 3).then(() => (handedOver = true))
    answer?.({ record: recordOf('moving'), epoch: 4, previousEpoch: 3 })
    expect(await client.next('$welcome')).toMatchObject({ d: { sid: 'moving', resumed: true } })
    await handoff
    // Answered, but not let go: the claim that asked now finds the token 4 and asks again.
    expect(handedOver).toBe(true)
    expect(server.stats).toMatchObject({ sessions: 1, sessionsMoved: 0 })
    await expectNoEvent(client.socket, 'close', 150)
  })

  it("refuses a resume with 1013 once its session's write in flight took the store's handoffTimeoutMs", async () => {
    const fake = fakeSharedStore()
    Object.assign(fake.store, { handoffTimeoutMs: 100 })
    const { server, client, welcome } = await processedUnstored(fake)
    server.on('error', () => undefined)
    await client.drop()
    const again = await ProtocolClient.open(fx, urlOf(server))
    again.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 0 } })
    expect(await again.waitClose(2_000)).toMatchObject({ code: 1013 })
    // The write through, the session resumes here, after 1.
    fake.release()
    const { welcome: resumed } = await ProtocolClient.connect(fx, urlOf(server), {
      sid: welcome.sid,
      a: 0,
    })
    expect(resumed).toMatchObject({ sid: welcome.sid, resumed: true, a: 1 })
  })

  it("waits for a write in flight up to a store's handoffTimeoutMs longer than a timer can wait, rather than refusing at once", async () => {
    const fake = fakeSharedStore()
    // 30 days: as a timer's delay, Node would fire it after 1 ms, and the resume get 1013 at once.
    Object.assign(fake.store, { handoffTimeoutMs: 30 * 86_400_000 })
    const { server, client, welcome } = await processedUnstored(fake)
    server.on('error', () => undefined)
    await client.drop()
    const again = await ProtocolClient.open(fx, urlOf(server))
    again.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 0 } })
    await expectNoEvent(again.socket, 'close', 300)
    fake.release()
    expect((await again.next('$welcome')).d).toMatchObject({
      sid: welcome.sid,
      resumed: true,
      a: 1,
    })
  })

  it('expires a session whose resume went before its claim was answered', async () => {
    const fake = fakeSharedStore()
    const { server, client, welcome } = await processedUnstored(fake, { sessionTtlMs: 300 })
    // A resume takes the session from its link, then goes while it waits for the write held.
    const again = await ProtocolClient.open(fx, urlOf(server))
    again.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 0 } })
    await client.waitClose()
    await again.drop()
    await waitFor(() => server.stats.connections === 0, { message: 'both links closed' })
    fake.release()
    // Linked to nothing, it waits sessionTtlMs for its client, then expires.
    await waitFor(() => server.stats.sessionsExpired === 1, { message: 'the session expired' })
    expect(server.stats.sessions).toBe(0)
  })

  it('hands a session of a closing server over once its last write is done', async () => {
    const fake = fakeSharedStore()
    const handOff = handoffOf(fake)
    const server = await startServer(fx, { store: fake.store })
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    fake.hold()
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => fake.state.commits === 0 && server.stats.messagesReceived === 1, {
      message: 'processed',
    })
    const closed = server.close()
    let handedOver = false
    const handoff = handOff(welcome.sid).then(() => (handedOver = true))
    await client.waitClose()
    expect(handedOver).toBe(false)
    fake.release()
    await handoff
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 1 })
    await closed
  })

  it('serves its clients at once while the store is unreachable', async () => {
    const { fake, client, welcome } = await servedWhileAway(fakeSharedStore())
    expect((await client.waitForMessages(3)).map((frame) => frame.d)).toEqual([1, 2, 3])
    expect(ackOf(client)).toBe(3)
    // Back: what was done meanwhile is stored.
    fake.state.reachable = true
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastClientSeq === 3, {
      message: 'stored once the store is back',
    })
    expect(fake.sessions.get(welcome.sid)?.lastServerSeq).toBe(3)
  })

  it('hands over what it served while the store was unreachable, as soon as the store is back', async () => {
    const store = fakeSharedStore()
    const handOff = handoffOf(store)
    const { fake, client, welcome } = await servedWhileAway(store)
    await client.waitForMessages(3)
    expect(ackOf(client)).toBe(3)
    // Back, and asked for the session before the journal's retry: the handoff stores what the
    // client was told, or the process that claims it resumes a session behind its client.
    fake.state.reachable = true
    await handOff(welcome.sid)
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 3, lastServerSeq: 3 })
  })

  it('stores what it served while the store was unreachable when it closes once the store is back', async () => {
    const { fake, server, client, welcome } = await servedWhileAway(fakeSharedStore())
    await client.waitForMessages(3)
    fake.state.reachable = true
    await server.close()
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 3, lastServerSeq: 3 })
  })

  it("logs a store's failure without the failed command, whose arguments hold the session id", async () => {
    const fake = fakeSharedStore()
    const logged: unknown[] = []
    const server = await startServer(fx, {
      store: fake.store,
      logger: { warn: () => undefined, error: (message, details) => logged.push(message, details) },
    })
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    // As ioredis reports a failed script: the command and its arguments on the error.
    fake.state.failWith = Object.assign(new Error('OOM command not allowed'), {
      name: 'ReplyError',
      command: { name: 'evalsha', args: [`lifeline:s:{${welcome.sid}}`, 'payload'] },
    })
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => logged.length > 0, { message: 'the failure logged' })
    const text = inspect(logged, { depth: 10 })
    expect(text).toContain('OOM command not allowed')
    expect(text).not.toContain(welcome.sid)
    fake.state.failWith = undefined
  })

  it('tries a write the store keeps refusing again after a growing pause, reports it once, then stores it once', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store })
    const failures: unknown[] = []
    server.on('error', (error) => failures.push(error))
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    // The store stays reachable but refuses every write (Redis out of memory, say).
    const attempts: number[] = []
    const commit = fake.store.commit.bind(fake.store)
    fake.store.commit = (commits) => {
      attempts.push(performance.now())
      return commit(commits)
    }
    fake.state.failWith = new Error('OOM command not allowed when used memory > maxmemory')
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => attempts.length >= 4, { message: 'the write tried 4 times' })
    // The pauses between them, 50, 100 then 200 ms (a timer can run a little early, never much):
    // without them the write was tried as fast as the store answered.
    const pauses = attempts.slice(1, 4).map((at, i) => at - (attempts[i] as number))
    expect(pauses[0]).toBeGreaterThanOrEqual(40)
    expect(pauses[1]).toBeGreaterThanOrEqual(80)
    expect(pauses[2]).toBeGreaterThanOrEqual(160)
    expect(failures).toHaveLength(1)
    // Served meanwhile, and stored once the store takes writes again.
    await waitFor(() => client.received.some((frame) => frame.t === 'down'), { message: 'served' })
    const stored = fake.state.commits
    fake.state.failWith = undefined
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastServerSeq === 1, { message: 'stored' })
    expect(fake.sessions.get(welcome.sid)).toMatchObject({ lastClientSeq: 1, lastServerSeq: 1 })
    expect(fake.state.commits).toBe(stored + 1)
    expect(failures).toHaveLength(1)
  })

  it("reports a store's refusal to create sessions once per outage, however many sessions retry", async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store })
    const failures: unknown[] = []
    server.on('error', (error) => failures.push(error))
    const create = fake.store.create.bind(fake.store)
    let refusing = true
    let attempts = 0
    fake.store.create = (record, ttlMs) => {
      attempts++
      return refusing ? Promise.reject(new Error('OOM command not allowed')) : create(record, ttlMs)
    }
    const sids: string[] = []
    for (let i = 0; i < 3; i++)
      sids.push((await ProtocolClient.connect(fx, urlOf(server))).welcome.sid)
    // Every session tried again at least once: each attempt of each used to be reported.
    await waitFor(() => attempts >= 6, { message: 'every creation tried again', timeoutMs: 10_000 })
    expect(failures).toHaveLength(1)
    refusing = false
    await waitFor(() => sids.every((sid) => fake.sessions.has(sid)), {
      message: 'every session created once the store takes them',
      timeoutMs: 10_000,
    })
    // A new outage is a new report.
    refusing = true
    await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => failures.length === 2, { message: 'the next outage reported' })
  }, 25_000)

  it('reports failed writes of existing sessions even while creations are failing too', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store })
    const failures: string[] = []
    server.on('error', (error) =>
      failures.push(error instanceof Error ? error.message : String(error)),
    )
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    fake.store.create = () => Promise.reject(new Error('creation refused'))
    await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => failures.length === 1, { message: 'the creation reported' })
    fake.state.failWith = new Error('write refused')
    client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => failures.length === 2, { message: 'the failed write reported as well' })
    expect(failures).toEqual(['creation refused', 'write refused'])
    fake.state.failWith = undefined
  })

  it('refuses a resume with 1013 while the store cannot be read, rather than reset it', async () => {
    const fake = fakeSharedStore()
    fake.state.reachable = false
    fake.store.claim = () => Promise.reject(new Error('unreachable'))
    const server = await startServer(fx, { store: fake.store })
    server.on('error', () => undefined)
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid: 'held-elsewhere', a: 0 } })
    expect(await client.waitClose()).toMatchObject({ code: 1013 })
    expect(client.received).toEqual([
      { t: '$error', d: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } },
    ])
  })

  it("reports a store's failure to claim sessions once per outage, however many resumes it refuses", async () => {
    const fake = fakeSharedStore()
    const claim = fake.store.claim.bind(fake.store)
    let refusing = true
    fake.store.claim = (...args) =>
      refusing ? Promise.reject(new Error('OOM command not allowed')) : claim(...args)
    const server = await startServer(fx, { store: fake.store })
    const failures: unknown[] = []
    server.on('error', (error) => failures.push(error))
    // Clients moved here from another process, each retrying its resume through its backoff.
    const resumeRefused = async (sid: string): Promise<void> => {
      const client = await ProtocolClient.open(fx, urlOf(server))
      client.send({ t: '$hello', d: { v: 1, sid, a: 0 } })
      expect(await client.waitClose()).toMatchObject({ code: 1013 })
    }
    for (let i = 0; i < 4; i++) await resumeRefused(`held-elsewhere-${i % 2}`)
    expect(failures).toHaveLength(1)
    // A claim answered: the next failure is a new outage.
    refusing = false
    await ProtocolClient.connect(fx, urlOf(server), { sid: 'gone' })
    refusing = true
    await resumeRefused('held-elsewhere-0')
    expect(failures).toHaveLength(2)
  })

  it('releases a session the application closed while its creation was in flight, once the creation lands', async () => {
    const fake = fakeSharedStore()
    let land: () => void = () => undefined
    const landing = new Promise<void>((resolve) => (land = resolve))
    const create = fake.store.create.bind(fake.store)
    fake.store.create = async (record, ttlMs) => {
      await landing
      return create(record, ttlMs)
    }
    const released: [string, number][] = []
    fake.store.release = async (id, epoch) => {
      released.push([id, epoch])
      if (fake.sessions.get(id)?.epoch === epoch) fake.sessions.delete(id)
    }
    const server = await startServer(fx, { store: fake.store })
    const ends: string[] = []
    server.on('session:end', (_peer, { reason }) => ends.push(reason))
    server.on('connection', (peer) => peer.close(4000, 'no'))
    const { client, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    expect(await client.waitClose()).toMatchObject({ code: 4000 })
    expect(ends).toEqual(['closed'])
    expect(released).toEqual([])
    land()
    await waitFor(() => released.length === 1, { message: 'the session released' })
    expect(released).toEqual([[welcome.sid, 1]])
    expect(fake.sessions.has(welcome.sid)).toBe(false)
  })

  it('answers a resume of a session closed while its refused creation waited to be tried again, at once', async () => {
    const fake = fakeSharedStore()
    fake.store.create = () => Promise.reject(new Error('creation refused'))
    const server = await startServer(fx, { store: fake.store })
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    let peer: Peer | undefined
    server.on('connection', (p) => (peer ??= p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => errors.length === 1, { message: 'the creation refused' })
    peer?.close(4000, 'no')
    // Nothing is created any more: the store's operations on the session wait for nothing.
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server), {
      sid: first.welcome.sid,
      a: 0,
    })
    expect(welcome.resumed).toBe(false)
    expect(fake.sessions.size).toBe(0)
  })

  it("releases a session the application closed while its resume's claim was in flight: the resume gets a new session", async () => {
    const fake = fakeSharedStore()
    let land: () => void = () => undefined
    const landing = new Promise<void>((resolve) => (land = resolve))
    let claims = 0
    fake.store.claim = async (id) => {
      if (++claims === 1) await landing
      const stored = fake.sessions.get(id)
      if (stored === undefined) return undefined
      const previousEpoch = stored.epoch
      stored.epoch++
      const { lastClientSeq, lastServerSeq } = stored
      const record = { id, peerId: 'p', lastClientSeq, lastServerSeq, replay: [], lossy: false }
      return {
        record: { ...record, rooms: [], expiresAt: Infinity },
        epoch: stored.epoch,
        previousEpoch,
      }
    }
    fake.store.release = async (id, epoch) => {
      if (fake.sessions.get(id)?.epoch === epoch) fake.sessions.delete(id)
    }
    const server = await startServer(fx, { store: fake.store })
    let peer: Peer | undefined
    server.on('connection', (p) => (peer ??= p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    const sid = first.welcome.sid
    await waitFor(() => fake.sessions.has(sid), { message: 'the session created' })
    const ends: string[] = []
    server.on('session:end', (_peer, { reason }) => ends.push(reason))
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid, a: 0 } })
    await waitFor(() => claims === 1, { message: 'the claim in flight' })
    peer?.close(4000, 'no')
    expect(ends).toEqual(['closed'])
    land()
    const welcome = (await client.next('$welcome')).d as { sid: string; resumed: boolean }
    expect(welcome.resumed).toBe(false)
    expect(fake.sessions.has(sid)).toBe(false)
  })

  it('answers a resume whose claim fails after the application closed its session (1013), not at its hello timeout', async () => {
    const fake = fakeSharedStore()
    let fail: () => void = () => undefined
    const failing = new Promise<void>((resolve) => (fail = resolve))
    let claims = 0
    fake.store.claim = async () => {
      claims++
      await failing
      throw new Error('claim refused')
    }
    const server = await startServer(fx, { store: fake.store, helloTimeoutMs: 10_000 })
    server.on('error', () => undefined)
    let peer: Peer | undefined
    server.on('connection', (p) => (peer ??= p))
    const first = await ProtocolClient.connect(fx, urlOf(server))
    const sid = first.welcome.sid
    await waitFor(() => fake.sessions.has(sid), { message: 'the session created' })
    const client = await ProtocolClient.open(fx, urlOf(server))
    client.send({ t: '$hello', d: { v: 1, sid, a: 0 } })
    await waitFor(() => claims === 1, { message: 'the claim in flight' })
    peer?.close(4000, 'no')
    fail()
    // Answered at once, as any resume the store cannot serve: try again later.
    expect((await client.waitClose()).code).toBe(1013)
    expect(client.received).toEqual([
      { t: '$error', d: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } },
    ])
  })
})

/** The timers keeping the process alive now (unref'd ones do not count). */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
}

describe('a shared store that does not answer', () => {
  it('lets go of a session whose claim shows another owner after the resuming link went: no loop', async () => {
    const fake = fakeSharedStore()
    let asked = 0
    fake.store.available = () => {
      asked++
      return fake.state.reachable
    }
    const server = await startServer(fx, { store: fake.store })
    const ends: string[] = []
    server.on('session:end', (_peer, { reason }) => ends.push(reason))
    const { welcome } = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.has(welcome.sid), { message: 'the session created' })
    const peer = [...server.peers.values()][0] as Peer
    // The resume's claim is answered once its link is gone: another process took the session
    // meanwhile (the token before the claim is not the one this process holds).
    let answer: ((claimed: ClaimedSession) => void) | undefined
    fake.store.claim = () => new Promise((resolve) => (answer = resolve))
    const second = await ProtocolClient.open(fx, urlOf(server))
    second.send({ t: '$hello', d: { v: 1, sid: welcome.sid, a: 0 } })
    await waitFor(() => answer, { message: 'the claim' })
    // A change while the claim is out: the journal has something to write.
    peer.send('down', 1)
    await second.drop()
    await waitFor(() => server.stats.connections === 0, { message: 'both links closed' })
    answer?.({
      record: { ...recordOf(welcome.sid), lastServerSeq: 0 },
      epoch: 3,
      previousEpoch: 2,
    })
    await waitFor(() => ends.includes('moved'), { message: 'the session let go' })
    expect(server.stats).toMatchObject({ sessions: 0, sessionsMoved: 1 })
    // And nothing keeps trying to write it.
    const before = asked
    await expectNoEvent(server, 'session:end', 100)
    expect(asked - before).toBeLessThan(5)
  })

  it('closes within a bound, and serves the session meanwhile, while a create never settles', async () => {
    const fake = fakeSharedStore()
    fake.store.create = () => new Promise<number>(() => undefined)
    const server = await startServer(fx, { store: fake.store, closeTimeoutMs: 200 })
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'up', d: 1, s: 1 })
    // The store does not answer for over a second: served without waiting for it.
    expect(await client.next('down', 3_000)).toMatchObject({ d: 1, a: 1 })
    // Each step of close() waits closeTimeoutMs (200 ms) at most: the bound is a few of them,
    // not the 5 s of the test, within which a close that waited 15 times as long passed.
    await withTimeout(server.close(), 2_000, 'server.close()')
  })

  it('closes within a bound while commits and releases never settle', async () => {
    const fake = fakeSharedStore()
    const server = await startServer(fx, { store: fake.store, closeTimeoutMs: 200 })
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    server.on('connection', (peer) =>
      peer.on('up', (n) => {
        peer.send('down', n)
        if (n === 2) peer.close()
      }),
    )
    const one = await ProtocolClient.connect(fx, urlOf(server))
    const two = await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fake.sessions.size === 2, { message: 'the sessions created' })
    const before = refTimers()
    let hanging = 0
    fake.store.commit = () => {
      hanging++
      return new Promise<CommitResult[]>(() => undefined)
    }
    fake.store.release = () => new Promise<void>(() => undefined)
    one.client.send({ t: 'up', d: 1, s: 1 })
    await waitFor(() => hanging > 0, { message: 'the write in flight' })
    // The write's timer (a second, then the session is served without it) holds no process.
    expect(refTimers()).toBeLessThanOrEqual(before)
    // Ended by its handler: its release never settles.
    two.client.send({ t: 'up', d: 2, s: 1 })
    await two.client.waitClose()
    // Served without the store after a second; its commit still hangs when the close begins.
    expect(await one.client.next('down', 3_000)).toMatchObject({ d: 1, a: 1 })
    await withTimeout(server.close(), 2_000, 'server.close()')
    // What the store did not finish is reported, without holding the close.
    expect(errors).toContainEqual(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }))
  })

  it('closes within a bound while every create is refused', async () => {
    const fake = fakeSharedStore()
    let creates = 0
    fake.store.create = async () => {
      creates++
      throw new Error('unreachable')
    }
    const before = refTimers()
    const server = await startServer(fx, { store: fake.store, closeTimeoutMs: 200 })
    server.on('error', () => undefined)
    server.on('connection', (peer) => peer.on('up', (n) => peer.send('down', n)))
    const { client } = await ProtocolClient.connect(fx, urlOf(server))
    client.send({ t: 'up', d: 1, s: 1 })
    expect(await client.next('down', 3_000)).toMatchObject({ d: 1, a: 1 })
    await waitFor(() => creates >= 2, { message: 'the create tried again' })
    // The retries do not hold the process while the server runs, nor after it closed.
    expect(refTimers()).toBeLessThanOrEqual(before)
    await withTimeout(server.close(), 2_000, 'server.close()')
    const after = creates
    await expectNoEvent(server, 'error', 150)
    expect(refTimers()).toBeLessThanOrEqual(before)
    expect(creates).toBe(after)
  })

  it('leaves no timer behind when a create fails after the server closed', async () => {
    const fake = fakeSharedStore()
    let fail: ((error: Error) => void) | undefined
    fake.store.create = () => new Promise<number>((_resolve, reject) => (fail = reject))
    const before = refTimers()
    const server = await startServer(fx, { store: fake.store, closeTimeoutMs: 200 })
    const errors: unknown[] = []
    server.on('error', (error) => errors.push(error))
    await ProtocolClient.connect(fx, urlOf(server))
    await waitFor(() => fail, { message: 'the create' })
    await withTimeout(server.close(), 5_000, 'server.close()')
    fail?.(new Error('unreachable'))
    await waitFor(() => errors.length > 0, { message: 'the failure reported' })
    // Nothing retries the create of a session of a closed server, nor holds the process.
    expect(refTimers()).toBeLessThanOrEqual(before)
  })
})

function recordOf(id: string): SessionRecord {
  return {
    id,
    peerId: 'elsewhere',
    lastClientSeq: 0,
    lastServerSeq: 0,
    replay: [],
    lossy: false,
    rooms: [],
    expiresAt: Infinity,
  }
}

/** The TCP socket under the server's one connection (internal: the test counts its listeners). */
function transportOf(server: object): Duplex {
  const { connections } = server as { connections: Set<{ transport: Duplex }> }
  const [connection] = connections
  if (connection === undefined) throw new Error('no connection')
  return connection.transport
}

describe('a paced replay on a shared store', () => {
  it('waits for one drain at a time however many commits pump it', async () => {
    const KiB = 1024
    const fake = fakeSharedStore()
    const server = await startServer(fx, {
      store: fake.store,
      outboundHighWaterBytes: 64 * KiB,
      maxOutboundBytes: 256 * 1024 * KiB,
      replayLimitBytes: 256 * 1024 * KiB,
    })
    const { client: first, welcome } = await ProtocolClient.connect(fx, urlOf(server))
    const peer = [...server.peers.values()][0] as Peer
    await first.drop()
    await waitFor(() => !peer.connected, { message: 'the server sees the client go' })
    // More than the kernel's buffers take at once: the replay waits for the socket to drain.
    const blob = 'b'.repeat(16 * KiB)
    const count = 1_500
    for (let i = 0; i < count; i++) peer.send('blob', blob)
    await waitFor(() => fake.sessions.get(welcome.sid)?.lastServerSeq === count, {
      message: 'the replay stored',
      timeoutMs: 10_000,
    })
    fake.store.claim = async (id) => {
      const session = fake.sessions.get(id) as { epoch: number }
      session.epoch++
      return { record: recordOf(id), epoch: session.epoch, previousEpoch: session.epoch - 1 }
    }
    const { client } = await ProtocolClient.connect(fx, urlOf(server), { sid: welcome.sid, a: 0 })
    client.socket.pause()
    await waitFor(() => transportOf(server).writableNeedDrain, {
      message: 'the replay waiting for a drain',
      timeoutMs: 10_000,
    })
    const transport = transportOf(server)
    const listeners = transport.listenerCount('drain')
    // Each send is a commit, and each commit pumps the replay.
    const commits = fake.state.commits
    for (let i = 1; i <= 30; i++) {
      peer.send('more', i)
      await waitFor(() => fake.state.commits >= commits + i, { message: `commit ${i}` })
    }
    expect(transport.writableNeedDrain).toBe(true)
    expect(transport.listenerCount('drain')).toBe(listeners)
    // And the replay goes on once the client reads: everything, once, in order.
    client.socket.resume()
    // 24 MiB of JSON to read: generous for a loaded 2-core machine.
    await waitFor(() => client.messages().length >= count + 30, {
      message: () => `the whole replay (have ${client.messages().length})`,
      timeoutMs: 20_000,
    })
    const got = client.messages()
    expect(got.map((frame) => frame.s)).toEqual(Array.from({ length: count + 30 }, (_, i) => i + 1))
  }, 30_000)
})
