import { randomBytes } from 'node:crypto'
import { LifelineError } from '@lifeline/codec'
import {
  broadcastRoom,
  checkRoom,
  withoutCommand,
  type Cluster,
  type ClusterHost,
  type ClusterMember,
} from '@lifeline/server'
import type { Redis } from 'ioredis'
import { EventEmitter } from 'node:events'
import { createKeys, type Keys } from './keys.js'
import { resolveOptions, type RedisClusterOptions, type ResolvedOptions } from './options.js'
import { batchWrites, isReady, readyOf, withScripts, type ScriptCommands } from './redisClient.js'
import { maxSendsPerWrite, RedisWriter, type RoomSend } from './writer.js'
import { RoomFeed, type RoomEntry } from './roomFeed.js'
import { decodeRoomMessage, entryOf, packPortable, unpack } from './packing.js'
import { RedisSessionStore } from './store.js'

/** A join or a leave of a room, on any process of the cluster. */
export interface PresenceEvent {
  room: string
  peerId: string
  joined: boolean
}

/** The members of a room on every process, read again once the subscriber is back. */
export interface PresenceSyncEvent {
  room: string
  peerIds: string[]
}

/** The events of a `RedisCluster`. */
export interface RedisClusterEvents {
  /**
   * A session joined or left a room, on any process. Heard by the processes that have members
   * in the room (or `watch` it), within Redis' pub/sub delay; a process that died is cleaned up
   * within `processTtlMs + heartbeatMs`, and so is a session that moved but was not rebuilt by
   * the process that claimed it (reset there, or that process died first), from the move.
   */
  presence: [event: PresenceEvent]
  /**
   * The subscriber is back after an outage (a Redis restart, a cut link): the `'presence'`
   * events published meanwhile were not heard here. So for each room this process hears
   * (members here, or `watch`), the members as Redis has them now: replace what you had with
   * `peerIds`, then apply the `'presence'` events that follow, as ever. Changes heard while the
   * list was read are in it already.
   */
  'presence:sync': [event: PresenceSyncEvent]
  /** Redis failed or cannot be reached (the cluster goes on, and recovers by itself). */
  error: [error: unknown]
}

/** The first wait before a room send that Redis refused is tried again; it doubles up to the max. */
const firstRetryMs = 100
const maxRetryMs = 2_000
/**
 * What a room send held in memory costs beside its payload: its object, its origin's, its
 * buffer's own and its place in a list. Some 280 B measured (Node 20) for a 36 B payload:
 * counted by payload alone, `maxPendingBytes` of short messages held some nine times that.
 */
const sendOverhead = 256
const sizeOf = (send: RoomSend): number => send.payload.byteLength + sendOverhead

/**
 * The subscribers passed in that a cluster not closed yet listens on: one per cluster. Two
 * clusters of one prefix on one subscriber left each other's channels (a leave, a close), and
 * the other's members then got no room message, without a word.
 */
const subscribersInUse = new WeakSet<Redis>()

/**
 * Rooms, broadcast, presence and sessions of a Lifeline server cluster on Redis: pass it as
 * `createServer({ cluster })` in every process. Create it with `createRedisCluster`.
 */
