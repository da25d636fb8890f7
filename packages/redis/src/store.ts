import { LifelineError } from '@lifeline/codec'
import type {
  ClaimedSession,
  CommitResult,
  SessionCommit,
  SessionRecord,
  SharedSessionStore,
  StoredEnvelope,
} from '@lifeline/server'
import type { Redis } from 'ioredis'
import type { Keys } from './keys.js'
import { redisClusterDefaults } from './options.js'
import {
  decodeRoomMessage,
  entryOf,
  packEnvelope,
  packRooms,
  unpack,
  unpackRooms,
} from './packing.js'
import { isReady, withScripts, type ClaimReply, type ScriptCommands } from './redisClient.js'
import { compareIds } from './roomFeed.js'
import { RedisWriter } from './writer.js'

const referenceTag = 0x52 /* R */

/** A claim waiting for a handoff: the tokens of the answers heard, and a wake-up. */
interface AwaitedHandoff {
  answered: Set<string>
  wake: () => void
}

/**
 * How often a claim asks again an owner that has not answered a handoff yet: the claim script
 * checks that the owner is still alive each time, so one that died meanwhile is not waited for.
 */
const livenessCheckMs = 250

/**
 * How long Redis may leave a command of a claim unanswered before the claim counts as stalled
 * (`claim`'s `stalled`): the second after which the server serves a session without waiting for
 * its writes. A wait for an owner's handoff is not a command, and is bounded by
 * `handoffTimeoutMs`.
 */
const unansweredMs = 1_000

/** `reply`, calling `stalled` should Redis leave it unanswered for `unansweredMs`. */
function watched<T>(reply: Promise<T>, stalled: (() => void) | undefined): Promise<T> {
  if (stalled === undefined) return reply
  const timer = setTimeout(stalled, unansweredMs)
  timer.unref()
  const answered = (): void => clearTimeout(timer)
  reply.then(answered, answered)
  return reply
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)))
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves after `ms` (without holding the process). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref())
}

/** A claim whose resume the server refused while Redis left it unanswered (`claim`). */
function givenUpClaim(): LifelineError {
  return new LifelineError('STORE_UNAVAILABLE', 'the claim was given up: its resume was refused')
}

function unavailable(): LifelineError {
  return new LifelineError('STORE_UNAVAILABLE', 'Redis cannot be reached now')
}

/** Redis' `%.0f` tokens as numbers (microseconds: well within 2^53). */
function token(value: Buffer | string | number): number {
  return Number(String(value))
}

/**
 * The sessions of a cluster in Redis (see `SharedSessionStore`): a hash per session, each write
 * a Lua script that checks the fencing token first, one script for every session a turn
 * changed. Room messages are kept as references to the room's history. Created by
 * `createRedisCluster`.
 */
