/**
 * What the network benchmarks send and to which servers: the ~100-byte message, its Lifeline
 * schema, and the kinds and modes of `benchServer.ts`. No runtime dependencies, so a client
 * process that imports it loads no server code.
 */
import type { RpcMethod } from '@lifeline/core'

/** The ~100-byte message every network benchmark sends (about 100 bytes as a JSON frame). */
export interface BenchMessage {
  n: number
  text: string
  at: number
}

export const benchText = 'x'.repeat(50)

/** The Lifeline schema of the benchmarks. */
export interface BenchSchema {
  client: { m: BenchMessage }
  server: { m: BenchMessage; done: { n: number } }
  rpc: { echo: RpcMethod<BenchMessage, BenchMessage> }
}

/**
 * `ws`: a plain `ws` server, JSON text frames `{ t, d }`; `lifeline`: `@lifeline/server`,
 * protocol mode, json codec; `socketio`: socket.io, websocket transport only.
 */
export type ServerKind = 'ws' | 'lifeline' | 'socketio'

/**
 * `sink` counts `m` messages and answers `done` after the `count`-th of a connection; `echo`
 * decodes every `m` message and sends it back; `push`, on a connection's first `m` message,
 * sends it `count` `m` messages whose `text` is of the size given (`pushMessage`).
 */
export type ServerMode = 'sink' | 'echo' | 'push'

/** A bench message whose JSON frame is about `bytes` bytes (at least the ~100-byte one). */
export function benchMessage(n: number, bytes: number, at: number): BenchMessage {
  return { n, text: bytes > 100 ? 'x'.repeat(bytes - 50) : benchText, at }
}

/**
 * Messages a `push` server, or a client sending `bytes`-byte messages, writes in one event-loop
 * turn: about 512 KiB, as an application producing a stream would, letting I/O (and so the
 * acknowledgements) through between slices.
 */
export function sliceOf(bytes: number): number {
  return bytes > 100 ? Math.max(1, Math.floor((512 * 1024) / bytes)) : 500
}