export class RedisCluster extends EventEmitter<RedisClusterEvents> implements Cluster {
  /** This process's id in the cluster (random, per cluster object). */
  readonly processId = randomBytes(9).toString('base64url')
  readonly store: RedisSessionStore
  private readonly redis: Redis & ScriptCommands
  private readonly subscriber: Redis
  private readonly ownsSubscriber: boolean
  private readonly keys: Keys
  private readonly options: ResolvedOptions
  private host: ClusterHost | undefined
  private readonly feeds = new Map<string, RoomFeed>()
  private readonly watched = new Set<string>()
  /** Room sends gathered for Redis, with this process's session commits. */
  private readonly writer: RedisWriter
  /** Room sends kept while Redis is away (or after a write failed), oldest first. */
  private pending: RoomSend[] = []
  private pendingBytes = 0
  private flushing = false
  private flushed: Promise<void> = Promise.resolve()
  /** Called at the end of each run of `flushPending`, for `detach` (see there). */
  private readonly flushEnded = new Set<() => void>()
  /** `close()` was called: `detach` waits no longer for the sends that wait. */
  private closing = false
  /** While room sends fail (Redis refuses them, or they time out): retried on this timer. */
  private retry: ReturnType<typeof setTimeout> | undefined
  private retryMs = firstRetryMs
  /** A failure of room sends was reported: the next is reported once one succeeded again. */
  private sendsFailing = false
  private heartbeat: ReturnType<typeof setInterval> | undefined
  /** A heartbeat found this process in the set of processes (or added it there). */
  private listed = false
  /**
   * The generation of Redis' data this process last saw (`Keys.generation`), checked by the first
   * heartbeat after each `'ready'`: another one there says that Redis lost its data since.
   */
  private generation = ''
  private generationChecked = false
  /**
   * The heartbeat Redis has not answered yet, on this connection. A new connection forgets it:
   * what was in flight when the last closed is sent again, refused, or (ioredis before 6.1,
   * with `autoResendUnfulfilledCommands: false`) dropped without ever settling, and waited for,
   * it stopped the heartbeat for good: the live process was reaped by the others.
   */
  private beating: Promise<void> | undefined
  /** Whether Redis was asked, since the last `'ready'`, if it is a node of a Redis Cluster. */
  private modeChecked = false
  /**
   * Presence changes made while Redis was not ready, by room, then member id, for `onReady`: a
   * leave to write (`left`, or `moved` to another process), or `joined`, a join made meanwhile
   * and never stored, whose leave then needs no writing. So at most one per member and room,
   * and only for the members present when Redis went away or that joined since: sessions that
   * come and go during an outage leave nothing behind.
   */
  private readonly unstored = new Map<string, Map<string, 'left' | 'moved' | 'joined'>>()
  /**
   * Redis refused a join or a leave while it stayed ready (`OOM`, a replica's `READONLY`): noted
   * in `unstored` (a join as `joined`), and written again by the next heartbeat. Nothing else
   * would write it while the client stays connected: a member whose join was refused stayed
   * absent, one whose leave was refused present, for as long as this process lived.
   */
  private presenceRefused = false
  /** A heartbeat or presence failure was reported: the next after a heartbeat went through. */
  private beatFailing = false
  /** A read of a room's history failed and was reported: the next after one succeeded. */
  private historyFailing = false
  /** The subscriber's connection failed and was said to; cleared once it is ready again. */
  private subscriberFailing = false
  /** The subscriber was ready before: when it is ready again, it missed what was published. */
  private subscriberWasReady = false
  /**
   * Rooms whose members are being read again (`syncPresence`), with the last change heard of
   * each member meanwhile: applied to what the read returns, which Redis may have answered
   * before or after it published them.
   */
  private readonly syncing = new Map<string, Map<string, boolean>>()
  /**
   * Rooms to read again once their read under way is answered (the subscriber was away again
   * meanwhile), or once Redis is ready again (their read failed): their `'presence:sync'` is
   * owed.
   */
  private readonly syncAgain = new Set<string>()
  private readonly syncFailed = new Set<string>()
  /**
   * The local members of a room by id, for the checks of a burst of presence replies or entries
   * (`localMember`): one pass over the room's members, not one per entry, which for a room of
   * 20,000 members here was 400 million steps, seconds with the event loop held, at every
   * reconnection to Redis (and at every heartbeat of a Redis refusing writes). Dropped at a join
   * or leave of the room here, and once the turn is done.
   */
  private readonly localMembers = new Map<string, Map<string, ClusterMember>>()
  /** Subscriber messages of this iteration, channel and message in turn (see `onMessage`). */
  private heard: Buffer[] = []
  private hearing = false
  /** See `ready`. */
  private readonly started: Promise<void>
  /** Where this process hears revocations and handoffs; how a room's channel name begins. */
  private readonly revokeChannel: string
  private readonly channelPrefixLength: number
  private uid = 0
  /** The channels this cluster subscribed to: a subscriber it was given leaves them at `close`. */
  private readonly channels = new Set<string>()
  /**
   * Channels whose subscription failed (ioredis gave the command up while it could not connect,
   * after `maxRetriesPerRequest` tries): ioredis subscribes again, once back, only to the
   * channels it had, so these are asked for again by `onSubscriberReady`.
   */
  private readonly unheard = new Set<string>()
  /**
   * Channels of rooms left whose unsubscription failed the same way: ioredis subscribes again,
   * once back, to every channel it had, so these are left again by `onSubscriberReady`. Else
   * each room left during an outage stayed heard for as long as the process lived.
   */
  private readonly unwanted = new Set<string>()
  /** Resolves `ready`'s wait for this process's own channel. */
  private heardOwn: () => void = () => undefined
  /** `detach` ran: no room message is delivered here any more; handoffs still are. */
  private detached = false
  private closed = false

  constructor(options: RedisClusterOptions) {
    super()
    this.options = resolveOptions(options)
    if (options.subscriber !== undefined) {
      if (subscribersInUse.has(options.subscriber)) {
        throw new LifelineError('INVALID_ARGUMENT', '`subscriber` serves another cluster')
      }
      subscribersInUse.add(options.subscriber)
    }
    this.keys = createKeys(this.options.prefix, options.redis.options?.db)
    this.revokeChannel = this.keys.revokeChannel(this.processId)
    this.channelPrefixLength = this.keys.channel('').length
    this.redis = withScripts(options.redis)
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = options.subscriber ?? options.redis.duplicate()
    this.writer = new RedisWriter(
      this.redis,
      { ...this.options, channels: this.keys.channels },
      this.written,
      () => this.pending.length > 0,
    )
    this.store = new RedisSessionStore(
      options.redis,
      this.keys,
      this.processId,
      this.options.handoffTimeoutMs,
      this.writer,
      (message, error) => this.failure(message, error),
    )
    // A subscriber passed in ready (an application's, or `redis` itself over RESP3) fires no
    // first `'ready'` here: its next one, after an outage, must tell what it missed.
    this.subscriberWasReady = isReady(this.subscriber)
    this.subscriber.on('messageBuffer', this.onMessage)
    this.subscriber.on('ready', this.onSubscriberReady)
    this.subscriber.on('error', this.onError)
    this.redis.on('ready', this.onReady)
    // A subscription that failed is made again once the subscriber is back (`onSubscriberReady`).
    const ownChannel = new Promise<void>((resolve) => (this.heardOwn = resolve))
    void this.subscribe(this.revokeChannel)
    this.started = Promise.all([ownChannel, readyOf(this.redis)]).then(() => undefined)
  }

