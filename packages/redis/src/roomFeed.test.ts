import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ClusterMember } from '@lifeline/server'
import { describe, expect, it } from 'vitest'
import { maxQueuedBytes, RoomFeed, type RoomEntry, type RoomMessage } from './roomFeed.js'

/**
 * A member that records what it got, with a cursor the test may move back (a resume); its
 * delivery of `refused` throws, before its cursor moves.
 */
function member(id: string, cursor: string, refused?: string) {
  const got: string[] = []
  const resets: string[] = []
  let at: string | undefined = cursor
  const self: ClusterMember = {
    id,
    sessionId: id,
    closed: false,
    cursor: () => at,
    setCursor: (_room, next) => (at = next),
    deliver: (_room, next, _type, data) => {
      if (data === refused) throw new Error(`${id} cannot take ${String(data)}`)
      at = next
      got.push(data as string)
    },
    sendUnreliable: () => undefined,
    reset: (_room, next) => {
      at = next
      resets.push(next)
    },
  }
  return { self, got, resets, rewind: (to: string) => (at = to) }
}

/**
 * `base` with an output that takes `room` messages until the test drains it (`pace.room` set
 * anew, then `pace.drained?.()`), as `Session.hasRoom` and `whenRoom` pace a catch-up.
 */
function paced(base: ReturnType<typeof member>, room: number) {
  const pace = { room, drained: undefined as (() => void) | undefined }
  const self: ClusterMember = {
    ...base.self,
    deliver: (...args) => {
      pace.room--
      base.self.deliver(...args)
    },
    hasRoom: () => pace.room > 0,
    whenRoom: (callback) => (pace.drained = callback),
  }
  return { self, pace }
}

const entry = (n: number): RoomEntry => ({
  id: `${n}-0`,
  prev: n === 1 ? '0-0' : `${n - 1}-0`,
  payload: Buffer.from(`m${n}`),
})

/** A room message whose data is its payload. */
const asMessage = (payload: Buffer): RoomMessage => ({
  type: 'said',
  data: String(payload),
  except: undefined,
})

/** A failure of the feed fails the test. */
const fail = (message: string, error: unknown): never => {
  throw new Error(`${message}: ${String(error)}`)
}
const unreadable = (error: unknown): never => fail('the room history cannot be read', error)

/**
 * A feed of `members` whose first history read (after `0-0`) waits for `release`, and whose
 * later reads give `later(from)`; each read's `after` goes to `reads`. Payloads are padded with
 * dots past their `m<n>`, which `decode` drops.
 */
function stallingFeed(
  members: readonly { self: ClusterMember }[],
  later: (from: number) => RoomEntry[],
  reads: string[] = [],
): { feed: RoomFeed; release: (entries: RoomEntry[]) => void } {
  let stalled: ((entries: RoomEntry[]) => void) | undefined
  const feed = new RoomFeed('r', {
    members: () => members.map((member) => member.self),
    history: (after) => {
      reads.push(after)
      const from = Number(after.split('-')[0])
      if (from === 0) return new Promise<RoomEntry[]>((resolve) => (stalled = resolve))
      return Promise.resolve(later(from))
    },
    lastId: () => Promise.resolve('1-0'),
    decode: (payload) => asMessage(payload.subarray(0, payload.indexOf('.'))),
    failure: fail,
    unreadable,
  })
  return { feed, release: (entries) => stalled?.(entries) }
}