export class RedisSessionStore implements SharedSessionStore {
  readonly shared = true
  private readonly redis: Redis & ScriptCommands
  private readonly writer: RedisWriter
  private readonly revoked = new Set<(id: string, epoch: number) => void>()
  private readonly handoffs = new Set<(id: string, token?: number) => Promise<void>>()
  /** `onBack` listeners: told on each `'ready'` of the client (a reconnection). */
  private readonly backs = new Set<() => void>()
  /** The claims of this process waiting for an owner to hand a session over, by session id. */
  private readonly awaitedHandoffs = new Map<string, Set<AwaitedHandoff>>()
  /**
   * How long a claim waits for a live owner to hand a session over before it treats it as
   * crashed: the cluster's `handoffTimeoutMs`. The server reads it (`SharedSessionStore`) to
   * bound its own waits in a handoff or a resume by the same figure.
   * @default 5000
   */
  readonly handoffTimeoutMs: number
  /**
   * Releases asked while Redis was away, by session id, oldest first: sent once it is back.
   * Each is kept at most the sessions' time to live in Redis, after which its session expired
   * there anyway.
   */
  private readonly keptReleases = new Map<string, { epoch: number; at: number }>()
  /** The sessions' time to live in Redis, as last written (by a create, claim or keep-alive). */
  private ttlMs = 0
  /** `releaseKept` waits for the client's next `'ready'`. */
  private awaitingReady = false
  /**
   * The sessions held here that Redis no longer had at the last keep-alive (it lost its data),
   * until they are stored again: a claim of one of them (its client resumes here) does not wait
   * for it to be stored again, which waits for that claim. Replaced at each keep-alive.
   */
  private refilled = new Set<string>()
  /**
   * The keep-alive Redis has not answered yet, on this connection: one at a time. While Redis
   * hangs (its connections up), each was queued in the client behind the last, a PEXPIRE per
   * session held every `sessionTtlMs / 4`, for as long as it lasted: with the defaults, an hour's
   * stall 120 per session, all held in memory and run at once when it answered. A new connection
   * forgets it (`back`): what was in flight when the last closed may never settle.
   */
  private keeping: Promise<unknown> | undefined

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    /** This process's id: the owner a claim records, whose channel hears revocations. */
    private readonly processId: string,
    handoffTimeoutMs: number = redisClusterDefaults.handoffTimeoutMs,
    /** Where commits go: the cluster's, with its room sends. */
    writer?: RedisWriter,
    /** Reports a failure no caller is left to hear (the cluster's `error` event). */
    private readonly report: (message: string, error: unknown) => void = () => undefined,
  ) {
    this.handoffTimeoutMs = handoffTimeoutMs
    this.redis = withScripts(redis)
    this.writer =
      writer ??
      new RedisWriter(this.redis, {
        ...redisClusterDefaults,
        prefix: keys.prefix,
        channels: keys.channels,
      })
  }

  /** Redis is ready, and no room send waits to be sent again ahead of the commits. */
  available(): boolean {
    return isReady(this.redis) && !this.writer.holdsCommits
  }

  /** Redis is ready: a write it refuses (or a room send kept ahead of commits) is tried again. */
  reachable(): boolean {
    return isReady(this.redis)
  }

  async create(record: SessionRecord, ttlMs: number): Promise<number> {
    if (!this.available()) throw unavailable()
    this.ttlMs = ttlMs
    const first = record.replay[0]?.s ?? record.lastServerSeq + 1
    const epoch = await this.redis.lifelineCreate(
      this.keys.session(record.id),
      this.processId,
      Math.ceil(ttlMs),
      record.peerId,
      record.lastClientSeq,
      record.lastServerSeq,
      first,
      record.lossy ? '1' : '0',
      packRooms(rooms(record)),
      ...record.replay.flatMap((envelope) => [envelope.s, packEnvelope(envelope)]),
    )
    this.refilled.delete(record.id)
    if (epoch === 0) {
      throw new LifelineError('SESSION_FENCED', 'the session exists: another process holds it')
    }
    return token(epoch)
  }

  /**
   * A session another live process owns is handed over first: the owner stores what it
   * processed (with its token, still valid) and lets go, then the token is raised. Without that,
   * a client message the owner processed and had not stored yet would be processed again here.
   * The owner is asked again every `livenessCheckMs` while it has not answered: once it is dead
   * (a frozen process misses its heartbeats) the claim is made at once. An owner still alive but
   * silent after `handoffTimeoutMs` is treated as one that crashed. `stalled` is called once
   * should Redis leave one of the claim's commands unanswered for `unansweredMs` (it hangs: a
   * stopped process, a link that lost its peer); the claim goes on, and settles once it answers.
   * Should `stalled` return true (the server gave the claim up: it refused the resume), the
   * claim asks no owner for the session from then on, and fails once Redis answers that a live
   * one holds it: the client went on elsewhere meanwhile, and its live link there stays.
   * A session missing while Redis is refilled (it lost its data: `Keys.refilling`) may be held
   * by a process that has not stored it again yet: it is looked for again every
   * `livenessCheckMs`, for `handoffTimeoutMs` at most, before the claim answers that there is
   * none. One held here is not waited for: this process stores it again once claimed.
   */
  async claim(
    id: string,
    ttlMs: number,
    acknowledged = 0,
    stalled?: () => boolean | void,
  ): Promise<ClaimedSession | undefined> {
    if (!this.available()) throw unavailable()
    this.ttlMs = ttlMs
    let told = false
    let givenUp = false
    const stall =
      stalled &&
      ((): void => {
        if (told) return
        told = true
        givenUp = stalled() === true
      })
    // Listening before asking: the answer comes on another connection, maybe before the reply.
    const awaited: AwaitedHandoff = { answered: new Set(), wake: () => undefined }
    let waiting = this.awaitedHandoffs.get(id)
    if (waiting === undefined) this.awaitedHandoffs.set(id, (waiting = new Set()))
    waiting.add(awaited)
    let reply: ClaimReply | Buffer | number | null
    // Monotonic, as every wait here (see below).
    const refillUntil = performance.now() + this.handoffTimeoutMs
    /** The refilling key, for a claim that may still wait for a session missing (`claim`). */
    const refilling = (): string =>
      this.refilled.has(id) || performance.now() >= refillUntil ? '' : this.keys.refilling()
    try {
      reply = await watched(this.runClaim(id, ttlMs, acknowledged, '1', refilling()), stall)
      /** The token the owner was last asked to hand the session over by. */
      let asked = ''
      let giveUpAt = 0
      for (;;) {
        if (typeof reply === 'number') {
          // Missing while Redis is refilled, for `reply` ms more: looked for again shortly.
          if (givenUp) throw givenUpClaim()
          await pause(Math.min(livenessCheckMs, reply, refillUntil - performance.now()))
          if (givenUp) throw givenUpClaim()
          asked = ''
          reply = await watched(this.runClaim(id, ttlMs, acknowledged, '1', refilling()), stall)
          continue
        }
        if (!Buffer.isBuffer(reply)) break
        // A live owner holds it by `held`. Given up: nothing more is asked of it, nor taken.
        if (givenUp) throw givenUpClaim()
        const held = String(reply)
        if (held !== asked) {
          // Not asked yet (the first reply, or another process took it meanwhile): asked now,
          // which takes it at once if that owner does not hear its channel. Its answer names
          // `held`, so that a late answer of an earlier owner is not taken for it. Each owner
          // gets the whole wait: one that took the session meanwhile is as alive as the first.
          // Monotonic, as every wait here: a step of the wall clock must not end a wait at once
          // (a live owner's session taken from it) or stretch it by the step.
          asked = held
          giveUpAt = performance.now() + this.handoffTimeoutMs
          reply = await watched(this.runClaim(id, ttlMs, acknowledged, `?${held}`), stall)
          continue
        }
        const answered = await this.answerOf(awaited, held, giveUpAt)
        if (givenUp) throw givenUpClaim()
        // Answered, or the wait is over: taken if still held by `held`, else its new owner's
        // token comes back. Not yet: asked again, which takes it if the owner died meanwhile.
        const late = !answered && performance.now() >= giveUpAt
        reply = await watched(
          this.runClaim(id, ttlMs, acknowledged, answered || late ? held : `?${held}`),
          stall,
        )
      }
    } finally {
      waiting.delete(awaited)
      if (waiting.size === 0 && this.awaitedHandoffs.get(id) === waiting) {
        this.awaitedHandoffs.delete(id)
      }
    }
    if (reply === null) return undefined
    const [previous, epoch, fields, list] = reply
    const [peerId, c, l, f, x, r] = fields
    const first = Number(String(f))
    const roomCursors = unpackRooms(r)
    const { replay, complete } = await this.envelopes(list, first, stall)
    const record: SessionRecord = {
      id,
      peerId: String(peerId),
      lastClientSeq: Number(String(c)),
      lastServerSeq: Number(String(l)),
      replay,
      // A room message no longer in the room's history cannot be sent again as it was.
      lossy: String(x) === '1' || !complete,
      rooms: Object.keys(roomCursors).filter((room) => room !== '\u0000'),
      roomCursors,
      expiresAt: Infinity,
    }
    return { record, epoch: token(epoch), previousEpoch: token(previous) }
  }

  /**
   * Whether the owner holding the session by `token` answered (an answer heard before the
   * claim's reply counts), waiting at most `livenessCheckMs`, and not past `giveUpAt`.
   */
  private async answerOf(
    awaited: AwaitedHandoff,
    token: string,
    giveUpAt: number,
  ): Promise<boolean> {
    const until = Math.min(performance.now() + livenessCheckMs, giveUpAt)
    for (;;) {
      if (awaited.answered.has(token)) return true
      const wait = until - performance.now()
      if (wait <= 0) return false
      const woken = new Promise<void>((resolve) => (awaited.wake = resolve))
      await within(woken, wait)
    }
  }

  /**
   * `ask`: `'1'` finds a live owner's token, `?<token>` asks that owner, `'0'` takes the session,
   * a token takes it if still held by it: see `claimScript`.
   */
  private runClaim(
    id: string,
    ttlMs: number,
    acknowledged: number,
    ask: string,
    refilling = '',
  ): Promise<ClaimReply | Buffer | number | null> {
    return this.redis.lifelineClaimBuffer(
      this.keys.session(id),
      this.processId,
      Math.ceil(ttlMs),
      this.keys.revokeChannel(''),
      id,
      acknowledged,
      ask,
      this.keys.process(''),
      refilling,
    )
  }

  /**
   * The kept envelopes of a claimed session, numbered from `first`: room references are read
   * back from the rooms' histories (one `XRANGE` per room); `complete` is false when one of
   * them is no longer there (trimmed, or the history expired).
   */
  private async envelopes(
    list: readonly (Buffer | null)[],
    first: number,
    stalled: (() => void) | undefined,
  ): Promise<{ replay: StoredEnvelope[]; complete: boolean }> {
    const replay: StoredEnvelope[] = []
    /** Per room, the references to read: the envelope's index and the entry's id. */
    const references = new Map<string, { at: number; id: string }[]>()
    let complete = true
    for (let index = 0; index < list.length; index++) {
      const buffer = list[index]
      const s = first + index
      if (buffer === null || buffer === undefined) {
        complete = false
        continue
      }
      if (buffer[0] === referenceTag) {
        const text = buffer.toString('utf8', 1)
        const space = text.indexOf(' ')
        const room = text.slice(space + 1)
        let wanted = references.get(room)
        if (wanted === undefined) references.set(room, (wanted = []))
        wanted.push({ at: replay.length, id: text.slice(0, space) })
        replay.push({ t: '', s })
        continue
      }
      const [t, ...d] = unpack(buffer) as [string, unknown?]
      replay.push(d.length === 0 ? { t, s } : { t, d: d[0], s })
    }
    for (const [room, wanted] of references) {
      let from = (wanted[0] as { id: string }).id
      let to = from
      for (const { id } of wanted) {
        if (compareIds(id, from) < 0) from = id
        if (compareIds(id, to) > 0) to = id
      }
      const reply = (await watched(
        this.redis.xrangeBuffer(this.keys.history(room), from, to),
        stalled,
      )) as unknown as [Buffer, Buffer[]][]
      const payloads = new Map<string, Buffer>()
      for (const [id, fields] of reply) payloads.set(String(id), entryOf('', fields).payload)
      for (const { at, id } of wanted) {
        const payload = payloads.get(id)
        if (payload === undefined) {
          complete = false
          continue
        }
        const { type, data } = decodeRoomMessage(payload)
        const envelope = replay[at] as StoredEnvelope
        envelope.t = type
        envelope.d = data
      }
    }
    return { replay: complete ? replay : replay.filter((envelope) => envelope.t !== ''), complete }
  }

  async commit(commits: readonly SessionCommit[]): Promise<CommitResult[]> {
    if (!this.available()) throw unavailable()
    return this.writer.commit(commits)
  }

  /**
   * Redis away (or gone while asked): the release is kept and sent once it is back; without it,
   * the session would stay in Redis, and be resumed on another process, until it expires.
   */
  async release(id: string, epoch: number): Promise<void> {
    if (!isReady(this.redis)) {
      this.keepRelease(id, epoch)
      return
    }
    try {
      await this.redis.lifelineRelease(
        this.keys.session(id),
        this.keys.fence(id),
        String(epoch),
        Math.ceil(this.ttlMs),
      )
    } catch (error) {
      if (isReady(this.redis)) throw error
      this.keepRelease(id, epoch)
    }
  }

  private keepRelease(id: string, epoch: number): void {
    const kept = this.keptReleases
    // How long it was kept, on the monotonic clock: Redis counts a time to live down the same way.
    const now = performance.now()
    // Those whose sessions expired in Redis meanwhile go: at most a time to live's worth stays.
    for (const [keptId, { at }] of kept) {
      if (at + this.ttlMs > now) break
      kept.delete(keptId)
    }
    kept.delete(id)
    kept.set(id, { epoch, at: now })
    if (this.awaitingReady) return
    this.awaitingReady = true
    this.redis.once('ready', this.releaseKept)
  }

  private readonly releaseKept = (): void => {
    this.awaitingReady = false
    const now = performance.now()
    const kept = [...this.keptReleases]
    this.keptReleases.clear()
    for (const [id, { epoch, at }] of kept) {
      if (at + this.ttlMs <= now) continue
      // Redis gone again: kept again (`release`). Refused (a replica after a failover, say):
      // the session stays in Redis, where another process could resume it, until it expires;
      // the caller that asked for the release is long gone, so it is reported here.
      this.release(id, epoch).catch((error: unknown) =>
        this.report(
          'a session released while Redis was away could not be released once it was back; it expires with its time to live',
          error,
        ),
      )
    }
  }

  /** Resolves with the sessions Redis no longer has (it restarted empty, or failed over). */
  async keepAlive(ids: readonly string[], ttlMs: number): Promise<string[]> {
    this.ttlMs = ttlMs
    // The one in flight tells what Redis lost, once it is answered.
    if (this.keeping !== undefined) return []
    const ttl = Math.ceil(ttlMs)
    const pipeline = this.redis.pipeline()
    for (const id of ids) pipeline.pexpire(this.keys.session(id), ttl)
    const keeping = (this.keeping = pipeline.exec())
    let results: Awaited<typeof keeping>
    try {
      results = await keeping
    } finally {
      if (this.keeping === keeping) this.keeping = undefined
    }
    results ??= []
    const lost: string[] = []
    results.forEach(([error, kept], index) => {
      if (error === null && kept === 0) lost.push(ids[index] as string)
    })
    this.refilled = new Set(lost)
    return lost
  }

  onBack(listener: () => void): () => void {
    const backs = this.backs
    if (backs.size === 0) this.redis.on('ready', this.back)
    backs.add(listener)
    return () => {
      if (backs.delete(listener) && backs.size === 0) this.redis.off('ready', this.back)
    }
  }

  private readonly back = (): void => {
    this.keeping = undefined
    for (const listener of [...this.backs]) listener()
  }

  onRevoked(listener: (id: string, epoch: number) => void): () => void {
    this.revoked.add(listener)
    return () => this.revoked.delete(listener)
  }

  onHandoff(listener: (id: string, token?: number) => Promise<void>): () => void {
    this.handoffs.add(listener)
    return () => this.handoffs.delete(listener)
  }

  /**
   * A message heard on this process's channel: `"<session id> <token>"` (another process
   * claimed the session), `"<session id> ?<process> <token>"` (that process asks for the
   * session, held by `token`) or `"<session id> !<token>"` (the owner handed over a session this
   * process asked for).
   */
  revoke(message: string): void {
    const at = message.indexOf(' ')
    const id = message.slice(0, at)
    const rest = message.slice(at + 1)
    if (rest.startsWith('?')) {
      const [to = '', token = ''] = rest.slice(1).split(' ')
      void this.handOver(id, to, token)
      return
    }
    if (rest.startsWith('!')) {
      for (const awaited of this.awaitedHandoffs.get(id) ?? []) {
        awaited.answered.add(rest.slice(1))
        awaited.wake()
      }
      return
    }
    const epoch = Number(rest)
    for (const listener of this.revoked) listener(id, epoch)
  }

  /** Lets the server store and let go of session `id`, then tells the process that asks. */
  private async handOver(id: string, to: string, asked: string): Promise<void> {
    // The answer goes whatever happened: without it, the claim would only wait longer.
    // The token the session was held by when asked: an owner that claimed it since keeps it.
    const by = /^\d+$/.test(asked) ? token(asked) : undefined
    await Promise.all([...this.handoffs].map((listener) => listener(id, by))).catch(() => undefined)
    await this.redis.publish(this.keys.revokeChannel(to), `${id} !${asked}`).catch(() => undefined)
  }

  // The server uses a shared store through the methods above only.
  get(): never {
    throw new LifelineError('INVALID_ARGUMENT', 'a shared store is read through claim')
  }

  set(): never {
    throw new LifelineError('INVALID_ARGUMENT', 'a shared store is written through commit')
  }

  delete(): never {
    throw new LifelineError('INVALID_ARGUMENT', 'a shared store is written through release')
  }
}

/** The rooms of a record and their cursors. */
function rooms(record: SessionRecord): Record<string, string> {
  const result = Object.create(null) as Record<string, string>
  Object.assign(result, record.roomCursors)
  for (const room of record.rooms) result[room] ??= ''
  return result
}