  /**
   * Resolves once this process first reached Redis: its client ready, and its own channel heard
   * (another process's claim reaches it). The server holds its first sessions until then (see
   * `Cluster.ready`): a member it joined to a room before would be placed in the room's order
   * only once Redis answered, past what other processes sent the room meanwhile.
   */
  ready(): Promise<void> {
    return this.started
  }

  /** Called by the server. */
  attach(host: ClusterHost): void {
    if (this.host !== undefined) {
      throw new LifelineError('INVALID_ARGUMENT', 'a cluster serves one server')
    }
    this.host = host
    this.feed(broadcastRoom)
    this.beat()
    this.heartbeat = setInterval(this.beat, this.options.heartbeatMs)
    this.heartbeat.unref()
  }

  send(
    room: string | undefined,
    type: string,
    data: unknown,
    options: { reliable: boolean; except: string | undefined; id: string | undefined },
  ): boolean {
    // Numbered with an id too: past `dedupeTtlMs` the id no longer tells a write sent again
    // after its reply was lost from a new send with that id; the number does.
    const seq = ++this.uid
    const uid = options.id === undefined ? `${this.processId}.${seq}` : `=${options.id}`
    const send: RoomSend = {
      room: room ?? broadcastRoom,
      payload: options.reliable
        ? packPortable([uid, type, data, options.except ?? null], 2)
        : packPortable([type, data, options.except ?? null], 1),
      reliable: options.reliable,
      id: options.id,
      origin: options.reliable ? { process: this.processId, seq } : undefined,
    }
    const keeping = this.pending.length > 0 || !isReady(this.redis)
    // Fire and forget goes only while Redis is there, as over a link only while it is up: kept,
    // it went late (a burst of stale state once Redis was back) and took the buffer from the
    // reliable sends, refused with QUEUE_FULL behind it.
    if (keeping && !send.reliable) return false
    // Kept, or gathered while a write is in flight: both wait for Redis.
    const writer = this.writer
    const waiting = this.pendingBytes + writer.waitingBytes + writer.waitingSends * sendOverhead
    if (waiting + sizeOf(send) > this.options.maxPendingBytes) {
      throw new LifelineError(
        'QUEUE_FULL',
        `Redis is away or slow and ${waiting} bytes of room messages wait (maxPendingBytes)`,
      )
    }
    if (keeping) this.keep([send])
    else this.writer.send(send)
    return true
  }

  /** Sends to keep until Redis takes them, after those kept already. */
  private keep(sends: readonly RoomSend[]): void {
    for (const send of sends) {
      // One a write failed, or gathered behind it: not sent again late (see `send`).
      if (!send.reliable) continue
      this.pending.push(send)
      this.pendingBytes += sizeOf(send)
    }
  }

  /** The writer's report on a call that carried room sends. */
  private readonly written = (sends: readonly RoomSend[], error: unknown): void => {
    if (error === undefined) {
      this.sent()
      return
    }
    // Failed in flight: they may or may not have gone; their numbers in this process (or their
    // ids, within `dedupeTtlMs`) keep a resend from being stored, so delivered, twice.
    // They go again first: they were made before those gathered since and those kept.
    this.keepFirst(sends)
    this.sendFailed(error)
  }

  /**
   * Sends to keep ahead of those gathered and those kept, and the gathered ahead of the kept:
   * the writer gathers only while nothing is kept, so what it holds is older than what is.
   */
  private keepFirst(sends: readonly RoomSend[]): void {
    const after = this.writer.take().concat(this.pending)
    this.pending = []
    this.pendingBytes = 0
    this.keep(sends)
    this.keep(after)
  }

  joined(member: ClusterMember, room: string): void {
    const feed = this.feed(room)
    feed.joined(member)
    if (room === broadcastRoom) return
    this.localMembers.delete(room)
    const kept = this.unstored.get(room)?.get(member.id)
    if (!isReady(this.redis)) {
      // Back after a leave kept for a join stored before: that join stands again. Else a join
      // `onReady` writes.
      this.noteUnstored(room, member.id, kept === 'left' || kept === 'moved' ? undefined : 'joined')
    } else if (kept !== undefined) {
      // A refused leave kept for a retry: written after this join, it would remove the member.
      this.noteUnstored(room, member.id)
    }
    this.storePresence(member, room)
  }

  rewound(member: ClusterMember, room: string): void {
    this.feeds.get(room)?.joined(member)
  }

  /**
   * Writes one member's presence; while Redis is not ready, `onReady` writes it later (`again`),
   * leaving an entry another process holds (it took the session meanwhile) to that process. So
   * does any join once the session is held by another process (see `joinScript`).
   */
  private storePresence(member: ClusterMember, room: string, again = false): void {
    if (!isReady(this.redis)) return
    batchWrites(this.redis)
    this.redis
      .lifelineJoin(
        this.keys.presence(room),
        this.keys.processMembers(this.processId),
        this.keys.processes(),
        this.keys.process(this.processId),
        member.id,
        this.processId,
        this.keys.channel(room),
        room,
        this.options.processTtlMs,
        this.keys.processMembers(''),
        this.keys.session(member.sessionId),
        again ? '1' : '',
      )
      .catch((error: unknown) => {
        if (this.isMember(member.id, room)) this.refused(room, member.id, 'joined')
        this.beatFailed('presence could not be stored', error)
      })
  }

