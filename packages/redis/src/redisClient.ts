import { holdWrites } from '@lifeline/node'
import type { Redis } from 'ioredis'
import {
  claimScript,
  createScript,
  generationScript,
  joinScript,
  leaveScript,
  reapScript,
  releaseScript,
  writeScript,
} from './scripts.js'

type Arg = string | number | Buffer

/** The scripts as commands of the client (ioredis sends EVALSHA, and EVAL after a NOSCRIPT). */
export interface ScriptCommands {
  lifelineCreate(...args: Arg[]): Promise<string | number>
  /**
   * The claim, the token of an owner asked to hand the session over, how long Redis is still
   * refilled (ms: no session yet) or null (no session).
   */
  lifelineClaimBuffer(...args: Arg[]): Promise<ClaimReply | Buffer | number | null>
  lifelineRelease(...args: Arg[]): Promise<number>
  lifelineWrite(...args: Arg[]): Promise<WriteReply>
  lifelineJoin(...args: Arg[]): Promise<number>
  lifelineLeave(...args: Arg[]): Promise<number>
  lifelineReap(...args: Arg[]): Promise<number>
  lifelineGeneration(...args: Arg[]): Promise<string>
}

/**
 * `writeScript`'s reply: the send that failed (from 1, 0 for none), its error, the commits'
 * error ('' for none), the commits' results.
 */
export type WriteReply = [number, string, string, number[]]

/** `claimScript`'s reply, every string as a Buffer. */
export type ClaimReply = [Buffer, Buffer, (Buffer | null)[], Buffer[]]

/** Each script and its number of keys. */
const definitions = {
  lifelineCreate: [1, createScript],
  lifelineClaim: [1, claimScript],
  lifelineRelease: [2, releaseScript],
  lifelineWrite: [0, writeScript],
  lifelineJoin: [4, joinScript],
  lifelineLeave: [3, leaveScript],
  lifelineReap: [2, reapScript],
  lifelineGeneration: [2, generationScript],
} as const

/** Defines the scripts on the application's client (idempotent) and returns it typed with them. */
export function withScripts(redis: Redis): Redis & ScriptCommands {
  const defined = redis as Redis & Partial<ScriptCommands>
  if (typeof defined.lifelineWrite !== 'function') {
    for (const [name, [numberOfKeys, lua]] of Object.entries(definitions)) {
      redis.defineCommand(name, { numberOfKeys, lua })
    }
  }
  return redis as Redis & ScriptCommands
}

/** Whether the client can run a command now (not connecting, reconnecting or closed). */
export function isReady(redis: Redis): boolean {
  return redis.status === 'ready'
}

/**
 * Holds the client's writes to Redis until the end of the turn (`holdWrites` of
 * `@lifeline/node`): the commands of one turn (the iteration's write of room sends and commits,
 * the joins of a burst) leave in one system call, not one each. A client that is not connected
 * queues its commands itself.
 */
export function batchWrites(redis: Redis): void {
  if (redis.status === 'ready') holdWrites(redis.stream)
}

/**
 * Resolves once `redis` is ready: at once if it is. Never rejects: ioredis' `'error'`s on the
 * way are its reconnections'.
 */
export function readyOf(redis: Redis): Promise<void> {
  if (isReady(redis)) return Promise.resolve()
  return new Promise((resolve) => redis.once('ready', () => resolve()))
}