describe('RoomFeed', () => {
  it('catches up a member rewound while a catch-up reads the history, without a reset', async () => {
    const history = Array.from({ length: 10 }, (_, i) => entry(i + 1))
    const reads: { after: string; resolve: () => void }[] = []
    const a = member('a', '5-0')
    const b = member('b', '8-0')
    const feed = new RoomFeed('r', {
      members: () => [a.self, b.self],
      history: (after) =>
        new Promise<RoomEntry[]>((resolve) => {
          const from = Number(after.split('-')[0])
          reads.push({ after, resolve: () => resolve(history.filter((_, i) => i + 1 > from)) })
        }),
      lastId: () => Promise.resolve('10-0'),
      decode: asMessage,
      failure: fail,
      unreadable,
    })
    const resynced = feed.resync()
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads.map((read) => read.after)).toEqual(['5-0'])
    // `b` resumes meanwhile: back to what its store kept, below where the read began.
    b.rewind('3-0')
    reads[0]?.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads.map((read) => read.after)).toEqual(['5-0', '3-0'])
    reads[1]?.resolve()
    await resynced
    expect(a.got).toEqual(['m6', 'm7', 'm8', 'm9', 'm10'])
    expect(b.got).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'])
    expect([...a.resets, ...b.resets]).toEqual([])
    feed.close()
  })

  it('keeps no message alive once it was delivered', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const a = member('a', '0-0')
    let decoded: WeakRef<object> | undefined
    const feed = new RoomFeed('r', {
      members: () => [a.self],
      history: () => Promise.resolve([]),
      lastId: () => Promise.resolve('0-0'),
      decode: (payload): RoomMessage => {
        const message = { type: 'said', data: String(payload), except: undefined }
        decoded = new WeakRef(message)
        return message
      },
      failure: fail,
      unreadable,
    })
    feed.publication(entry(1))
    expect(a.got).toEqual(['m1'])
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    expect(decoded?.deref()).toBeUndefined()
    feed.close()
  })

  it('lets go of the publications that wait for a stalled history read past a bound, and catches up from the history', async () => {
    // The read is on the main connection, the publications on the subscriber's: a stall of
    // the first alone had every publication kept meanwhile, for as long as it lasted.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const sized = (n: number): RoomEntry => ({
      ...entry(n),
      payload: Buffer.from(`m${n}`.padEnd(1024, '.')),
    })
    const count = Math.ceil((2 * maxQueuedBytes) / 1024)
    const a = member('a', '0-0')
    // Joined while the history is read, not placed yet: it gets what comes, all of it.
    const b = member('b', '0-0')
    b.rewind(undefined as unknown as string)
    const reads: string[] = []
    const { feed, release } = stallingFeed(
      [a, b],
      (from) => Array.from({ length: count - from }, (_, i) => sized(from + i + 1)),
      reads,
    )
    const resynced = feed.resync()
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads).toEqual(['0-0'])
    let first: WeakRef<RoomEntry> | undefined
    for (let n = 2; n <= count; n++) {
      const published = sized(n)
      first ??= new WeakRef(published)
      feed.publication(published)
    }
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    expect(first?.deref()).toBeUndefined()
    release([sized(1)])
    await resynced
    expect(reads).toEqual(['0-0', '1-0'])
    expect(a.got).toEqual(Array.from({ length: count }, (_, i) => `m${i + 1}`))
    expect(b.got).toEqual(a.got.slice(1))
    expect([...a.resets, ...b.resets]).toEqual([])
    feed.close()
  })

  it('reads on to the newest publication let go, though the stalled read brings fewer', async () => {
    // Each over the bound on its own: let go at once, none left to follow the catch-up.
    const large = (n: number): RoomEntry => ({
      ...entry(n),
      payload: Buffer.from(`m${n}`.padEnd(maxQueuedBytes, '.')),
    })
    const a = member('a', '0-0')
    const { feed, release } = stallingFeed([a], (from) => [3, 4].filter((n) => n > from).map(large))
    const resynced = feed.resync()
    await new Promise((resolve) => setImmediate(resolve))
    for (const n of [2, 3, 4]) feed.publication(large(n))
    // Read by Redis once the second was written, before the others were.
    release([large(1), large(2)])
    await resynced
    expect(a.got).toEqual(['m1', 'm2', 'm3', 'm4'])
    feed.close()
  })

  it('reports a delivery that throws and goes on with the other members, live and in a catch-up', async () => {
    const failures: string[] = []
    const a = member('a', '0-0', 'm1')
    const b = member('b', '0-0')
    let members = [a.self, b.self]
    const feed = new RoomFeed('r', {
      members: () => members,
      history: () => Promise.resolve([entry(3), entry(4)]),
      lastId: () => Promise.resolve('4-0'),
      decode: asMessage,
      failure: (message) => failures.push(message),
      unreadable,
    })
    feed.publication(entry(1))
    expect(a.got).toEqual([])
    expect(b.got).toEqual(['m1'])
    expect(failures).toEqual(['a room message could not be delivered'])
    // Skipped for `a`: the next publication follows its cursor.
    feed.publication(entry(2))
    expect(a.got).toEqual(['m2'])
    // Members behind (the subscription was away) are caught up from the history.
    const c = member('c', '2-0', 'm3')
    const d = member('d', '2-0')
    members = [c.self, d.self]
    await feed.resync()
    expect(c.got).toEqual(['m4'])
    expect(d.got).toEqual(['m3', 'm4'])
    expect(failures).toEqual([
      'a room message could not be delivered',
      'a room message could not be delivered',
    ])
    feed.close()
  })

  it('reports a delivery that throws for a publication that waited for a catch-up, without rejecting', async () => {
    const failures: string[] = []
    const a = member('a', '1-0', 'm4')
    const b = member('b', '1-0')
    let release: (entries: RoomEntry[]) => void = () => undefined
    const feed = new RoomFeed('r', {
      members: () => [a.self, b.self],
      history: () => new Promise<RoomEntry[]>((resolve) => (release = resolve)),
      lastId: () => Promise.resolve('3-0'),
      decode: asMessage,
      failure: (message) => failures.push(message),
      unreadable,
    })
    const resynced = feed.resync()
    await new Promise((resolve) => setImmediate(resolve))
    // Heard while the history is read: it waits for the catch-up, then goes.
    feed.publication(entry(4))
    expect(b.got).toEqual([])
    release([entry(2), entry(3)])
    await expect(resynced).resolves.toBeUndefined()
    expect(a.got).toEqual(['m2', 'm3'])
    expect(b.got).toEqual(['m2', 'm3', 'm4'])
    expect(failures).toEqual(['a room message could not be delivered'])
    feed.publication(entry(5))
    expect(a.got).toEqual(['m2', 'm3', 'm5'])
    expect(b.got).toEqual(['m2', 'm3', 'm4', 'm5'])
    feed.close()
  })

  it('catches a member that is behind up as far as its output takes, the rest once it drains, in order', async () => {
    const history = Array.from({ length: 6 }, (_, i) => entry(i + 1))
    const reads: string[] = []
    const slow = member('slow', '0-0')
    const fast = member('fast', '0-0')
    // Room for two messages at a time; a drain is the test's to give.
    const { self: pacedSlow, pace } = paced(slow, 2)
    const feed = new RoomFeed('r', {
      members: () => [pacedSlow, fast.self],
      history: (after) => {
        reads.push(after)
        const from = Number(after.split('-')[0])
        return Promise.resolve(history.filter((_, i) => i + 1 > from))
      },
      lastId: () => Promise.resolve('6-0'),
      decode: asMessage,
      failure: fail,
      unreadable,
    })
    await feed.resync()
    expect(slow.got).toEqual(['m1', 'm2'])
    expect(fast.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
    // Waiting for its drain, it is not read for again, nor given what is published meanwhile.
    feed.publication({ id: '7-0', prev: '6-0', payload: Buffer.from('m7') })
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads).toEqual(['0-0'])
    expect(slow.got).toEqual(['m1', 'm2'])
    history.push({ id: '7-0', prev: '6-0', payload: Buffer.from('m7') })
    pace.room = 2
    pace.drained?.()
    await new Promise((resolve) => setImmediate(resolve))
    expect(slow.got).toEqual(['m1', 'm2', 'm3', 'm4'])
    pace.room = 10
    pace.drained?.()
    await new Promise((resolve) => setImmediate(resolve))
    expect(slow.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])
    expect(fast.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])
    feed.close()
  })

  it('gives a member that waits for its output to drain no publication, though it follows its cursor', async () => {
    // Redis' publications of what the catch-up reads come late under load: one that follows the
    // waiting member's cursor was given at once, then the next, past the output's bound.
    const history = Array.from({ length: 4 }, (_, i) => entry(i + 1))
    const slow = member('slow', '0-0')
    const { self: pacedSlow, pace } = paced(slow, 2)
    const feed = new RoomFeed('r', {
      members: () => [pacedSlow],
      history: (after) => {
        const from = Number(after.split('-')[0])
        return Promise.resolve(history.filter((_, i) => i + 1 > from))
      },
      lastId: () => Promise.resolve('4-0'),
      decode: asMessage,
      failure: fail,
      unreadable,
    })
    await feed.resync()
    expect(slow.got).toEqual(['m1', 'm2'])
    feed.publication(entry(3))
    feed.publication(entry(4))
    expect(slow.got).toEqual(['m1', 'm2'])
    pace.room = 10
    pace.drained?.()
    await new Promise((resolve) => setImmediate(resolve))
    expect(slow.got).toEqual(['m1', 'm2', 'm3', 'm4'])
    feed.close()
  })
})