  /** Whether `peerId` is in `room` on this process now. */
  private isMember(peerId: string, room: string): boolean {
    return this.localMember(peerId, room) !== undefined
  }

  /** The member `peerId` of `room` on this process now, if any (see `localMembers`). */
  private localMember(peerId: string, room: string): ClusterMember | undefined {
    let members = this.localMembers.get(room)
    if (members === undefined) {
      if (this.localMembers.size === 0) setImmediate(() => this.localMembers.clear())
      members = new Map()
      for (const member of this.host?.members(room) ?? []) {
        if (!member.closed) members.set(member.id, member)
      }
      this.localMembers.set(room, members)
    }
    const member = members.get(peerId)
    return member !== undefined && !member.closed ? member : undefined
  }

  /** A join or leave Redis failed: kept for the next heartbeat (or `onReady`) to write again. */
  private refused(room: string, peerId: string, change: 'left' | 'moved' | 'joined'): void {
    this.noteUnstored(room, peerId, change)
    this.presenceRefused = true
  }

  left(member: ClusterMember, room: string, moved: boolean): void {
    if (room !== broadcastRoom) {
      this.localMembers.delete(room)
      if (isReady(this.redis)) {
        // A refused join kept for a retry has nothing to write any more.
        this.noteUnstored(room, member.id)
        this.storeLeave(member.id, room, moved)
      } else {
        // `onReady` writes it: else the member would stay present for as long as this process
        // lives, this process listing it and beating. Unless its join was never stored.
        const joinedAway = this.unstored.get(room)?.get(member.id) === 'joined'
        this.noteUnstored(room, member.id, joinedAway ? undefined : moved ? 'moved' : 'left')
      }
    }
    this.unfeedIfEmpty(room)
  }

  /** Sets (or, `undefined`, forgets) what `onReady` owes Redis of `peerId` in `room`. */
  private noteUnstored(room: string, peerId: string, change?: 'left' | 'moved' | 'joined'): void {
    let changes = this.unstored.get(room)
    if (change !== undefined) {
      if (changes === undefined) this.unstored.set(room, (changes = new Map()))
      changes.set(peerId, change)
    } else if (changes?.delete(peerId) === true && changes.size === 0) {
      this.unstored.delete(room)
    }
  }

  private storeLeave(peerId: string, room: string, moved: boolean): void {
    this.redis
      .lifelineLeave(
        this.keys.presence(room),
        this.keys.processMembers(this.processId),
        this.keys.moves(),
        peerId,
        this.processId,
        this.keys.channel(room),
        room,
        moved ? '1' : '0',
        this.options.processTtlMs,
      )
      .catch((error: unknown) => {
        // Unless the member joined again since (its join is written after this leave).
        if (!this.isMember(peerId, room)) this.refused(room, peerId, moved ? 'moved' : 'left')
        this.beatFailed('presence could not be stored', error)
      })
  }

  /** Writes again the joins and leaves Redis refused (see `presenceRefused`). */
  private storeRefused(): void {
    this.presenceRefused = false
    const changes = [...this.unstored]
    this.unstored.clear()
    batchWrites(this.redis)
    for (const [room, members] of changes) {
      for (const [peerId, change] of members) {
        if (change !== 'joined') this.storeLeave(peerId, room, change === 'moved')
        else {
          const member = this.localMember(peerId, room)
          if (member !== undefined) this.storePresence(member, room, true)
        }
      }
    }
  }

  /** The peer ids present in `room`, on every process. */
  async presence(room: string): Promise<string[]> {
    checkRoom(room, true)
    return this.redis.hkeys(this.keys.presence(room))
  }

  /** Hears the `'presence'` events of `room` on this process even without a member in it. */
  async watch(room: string): Promise<void> {
    checkRoom(room, true)
    if (this.closed) throw new LifelineError('CLOSED', 'the cluster is closed')
    this.watched.add(room)
    this.feed(room)
    this.channels.add(this.keys.channel(room))
    await this.subscriber.subscribe(this.keys.channel(room))
  }

  /**
   * Stops hearing `room` as `watch` asked: its channel is left, unless a member is in the room
   * here (then it is left with the last one). An application that watches rooms as they come
   * and go would otherwise keep a subscription for every room it ever watched.
   */
  unwatch(room: string): void {
    checkRoom(room, true)
    if (this.watched.delete(room)) this.unfeedIfEmpty(room)
  }

