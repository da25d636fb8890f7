import { LifelineError } from '@lifeline/codec'
import type {
  ClaimedSession,
  CommitResult,
  SessionChange,
  SessionRecord,
  SharedSessionStore,
  StoredEnvelope,
} from '@lifeline/server'
import type { Redis } from 'ioredis'
import { Packr } from 'msgpackr/pack'
import type { Keys } from './keys.js'
import { isReady, withScripts, type ClaimReply, type ScriptCommands } from './redisClient.js'

/** Values as msgpack: a payload's binary data (Uint8Array) survives, unlike JSON. */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true })

function packEnvelope(envelope: StoredEnvelope): Buffer {
  return packr.pack('d' in envelope ? [envelope.t, envelope.d] : [envelope.t])
}

function unavailable(): LifelineError {
  return new LifelineError('STORE_UNAVAILABLE', 'Redis cannot be reached now')
}

/** Redis' `%.0f` tokens as numbers (microseconds: well within 2^53). */
function token(value: Buffer | string | number): number {
  return Number(String(value))
}

/**
 * The sessions of a cluster in Redis (see `SharedSessionStore`): a hash and a list per session,
 * each write a Lua script that checks the fencing token first. Created by `createRedisCluster`.
 */
export class RedisSessionStore implements SharedSessionStore {
  readonly shared = true
  private readonly redis: Redis & ScriptCommands
  private readonly revoked = new Set<(id: string, epoch: number) => void>()

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    /** This process's id: the owner a claim records, whose channel hears revocations. */
    private readonly processId: string,
  ) {
    this.redis = withScripts(redis)
  }

  available(): boolean {
    return isReady(this.redis)
  }

  async create(record: SessionRecord, ttlMs: number): Promise<number> {
    if (!this.available()) throw unavailable()
    const first = record.replay[0]?.s ?? record.lastServerSeq + 1
    const epoch = await this.redis.lifelineCreate(
      this.keys.session(record.id),
      this.keys.replay(record.id),
      this.processId,
      Math.ceil(ttlMs),
      record.peerId,
      record.lastClientSeq,
      record.lastServerSeq,
      first,
      record.lossy ? '1' : '0',
      packRooms(rooms(record)),
      ...record.replay.map(packEnvelope),
    )
    if (epoch === 0) {
      throw new LifelineError('SESSION_FENCED', 'the session exists: another process holds it')
    }
    return token(epoch)
  }

  async claim(id: string, ttlMs: number): Promise<ClaimedSession | undefined> {
    if (!this.available()) throw unavailable()
    const reply: ClaimReply | null = await this.redis.lifelineClaimBuffer(
      this.keys.session(id),
      this.keys.replay(id),
      this.processId,
      Math.ceil(ttlMs),
      this.keys.revokeChannel(''),
      id,
    )
    if (reply === null) return undefined
    const [previous, epoch, fields, list] = reply
    const [peerId, c, l, f, x, r] = fields
    const first = Number(String(f))
    const roomCursors = unpackRooms(r)
    const replay = list.map((buffer, index): StoredEnvelope => {
      const [t, ...d] = packr.unpack(buffer) as [string, unknown?]
      return d.length === 0 ? { t, s: first + index } : { t, d: d[0], s: first + index }
    })
    const record: SessionRecord = {
      id,
      peerId: String(peerId),
      lastClientSeq: Number(String(c)),
      lastServerSeq: Number(String(l)),
      replay,
      lossy: String(x) === '1',
      rooms: Object.keys(roomCursors).filter((room) => room !== '\u0000'),
      roomCursors,
      expiresAt: Infinity,
    }
    return { record, epoch: token(epoch), previousEpoch: token(previous) }
  }

  async commit(
    id: string,
    epoch: number,
    change: SessionChange,
    ttlMs: number,
  ): Promise<CommitResult> {
    if (!this.available()) throw unavailable()
    const args: (string | number | Buffer)[] = [
      this.keys.session(id),
      this.keys.replay(id),
      String(epoch),
      change.lastClientSeq,
      change.acknowledged,
      change.lossy ? '1' : '0',
      change.rooms === undefined ? '' : packRooms(change.rooms),
      Math.ceil(ttlMs),
    ]
    for (const envelope of change.sent) {
      if (envelope.s > change.acknowledged) args.push(envelope.s, packEnvelope(envelope))
    }
    const result = await this.redis.lifelineCommit(...args)
    return result === 1 ? 'ok' : result === 0 ? 'fenced' : 'missing'
  }

  async release(id: string, epoch: number): Promise<void> {
    if (!this.available()) return
    await this.redis.lifelineRelease(this.keys.session(id), this.keys.replay(id), String(epoch))
  }

  async keepAlive(ids: readonly string[], ttlMs: number): Promise<void> {
    const ttl = Math.ceil(ttlMs)
    const pipeline = this.redis.pipeline()
    for (const id of ids) {
      pipeline.pexpire(this.keys.session(id), ttl)
      pipeline.pexpire(this.keys.replay(id), ttl)
    }
    await pipeline.exec()
  }

  onRevoked(listener: (id: string, epoch: number) => void): () => void {
    this.revoked.add(listener)
    return () => this.revoked.delete(listener)
  }

  /** A revocation heard on this process's channel: `"<session id> <token>"`. */
  revoke(message: string): void {
    const at = message.indexOf(' ')
    const id = message.slice(0, at)
    const epoch = Number(message.slice(at + 1))
    for (const listener of this.revoked) listener(id, epoch)
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

/**
 * Rooms and cursors as `[room, cursor]` pairs: any name survives, where a msgpack map read back
 * as an object would rename `__proto__`.
 */
function packRooms(rooms: Record<string, string>): Buffer {
  return packr.pack(Object.entries(rooms))
}

/** `packRooms` read back, as an object without a prototype (a map of earlier versions too). */
function unpackRooms(packed: Buffer | null | undefined): Record<string, string> {
  const result = Object.create(null) as Record<string, string>
  if (packed === null || packed === undefined) return result
  const value = packr.unpack(packed) as [string, string][] | Record<string, string>
  for (const [room, cursor] of Array.isArray(value) ? value : Object.entries(value)) {
    result[room] = cursor
  }
  return result
}
