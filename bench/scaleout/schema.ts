import type { RpcMethod } from '@lifeline/core'
import { roundsFrom } from '../lib/samples.js'

// What the scale-out benchmark's processes share: the servers compared, the message they pass
// and the application both sides implement (join a room, say something to it, get it back).

/** The servers compared. `lifeline-local` is one process without Redis: a harness check only. */
export const serverKinds = [
  'socketio-pubsub',
  'socketio-streams',
  'lifeline-redis',
  'lifeline-local',
] as const
export type ServerKind = (typeof serverKinds)[number]

export const serverLabels: Record<ServerKind, string> = {
  'socketio-pubsub': 'socket.io + @socket.io/redis-adapter (pub/sub)',
  'socketio-streams': 'socket.io + @socket.io/redis-streams-adapter',
  'lifeline-redis': 'Lifeline on Redis',
  'lifeline-local': 'Lifeline, ONE process, no Redis (harness check, not scale-out)',
}

/** One chat message; `at` is the sender's wall clock, so a receiver computes the latency. */
export interface Say {
  room: string
  /** The sender's number in its load process. */
  from: number
  /** The sender's message number, from 0. */
  n: number
  /** `wallClockMs()` when sent. */
  at: number
  /** Padding to a ~100-byte message, as the other benchmarks send. */
  pad: string
}

export const pad = 'x'.repeat(48)

/**
 * Room history kept in Redis, by socket.io's streams adapter (one stream for everything) and by
 * Lifeline (one stream per room): above every scenario's message count, so neither drops what
 * the resume needs.
 */
export const historyLength = 200_000

/** The Lifeline application: a `join` request, `say` from clients, `msg` to room members. */
export interface ChatSchema {
  client: { say: Say }
  server: { msg: Say }
  rpc: { join: RpcMethod<{ room: string }, null> }
}

/** What a server process prints last when its parent lets it go. */
export interface ServerReport {
  /** CPU µs (user + system) since it listened. */
  cpuUs: number
}

/** The scenarios' sizes: the issue's by default, smaller from the environment for a quick run. */
export function scenarioSizes() {
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
  const warmUp = env('SCALEOUT_WARMUP', 0.2)
  if (!(warmUp >= 0)) throw new Error(`SCALEOUT_WARMUP must be a number ≥ 0, not ${warmUp}`)
  return {
    fanOutMembers: env('SCALEOUT_FANOUT_MEMBERS', 1_000),
    fanOutMessages: env('SCALEOUT_FANOUT_MESSAGES', 100),
    /** Messages in flight: the next is sent when the oldest reached every member. */
    fanOutWindow: env('SCALEOUT_FANOUT_WINDOW', 4),
    /** Messages each chat member sends. */
    chatMessages: env('SCALEOUT_CHAT_MESSAGES', 10),
    history: env('SCALEOUT_HISTORY', 10_000),
    sessionCount: env('SCALEOUT_SESSIONS', 1_000),
    timeoutMs: env('SCALEOUT_TIMEOUT_MS', 120_000),
    /** The warm-up round's share of the measured round's messages (fan-out and chat). */
    warmUpShare: warmUp,
    /**
     * Rounds of fan-out and chat, the kinds taking turns in each: the table gives each kind's
     * median round and the ratio of each round's pair, so that one noisy run (a 2-core machine
     * moves by ±15 % from run to run) neither makes nor breaks a ratio.
     */
    rounds: roundsFrom('SCALEOUT_ROUNDS', 5),
  }
}