  /**
   * Stops delivering room messages to the server (its `close()` calls it once its clients are
   * gone) and sends the room sends that wait. The heartbeat and this process's channel go on
   * until `close`: a claim of one of the server's sessions meanwhile is still asked for, and
   * answered once the session's last write is stored; without the channel, the claim would be
   * made at once and refuse that write, and what it stored would be processed again.
   */
  async detach(): Promise<void> {
    if (this.detached) return
    this.detached = true
    for (const feed of this.feeds.values()) feed.close()
    this.feeds.clear()
    await this.flushPending()
    // Redis away, or refusing them: the sends that wait go once it is back (`onReady`) or at
    // the next try (`sendFailed`), each a run of `flushPending`. Returning now dropped them
    // without a word; the server's close() gives this closeTimeoutMs, and reports them if not.
    while (this.pending.length > 0 && !this.closing) {
      await new Promise<void>((resolve) => this.flushEnded.add(resolve))
    }
  }

  /**
   * Stops listening, after `detach` (the server's `close()` calls it once its sessions are
   * stored); the application's Redis client stays open.
   */
  async close(): Promise<void> {
    // The sends that wait are not waited for any longer (the server's close() gave them
    // closeTimeoutMs): a detach waiting for them returns, and one made now does not wait.
    this.closing = true
    this.endFlush()
    await this.detach()
    if (this.closed) return
    this.closed = true
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    if (this.retry !== undefined) clearTimeout(this.retry)
    this.redis.off('ready', this.onReady)
    this.subscriber.off('messageBuffer', this.onMessage)
    this.subscriber.off('ready', this.onSubscriberReady)
    this.subscriber.off('error', this.onError)
    // The heartbeat key expires by itself: sessions resume on other processes meanwhile and
    // take their presence with them, so a rolling restart shows no leave and join.
    // A subscriber of the application's stays connected, but another process must not find
    // this one listening: it would wait for handoffs that never come.
    if (this.ownsSubscriber) this.subscriber.disconnect()
    // (With no channel, UNSUBSCRIBE would leave every channel of the application's too.)
    else if (this.channels.size > 0) {
      await this.subscriber.unsubscribe(...this.channels).catch(() => undefined)
    }
    this.channels.clear()
    subscribersInUse.delete(this.subscriber)
  }

  private feed(room: string): RoomFeed {
    let feed = this.feeds.get(room)
    if (feed !== undefined) return feed
    const key = this.keys.history(room)
    feed = new RoomFeed(room, {
      members: () => this.host?.members(room === broadcastRoom ? undefined : room) ?? [],
      history: async (after, count) => {
        const reply = (await this.redis.xrangeBuffer(
          key,
          `(${after}`,
          '+',
          'COUNT',
          count,
        )) as unknown as [Buffer, Buffer[]][]
        this.historyFailing = false
        return reply.map(([id, fields]) => entryOf(String(id), fields))
      },
      lastId: async () => {
        const reply = await this.redis.xrevrange(key, '+', '-', 'COUNT', 1)
        this.historyFailing = false
        return reply[0]?.[0] ?? '0-0'
      },
      decode: decodeRoomMessage,
      failure: (message, error) => this.failure(message, error),
      unreadable: (error) => this.historyFailed(error),
    })
    this.feeds.set(room, feed)
    const subscribed = this.subscribe(this.keys.channel(room))
    void subscribed.then((ok) => (ok ? feed.resync() : undefined))
    return feed
  }

  private unfeedIfEmpty(room: string): void {
    if (room === broadcastRoom || this.watched.has(room)) return
    const feed = this.feeds.get(room)
    if (feed === undefined) return
    for (const member of this.host?.members(room) ?? []) if (!member.closed) return
    feed.close()
    this.feeds.delete(room)
    // Nothing is owed of a room no longer heard: kept, each room left after a failed read of it
    // stayed for as long as the process lived, and every reconnection went over them all.
    this.syncFailed.delete(room)
    this.syncAgain.delete(room)
    const channel = this.keys.channel(room)
    this.channels.delete(channel)
    this.unsubscribe(channel)
  }

  private unsubscribe(channel: string): void {
    this.subscriber.unsubscribe(channel).catch(() => {
      // Left again once the subscriber is back (`onSubscriberReady`), unless joined since.
      if (!this.closed && !this.channels.has(channel)) this.unwanted.add(channel)
    })
  }

  private async subscribe(channel: string): Promise<boolean> {
    this.channels.add(channel)
    this.unwanted.delete(channel)
    try {
      await this.subscriber.subscribe(channel)
      if (channel === this.revokeChannel) this.heardOwn()
      return true
    } catch (error) {
      // Subscribed again when the subscriber is back (`onSubscriberReady`), unless left since.
      if (this.channels.has(channel)) this.unheard.add(channel)
      this.failure('a Redis channel could not be subscribed to', error)
      return false
    }
  }

  /**
   * Sends what waited while Redis was away, in order. One run at a time: a call while one runs
   * gets that run, which goes on until nothing waits (or Redis is away again), so that `detach`
   * waits for a write of them already in flight.
   */
  private flushPending(): Promise<void> {
    if (!this.flushing) this.flushed = this.flushRun()
    return this.flushed
  }

