import type { CommitResult, SessionCommit } from '@lifeline/server'
import type { Redis } from 'ioredis'
import { Netstrings, packEnvelope, packRooms } from './packing.js'
import { batchWrites, type ScriptCommands, type WriteReply } from './redisClient.js'

/** A room send or broadcast, as the cluster writes it (and keeps it while Redis is away). */
export interface RoomSend {
  /** The room, `'\u0000'` for the broadcast. */
  room: string
  /** Packed `[uid, type, data, except]` (reliable) or `[type, data, except]`. */
  payload: Buffer
  reliable: boolean
  /** The idempotency id (`{ id }` of the send), if any. */
  id: string | undefined
  /**
   * A reliable send: the process that made it and its number there (its uid without `id`), which
   * only grows in each room. Redis stores a send only past the last one it stored of that
   * process in that room, kept for `historyTtlMs` (or `dedupeTtlMs` if longer) from that send: a
   * write sent again (its reply lost) does not store it twice, which every member would get.
   */
  origin?: { process: string; seq: number } | undefined
}

/** What `writeScript` needs besides the sends and commits. */
export interface WriteLimits {
  prefix: string
  /** What every channel's name begins with (`Keys.channels`). */
  channels: string
  historyLength: number
  historyTtlMs: number
  dedupeTtlMs: number
}

/**
 * Sends gathered per call: a bound on what one script run holds Redis up for (some 10 µs a
 * send) and on what a failed call leaves to send again.
 */
export const maxSendsPerWrite = 256
/** Bytes of sends past which they go at once, as `batchWrites` does with what it holds. */
const maxSendBytes = 64 * 1024

/** The sends one call carries, and how it ended. */
type SendsSettled = (sends: readonly RoomSend[], error: unknown) => void

/**
 * The writes of one process to Redis, gathered per event-loop iteration: the room sends made in
 * the iteration leave together, in one `writeScript` call, at its end (its check phase), or with
 * the session commits (`commit`), ahead of them in the same call. A send is then one entry of a
 * buffer rather than a command of its own (ioredis builds, queues and answers each command,
 * several µs of this process's time, and Redis runs each script call), and a commit runs after
 * the room sends that the handlers made before it, in the same call or an earlier one.
 */
export class RedisWriter {
  private sends: RoomSend[] = []
  private buffer: Netstrings | undefined
  private scheduled = false
  /**
   * The call with sends that Redis has not answered yet (settles once they are `settled`). One
   * at a time: should some of its sends fail, they are sent again ahead of those gathered since,
   * which wait for its reply meanwhile.
   */
  private inFlight: Promise<void> | undefined
  /** Commits waiting for `inFlight`: they take the sends gathered meanwhile with them. */
  private commitsWaiting = 0

  constructor(
    private readonly redis: Redis & ScriptCommands,
    private readonly limits: WriteLimits,
    /** Each call's sends, once it succeeded (`error` undefined) or failed. */
    private readonly settled: SendsSettled = () => undefined,
    /** Room sends are kept to be sent again: no commit goes ahead of them. */
    private readonly sendsKept: () => boolean = () => false,
  ) {}

  /**
   * Commits wait: room sends are kept to be sent again (a write failed, or Redis was away), and
   * a commit acknowledges messages whose room sends may be among them.
   */
  get holdsCommits(): boolean {
    return this.sendsKept()
  }

  /** Bytes of the sends that wait for the end of the iteration. */
  get waitingBytes(): number {
    return this.buffer?.length ?? 0
  }

  /** How many sends wait for the end of the iteration. */
  get waitingSends(): number {
    return this.sends.length
  }

