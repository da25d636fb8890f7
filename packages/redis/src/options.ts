import { LifelineError } from '@lifeline/codec'
import { maxTimerMs } from '@lifeline/core/protocol'
import type { Redis } from 'ioredis'

export interface RedisClusterOptions {
  /**
   * The application's ioredis client. The cluster runs its commands on it (defining its Lua
   * scripts on it) and never closes it.
   */
  redis: Redis
  /**
   * A second connection for pub/sub (a subscribed connection runs nothing else). Closed by the
   * cluster only when it made it.
   * @default redis.duplicate()
   */
  subscriber?: Redis | undefined
  /**
   * Prefix of every key and channel: several clusters may share one Redis (or use a database
   * each: the channels' names carry a database other than 0).
   * @default 'lifeline:'
   */
  prefix?: string | undefined
  /**
   * Room messages kept per room (and for the broadcast) for members that were away: `XADD
   * MAXLEN ~`, so a little more may be kept. A member further behind gets a `'room:reset'`.
   * @default 1000
   */
  historyLength?: number | undefined
  /**
   * A room's history is dropped when no message was sent to it for this long.
   * @default 86400000 (a day)
   */
  historyTtlMs?: number | undefined
  /**
   * How long the id of a room send (`{ id }`, e.g. the `info.id` of the client message that
   * caused it) is remembered to drop a second send with the same id. (A write sent again after
   * its reply was lost stores none of its sends twice: Redis keeps each process's last send per
   * room for `historyTtlMs`, or this if longer, from that send.)
   * @default 600000 (10 minutes)
   */
  dedupeTtlMs?: number | undefined
  /**
   * How often this process tells Redis it is alive, and cleans up after dead processes.
   * @default 1000
   */
  heartbeatMs?: number | undefined
  /**
   * A process silent for this long is dead: its members leave their rooms (presence).
   * @default 5000
   */
  processTtlMs?: number | undefined
  /**
   * Bytes of room messages kept while Redis is away (sent when it is back), or gathered while
   * a write with room sends waits for its reply; past it a room send or broadcast throws
   * `QUEUE_FULL`. Each counts with 256 B for what it holds beside its payload. Unreliable ones
   * (`reliable: false`) are not kept: dropped while Redis is away.
   * @default 1048576 (1 MiB)
   */
  maxPendingBytes?: number | undefined
  /**
   * How long a resume waits for the process that holds the session, while that process is
   * alive, to store what it processed and let go (a handoff). A process that is dead (not
   * subscribed any more, or silent for `processTtlMs`) is not waited for, nor one that dies
   * meanwhile (checked every 250 ms); one alive that does not answer in time is treated as one
   * that crashed: a client message it processed and had not stored is processed again, with the
   * same id. This process waits as long for its own write of a session that Redis does not
   * answer (it stalls): in a handoff, it then lets the session go as if it had crashed; in a
   * resume of a session it holds, the client is refused with 1013 and tries again. And a resume
   * looks this long (every 250 ms) for a session missing while Redis is refilled after it lost
   * its data, for the process that holds it to store it again, before it counts as none.
   * @default 5000
   */
  handoffTimeoutMs?: number | undefined
}

export const redisClusterDefaults = {
  prefix: 'lifeline:',
  historyLength: 1_000,
  historyTtlMs: 86_400_000,
  dedupeTtlMs: 600_000,
  heartbeatMs: 1_000,
  processTtlMs: 5_000,
  maxPendingBytes: 1_048_576,
  handoffTimeoutMs: 5_000,
} as const

export interface ResolvedOptions {
  prefix: string
  historyLength: number
  historyTtlMs: number
  dedupeTtlMs: number
  heartbeatMs: number
  processTtlMs: number
  maxPendingBytes: number
  handoffTimeoutMs: number
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `${name} must be a positive integer, got ${String(value)}`,
    )
  }
  return value
}

/**
 * A positive whole number of milliseconds that a timer can wait (`maxTimerMs`, about 24.8 days,
 * at most): Node fires a longer `setTimeout` or `setInterval` after 1 ms, so a heartbeat of 30
 * days would write to Redis every millisecond.
 */
function timerDelay(name: string, value: number): number {
  positiveInteger(name, value)
  if (value > maxTimerMs) {
    throw new LifelineError('INVALID_ARGUMENT', `${name} must be at most ${maxTimerMs} ms`)
  }
  return value
}

/** Refuses a client the cluster cannot work with, rather than failing on it later. */
function checkClient(name: string, redis: Redis): void {
  // Closed by `quit()` or `disconnect()`: ioredis never connects it again, so the cluster
  // would run without Redis for good, its sessions never stored.
  if (redis.status === 'end') {
    throw new LifelineError('INVALID_ARGUMENT', `\`${name}\` is closed`)
  }
}

export function resolveOptions(options: RedisClusterOptions): ResolvedOptions {
  if (typeof options?.redis?.defineCommand !== 'function') {
    throw new LifelineError('INVALID_ARGUMENT', '`redis` must be an ioredis client')
  }
  // An ioredis `Cluster` has the same API; its scripts, which touch keys of several slots,
  // would each fail with CROSSSLOT once sessions were served.
  if ((options.redis as { isCluster?: boolean }).isCluster === true) {
    throw new LifelineError('INVALID_ARGUMENT', 'Redis Cluster is not supported')
  }
  checkClient('redis', options.redis)
  // ioredis prefixes the keys a script is given, not those it builds from its arguments (most
  // of them): a session stored under one name was written under another, fenced at every
  // write, and its client moved (1012) and its messages processed again, in a loop.
  if (options.redis.options?.keyPrefix) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      '`redis` must have no keyPrefix: give it to the cluster as `prefix`',
    )
  }
  if (options.subscriber !== undefined) {
    if (typeof options.subscriber?.subscribe !== 'function') {
      throw new LifelineError('INVALID_ARGUMENT', '`subscriber` must be an ioredis client')
    }
    // Over RESP2 (ioredis 5, or `protocol: 2`) a subscribed connection runs nothing else: every
    // script, heartbeat and read failed, and no session was ever stored. RESP3 (ioredis 6's
    // default) runs commands beside the subscriptions.
    if (options.subscriber === options.redis && options.redis.options?.protocol !== 3) {
      throw new LifelineError('INVALID_ARGUMENT', '`subscriber` must be a connection of its own')
    }
    checkClient('subscriber', options.subscriber)
  }
  const d = redisClusterDefaults
  const heartbeatMs = timerDelay('heartbeatMs', options.heartbeatMs ?? d.heartbeatMs)
  const processTtlMs = positiveInteger('processTtlMs', options.processTtlMs ?? d.processTtlMs)
  if (processTtlMs <= heartbeatMs) {
    throw new LifelineError('INVALID_ARGUMENT', 'processTtlMs must be longer than heartbeatMs')
  }
  return {
    prefix: options.prefix ?? d.prefix,
    historyLength: positiveInteger('historyLength', options.historyLength ?? d.historyLength),
    historyTtlMs: positiveInteger('historyTtlMs', options.historyTtlMs ?? d.historyTtlMs),
    dedupeTtlMs: positiveInteger('dedupeTtlMs', options.dedupeTtlMs ?? d.dedupeTtlMs),
    heartbeatMs,
    processTtlMs,
    maxPendingBytes: positiveInteger(
      'maxPendingBytes',
      options.maxPendingBytes ?? d.maxPendingBytes,
    ),
    handoffTimeoutMs: timerDelay(
      'handoffTimeoutMs',
      options.handoffTimeoutMs ?? d.handoffTimeoutMs,
    ),
  }
}