  private async flushRun(): Promise<void> {
    this.flushing = true
    try {
      for (;;) {
        // A write in flight may fail: what it failed is kept ahead of what waits here.
        await this.writer.idle()
        // Sends gathered before these were kept go with them, first, in this write: in a write
        // of their own ahead of it, one that failed was put back ahead of sends stored after it,
        // and the reply cut the kept sends by a count that no longer matched (lost, and a retry
        // past the sends of its process stored since was dropped as stored).
        if (this.pending.length > 0) this.keepFirst([])
        if (this.pending.length === 0 || !isReady(this.redis)) break
        let outcome: { ran: number; error?: Error }
        try {
          // Sent in this turn: no other write with sends goes ahead of it or beside it.
          outcome = await this.writer.sendNow(this.pending.slice(0, maxSendsPerWrite))
        } catch (error) {
          this.sendFailed(error)
          return
        }
        const { ran, error } = outcome
        for (const send of this.pending.slice(0, ran)) this.pendingBytes -= sizeOf(send)
        this.pending = this.pending.slice(ran)
        if (error !== undefined) {
          this.sendFailed(error)
          return
        }
        this.sent()
      }
    } finally {
      this.flushing = false
      this.endFlush()
    }
  }

  private endFlush(): void {
    const ended = [...this.flushEnded]
    this.flushEnded.clear()
    for (const resolve of ended) resolve()
  }

  /**
   * A room send failed while Redis may well stay ready (an error reply such as OOM, a command
   * timeout): nothing else would send what waits, so it is tried again, backing off. Reported
   * once until a send succeeds again.
   */
  private sendFailed(error: unknown): void {
    if (!this.sendsFailing) {
      this.sendsFailing = true
      this.failure('a room message could not be published yet', error)
    }
    if (this.retry !== undefined || this.closed) return
    const delay = this.retryMs
    this.retryMs = Math.min(delay * 2, maxRetryMs)
    this.retry = setTimeout(() => {
      this.retry = undefined
      void this.flushPending()
    }, delay)
    this.retry.unref()
  }

  /** A room send succeeded: the next failure is a new outage. */
  private sent(): void {
    this.sendsFailing = false
    this.retryMs = firstRetryMs
  }

  private readonly onReady = (): void => {
    // Redis may have lost its data (restarted empty): checked first, ahead of any claim of this
    // process on this connection, and of this process's sessions stored again.
    this.generationChecked = false
    this.modeChecked = false
    this.beating = undefined
    this.beat()
    if (this.syncFailed.size > 0) this.syncPresence([...this.syncFailed])
    // Leaves and joins made while Redis was not ready (a process that starts serving before its
    // client has connected, or an outage) were not stored. The leaves first, those of members
    // that did not join again; then the joins, idempotent: every member's is written again,
    // which also restores presence lost with a Redis restarted empty. But not over a member
    // another process holds now: it claimed the session meanwhile (this process could not be
    // asked), and the stale copy here would take its entry, then remove it when it goes.
    batchWrites(this.redis)
    for (const [room, changes] of this.unstored) {
      for (const [peerId, change] of changes) {
        if (change !== 'joined') this.storeLeave(peerId, room, change === 'moved')
      }
    }
    this.unstored.clear()
    this.presenceRefused = false
    this.storeAllPresence()
    this.dropStalePresence()
    // The next heartbeat finds this process unlisted after a Redis restarted empty: written now.
    this.listed = false
    void this.flushPending()
  }

  /**
   * Leaves, as moved, every entry this process is listed for in Redis without the member being
   * here: Redis came back older than what it was told (a snapshot, or a replica that failed over
   * before it got the last writes), with members that left since, and nothing else would remove
   * them while this process lives. As moved (it lapses, `processTtlMs`): a session that moved
   * to another process after the snapshot, and joins there once this leave is written, takes the
   * entry over. Checked when the reply comes: a join sent before it is seen, one sent after it
   * is written after these leaves.
   */
  private dropStalePresence(): void {
    this.redis
      .smembers(this.keys.processMembers(this.processId))
      .then((entries) => {
        if (this.closed || !isReady(this.redis)) return
        for (const entry of entries) {
          const at = entry.indexOf(' ')
          const peerId = entry.slice(0, at)
          const room = entry.slice(at + 1)
          if (!this.isMember(peerId, room)) this.storeLeave(peerId, room, true)
        }
      })
      .catch((error: unknown) => this.beatFailed('presence could not be read', error))
  }

  /** Writes the presence of every local member again (idempotent). */
  private storeAllPresence(): void {
    for (const room of this.feeds.keys()) {
      if (room === broadcastRoom) continue
      for (const member of this.host?.members(room) ?? []) this.storePresence(member, room, true)
    }
  }

  /**
   * The subscriber is back: catch up what was published meanwhile. ioredis says 'ready' just
   * before it subscribes again; a PING sent after (in a later turn) is answered once the
   * subscriptions are active, and only then does the rooms' newest id cover every message that
   * was not heard live.
   */
  private readonly onSubscriberReady = (): void => {
    this.subscriberFailing = false
    const missed = this.subscriberWasReady
    this.subscriberWasReady = true
    // Asked for now, ahead of the PING below: its answer comes once they are active too.
    const unheard = [...this.unheard]
    this.unheard.clear()
    for (const channel of unheard) {
      if (!this.closed && this.channels.has(channel)) void this.subscribe(channel)
    }
    setImmediate(() => {
      // Now, after ioredis subscribed again to what it had (left, these were among them).
      const unwanted = [...this.unwanted]
      this.unwanted.clear()
      for (const channel of unwanted) {
        if (!this.closed && !this.channels.has(channel)) this.unsubscribe(channel)
      }
      this.subscriber
        .ping()
        .then(() => {
          for (const feed of this.feeds.values()) void feed.resync()
          if (missed) this.syncPresence()
        })
        .catch((error: unknown) => this.failure('the Redis subscriber failed', error))
    })
  }