  /** Gathers a send for the end of the iteration (or the next commit). */
  send(send: RoomSend): void {
    this.add(send)
    if (this.sends.length >= maxSendsPerWrite || this.waitingBytes >= maxSendBytes) {
      this.flush()
      return
    }
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.flushScheduled)
  }

  /**
   * Writes `sends` now, in a call of their own: resolves with how many of them (from the first)
   * Redis ran, and the error of the one that failed, if one did. They are not `settled`: the
   * caller keeps them until then. Rejects when the call failed. The caller has waited for `idle`
   * and taken the sends gathered (`take`), older than its own, in the same turn: another write
   * with sends in flight beside this one could fail while this one is stored.
   */
  async sendNow(sends: readonly RoomSend[]): Promise<{ ran: number; error?: Error }> {
    const buffer = new Netstrings()
    for (const send of sends) addSend(buffer, send)
    const [failed, error] = await this.call(buffer, undefined)
    return failed === 0 ? { ran: sends.length } : { ran: failed - 1, error: new Error(error) }
  }

  /**
   * Writes the commits behind the sends gathered (in the same call), once the call with sends in
   * flight is answered: one result per commit, in order. Fails while room sends are kept to be
   * sent again (`sendsKept`), and when a send of the same call failed.
   */
  async commit(commits: readonly SessionCommit[]): Promise<CommitResult[]> {
    this.commitsWaiting++
    try {
      await this.idle()
    } finally {
      this.commitsWaiting--
    }
    if (this.holdsCommits) {
      // Not left behind by the commits that were to take them.
      this.flush()
      throw new Error('room sends wait to be sent again')
    }
    const [, , error, results] = await this.writeGathered(commits)
    if (error !== '') throw new Error(error)
    return results.map((result) => (result === 1 ? 'ok' : result === 0 ? 'fenced' : 'missing'))
  }

  /** Resolves once no call with sends is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight
  }

  /** Takes the sends gathered (the caller sends them, after what it keeps already). */
  take(): RoomSend[] {
    const sends = this.sends
    this.sends = []
    this.buffer = undefined
    return sends
  }

  private add(send: RoomSend): void {
    addSend((this.buffer ??= new Netstrings()), send)
    this.sends.push(send)
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false
    this.flush()
  }

  private flush(): void {
    // The call in flight sends them once answered (`writeGathered`), or a commit waiting for it.
    if (this.sends.length === 0 || this.inFlight !== undefined) return
    // The outcome is the sends' (`settled`): nothing else waits for this call.
    this.writeGathered(undefined).catch(() => undefined)
  }

  /**
   * The sends gathered, and `commits`, in one call. The sends are `settled`: those before the
   * one that failed as sent, the rest (all, when the call itself failed) with the error.
   */
  private writeGathered(commits: readonly SessionCommit[] | undefined): Promise<WriteReply> {
    const sends = this.sends
    const reply = this.call(this.buffer, commits)
    this.sends = []
    this.buffer = undefined
    if (sends.length === 0) return reply
    const written = reply.then(
      (result) => {
        this.inFlight = undefined
        const [failed, error] = result
        if (failed === 0) {
          this.settled(sends, undefined)
        } else {
          if (failed > 1) this.settled(sends.slice(0, failed - 1), undefined)
          this.settled(sends.slice(failed - 1), new Error(error))
        }
        this.flushWaiting()
        return result
      },
      (error: unknown) => {
        this.inFlight = undefined
        this.settled(sends, error)
        this.flushWaiting()
        throw error
      },
    )
    this.inFlight = written.then(
      () => undefined,
      () => undefined,
    )
    return written
  }

  /** The call in flight was answered: what was gathered meanwhile goes, unless a commit takes it. */
  private flushWaiting(): void {
    if (this.commitsWaiting === 0) this.flush()
  }

  private call(
    sends: Netstrings | undefined,
    commits: readonly SessionCommit[] | undefined,
  ): Promise<WriteReply> {
    const { prefix, channels, historyLength, historyTtlMs, dedupeTtlMs } = this.limits
    batchWrites(this.redis)
    return this.redis.lifelineWrite(
      prefix,
      historyLength,
      historyTtlMs,
      dedupeTtlMs,
      sends?.done() ?? empty,
      commits === undefined ? noCommits : packCommits(commits),
      channels,
    )
  }
}

function addSend(buffer: Netstrings, send: RoomSend): void {
  buffer.add(send.reliable ? 'M' : 'U')
  buffer.add(send.room)
  buffer.add(send.id ?? '')
  const origin = send.origin
  buffer.add(origin?.process ?? '')
  buffer.add(origin?.seq ?? '')
  buffer.add(send.payload)
}

const empty = Buffer.alloc(0)
const noCommits = Buffer.from('1:0')

/** Commits as `writeScript` reads them. */
function packCommits(commits: readonly SessionCommit[]): Buffer {
  const batch = new Netstrings()
  batch.add(commits.length)
  for (const { id, epoch, change } of commits) {
    const acknowledged = change.acknowledged
    let count = 0
    for (const envelope of change.sent) if (envelope.s > acknowledged) count++
    batch.add(id)
    batch.add(epoch)
    batch.add(change.lastClientSeq)
    batch.add(acknowledged)
    batch.add(change.lossy ? '1' : '0')
    batch.add(change.rooms === undefined ? '' : packRooms(change.rooms))
    batch.add(count)
    for (const envelope of change.sent) {
      if (envelope.s <= acknowledged) continue
      batch.add(envelope.s)
      batch.add(packEnvelope(envelope))
    }
  }
  return batch.done()
}
