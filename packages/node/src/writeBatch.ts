/** A stream whose writes can be held and then sent together, as `net.Socket`'s are. */
export interface Corkable {
  cork(): void
  uncork(): void
  readonly writableCorked?: number
  readonly writableLength?: number
}

/**
 * Most bytes a turn holds back in one stream: past this, what it holds goes out at once, so a
 * long synchronous loop of sends neither waits for its end nor piles up in memory first.
 */
export const maxBatchBytes = 64 * 1024

/** Streams corked in this turn, uncorked together when it ends. A set: a broadcast corks many. */
const corkedStreams = new Set<Corkable>()

/**
 * Schedules the end of a turn as a promise reaction rather than with `queueMicrotask`: Node's
 * `queueMicrotask` makes an `AsyncResource` for every call, which cost about 0.9 µs of each
 * protocol-mode round trip (one turn on each side), most of what corking a lone frame cost.
 */
const settled = Promise.resolve()

function uncorkAll(): void {
  for (const stream of corkedStreams) stream.uncork()
  corkedStreams.clear()
}

/**
 * Holds the stream's writes until the current turn's synchronous code (and its microtasks) is
 * done, then sends them together in one `writev`. Called before each frame is written: a burst
 * of frames, a queue flush or the answers to one TCP read leave in a few system calls instead of
 * one per frame (`ws` writes every frame on its own), and a lone frame leaves at the end of its
 * turn, before any I/O or timer runs, as it would have anyway. Bytes and order are unchanged.
 *
 * A stream corked by someone else (`ws` itself, a caller) is left alone. Used by the socket on
 * `ws` and by `@lifeline/server` for each connection.
 */
export function holdWrites(stream: Corkable): void {
  if (!stream.writableCorked) {
    stream.cork()
    if (corkedStreams.size === 0) void settled.then(uncorkAll)
    corkedStreams.add(stream)
  } else if ((stream.writableLength ?? 0) > maxBatchBytes && corkedStreams.has(stream)) {
    // Ours, and full: write out what it holds; the stream stays corked for the rest of the turn.
    stream.uncork()
    stream.cork()
  }
}