  /**
   * Reads the members of every room heard here, once its subscription is active again, and
   * tells them (`'presence:sync'`). A join or leave published after the subscription was back is
   * heard live: one heard before the read's reply is applied to it (Redis may have run the read
   * first), one heard after follows the event, so the last word on each member is the latest.
   */
  private syncPresence(rooms: Iterable<string> = this.feeds.keys()): void {
    for (const room of rooms) {
      if (room === broadcastRoom || !this.feeds.has(room)) continue
      this.syncFailed.delete(room)
      // Read under way: it may have been answered before this outage's changes. Read again after.
      if (this.syncing.has(room)) {
        this.syncAgain.add(room)
        continue
      }
      const heard = new Map<string, boolean>()
      this.syncing.set(room, heard)
      this.redis.hkeys(this.keys.presence(room)).then(
        (ids) => {
          this.syncing.delete(room)
          if (this.closed || !this.feeds.has(room)) return
          const members = new Set(ids)
          for (const [peerId, joined] of heard) {
            if (joined) members.add(peerId)
            else members.delete(peerId)
          }
          this.emit('presence:sync', { room, peerIds: [...members] })
          if (this.syncAgain.delete(room)) this.syncPresence([room])
        },
        (error: unknown) => {
          this.syncing.delete(room)
          this.syncAgain.delete(room)
          // Owed still: read again once Redis is ready again (`onReady`), if still heard here.
          if (!this.closed && this.feeds.has(room)) this.syncFailed.add(room)
          // Once, as a presence write's failure: not once for each room heard here.
          this.beatFailed('presence could not be read', error)
        },
      )
    }
  }

  /**
   * A message heard on the subscriber: handled with the others of this event-loop iteration at
   * its end (its check phase), after every socket read of the iteration. The reply to the write
   * that published a room message comes on the other connection, and was mostly read after the
   * publication: the commit it carries (a sender's message stored) was acknowledged in a `$ack`
   * of its own `ackDelayMs` later, where now it goes with the room messages, in the same write
   * (a fifth of the writes in the chat benchmark). And a member gets the room messages of the
   * iteration in one write, however many reads of the subscriber brought them.
   */
  private readonly onMessage = (channel: Buffer, message: Buffer): void => {
    this.heard.push(channel, message)
    if (this.hearing) return
    this.hearing = true
    setImmediate(this.handleHeard)
  }

  private readonly handleHeard = (): void => {
    this.hearing = false
    const heard = this.heard
    this.heard = []
    if (this.closed) return
    for (let i = 0; i < heard.length; i += 2) {
      this.handleMessage(heard[i] as Buffer, heard[i + 1] as Buffer)
    }
  }

  private handleMessage(channelBuffer: Buffer, message: Buffer): void {
    try {
      const channel = String(channelBuffer)
      // A subscriber of the application's hears its channels too: a message there is none of
      // the cluster's (one beginning with J was a join, of a room cut from the channel's name).
      if (!this.channels.has(channel)) return
      if (channel === this.revokeChannel) {
        // Reaped: this process stalled past processTtlMs, and another removed its members.
        if (message.length === 1 && message[0] === 0x2a /* * */) this.storeAllPresence()
        else this.store.revoke(String(message))
        return
      }
      if (this.detached) return
      const room = channel.slice(this.channelPrefixLength)
      const feed = this.feeds.get(room)
      const tag = message[0]
      if (tag === 0x4d /* M */) {
        feed?.publication(parsePublication(message))
      } else if (tag === 0x55 /* U */) {
        const [type, data, except] = unpack(message.subarray(1)) as [string, unknown, string | null]
        for (const member of this.host?.members(room === broadcastRoom ? undefined : room) ?? []) {
          if (member.id !== except) member.sendUnreliable(type, data)
        }
      } else if (tag === 0x4a /* J */ || tag === 0x4c /* L */) {
        const peerId = String(message.subarray(1))
        const joined = tag === 0x4a
        this.syncing.get(room)?.set(peerId, joined)
        this.emit('presence', { room, peerId, joined })
      }
    } catch (error) {
      this.failure('a message from Redis could not be read', error)
    }
  }

  /**
   * The subscriber's error: said once per outage. ioredis tells each failed reconnection, and
   * with a fast `retryStrategy` that was some twenty errors a second for as long as Redis was
   * away.
   */
  private readonly onError = (error: unknown): void => {
    if (this.subscriberFailing) return
    this.subscriberFailing = true
    this.failure('Redis failed', error)
  }

  /** Keeps this process alive in Redis, and cleans up after the processes that died. */
  private readonly beat = (): void => {
    if (!isReady(this.redis) || this.closed) return
    if (this.presenceRefused) this.storeRefused()
    if (!this.modeChecked) this.checkMode()
    if (!this.generationChecked) this.checkGeneration()
    // One at a time: while Redis hangs (its connections up), each beat was queued in the client
    // behind the last, an hour's stall some 14,000 commands, all run at once when it answered.
    if (this.beating !== undefined) return
    const { keys, processId } = this
    const beat: Promise<void> = (this.beating = this.redis
      .multi()
      .set(keys.process(processId), '1', 'PX', this.options.processTtlMs)
      .sadd(keys.processes(), processId)
      .exec()
      .then((results) => {
        // Listed before, and no longer: another process found this one's heartbeat lapsed (it
        // stalled past processTtlMs) and removed its members' presence, which nothing else
        // would write again while they stay.
        const added = results?.[1]?.[1] === 1
        if (added && this.listed) {
          batchWrites(this.redis)
          this.storeAllPresence()
        }
        this.listed = true
        return this.redis.lifelineReap(keys.processes(), keys.moves(), keys.prefix, keys.channels)
      })
      .then(() => {
        this.beatFailing = false
      })
      .catch((error: unknown) => {
        // A MULTI refused says EXECABORT; why (OOM, READONLY) is in the error of its command.
        const cause = (error as { previousErrors?: unknown[] } | undefined)?.previousErrors?.[0]
        this.beatFailed('the cluster heartbeat failed', cause ?? error)
      })
      .finally(() => {
        if (this.beating === beat) this.beating = undefined
      }))
  }

  /**
   * Reads the generation of Redis' data, written if missing. Another than the one this process
   * saw: Redis lost its data (restarted empty: checked at each reconnection, so a `FLUSHALL`
   * under connected processes goes unseen), and the processes store their sessions
   * again as they come back. Redis is then refilled (`Keys.refilling`) for `processTtlMs`, within
   * which a live process is back: a claim that finds no session meanwhile waits for it (`claim`
   * of the store), else a client that resumes on another process before its holder stored the
   * session again would be reset, its unacknowledged messages lost.
   */
  private checkGeneration(): void {
    this.generationChecked = true
    this.redis
      .lifelineGeneration(
        this.keys.generation(),
        this.keys.refilling(),
        randomBytes(12).toString('base64url'),
        this.generation,
        this.options.processTtlMs,
      )
      .then((generation) => {
        this.generation = generation
      })
      .catch((error: unknown) => {
        // Checked again at the next heartbeat.
        this.generationChecked = false
        this.beatFailed('the cluster heartbeat failed', error)
      })
  }

  /**
   * Tells a client connected to a node of a Redis Cluster, which `resolveOptions` cannot see (a
   * plain client, maybe to a managed Redis in cluster mode). Sessions and rooms seemed to work
   * there, on one shard, but the heartbeat (a transaction over two slots) failed with CROSSSLOT:
   * no process was alive in Redis, so a move was never handed over (what the owner processed was
   * processed again) and a dead process's members were never reaped. A user whose ACL refuses
   * `INFO` is not told.
   */
  private checkMode(): void {
    this.modeChecked = true
    this.redis.info('cluster').then(
      (info) => {
        if (!/^cluster_enabled:1/m.test(String(info))) return
        this.failure(
          'Redis Cluster is not supported',
          new LifelineError(
            'INVALID_ARGUMENT',
            'Redis Cluster is not supported: `redis` is connected to a node of one',
          ),
        )
      },
      () => undefined,
    )
  }

  /**
   * A heartbeat or a presence write failed: reported once, then again only after a heartbeat
   * went through. Redis refusing writes (`OOM`) refuses every heartbeat: reported each time, that
   * was an error a second for as long as it lasted.
   */
  private beatFailed(message: string, error: unknown): void {
    if (this.beatFailing) return
    this.beatFailing = true
    this.failure(message, error)
  }

  /**
   * A room's history could not be read (a catch-up, a new member's place): reported once, then
   * again only after a read succeeded. Each room's feed tries its read again every 500 ms: with
   * the command connection away and the subscriber back, that was two reports a second for
   * every room heard here.
   */
  private historyFailed(error: unknown): void {
    if (this.historyFailing) return
    this.historyFailing = true
    this.failure('the room history cannot be read', error)
  }

  private failure(message: string, error: unknown): void {
    // ioredis attaches the failed command, whose arguments hold payloads and session ids.
    if (this.listenerCount('error') > 0) this.emit('error', withoutCommand(error))
    else this.host?.failure(message, error)
  }
}

/** `M<id> <prev> <payload>` */
function parsePublication(message: Buffer): RoomEntry {
  const a = message.indexOf(0x20, 1)
  const b = message.indexOf(0x20, a + 1)
  return {
    id: message.toString('latin1', 1, a),
    prev: message.toString('latin1', a + 1, b),
    payload: message.subarray(b + 1),
  }
}

/**
 * Creates the Redis cluster of a Lifeline server process: pass it as `cluster` to
 * `createServer` in every process of the cluster, each with its own ioredis client.
 *
 * ```ts
 * import { Redis } from 'ioredis'
 * import { createServer } from '@lifeline/server'
 * import { createRedisCluster } from '@lifeline/redis'
 *
 * const cluster = createRedisCluster({ redis: new Redis(process.env.REDIS_URL ?? '') })
 * const server = createServer({ port: 8080, cluster })
 * ```
 */
export function createRedisCluster(options: RedisClusterOptions): RedisCluster {
  return new RedisCluster(options)
}
