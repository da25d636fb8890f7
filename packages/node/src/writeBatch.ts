/** A stream whose writes can be held and then sent together, as `net.Socket`'s are. */
export interface Corkable {
  cork(): void
  uncork(): void
  readonly writableCorked?: number
  readonly writableLength?: number
}

/** A stream bytes are gathered for (see `reserve`): a `net.Socket`. */
export interface GatherStream extends Corkable {
  write(chunk: Uint8Array): unknown
  readonly writable: boolean
  readonly destroyed: boolean
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
let turnEnding = false

/**
 * Gathered bytes live in one buffer of the process: the stream at its end (`open`) adds to its
 * region there; a region is written to its stream when the turn ends, when another stream
 * starts one, or before anything else is written to the stream (`writeGathered`). `holders`:
 * streams given bytes of this buffer that may not have handed them to the kernel yet; when none
 * is left, the buffer is used again from its start, so a turn's frames cost no allocation.
 * `stuck`: streams still holding bytes when a turn ended (the peer reads slowly); until they
 * drain they are given copies, so a slow peer keeps what it was sent, not a buffer per turn.
 */
let slab = Buffer.allocUnsafeSlow(0)
let used = 0
let open: GatherStream | undefined
let openStart = 0
const holders = new Set<GatherStream>()
/** Streams given bytes of an earlier buffer this turn: checked with `holders` when it ends. */
const earlierHolders = new Set<GatherStream>()
const stuck = new WeakSet<GatherStream>()

const drained = (stream: GatherStream) => stream.destroyed || !stream.writableLength

function endTurn(): void {
  turnEnding = false
  if (open) closeRegion()
  for (const stream of corkedStreams) stream.uncork()
  corkedStreams.clear()
  for (const stream of earlierHolders) if (!drained(stream)) stuck.add(stream)
  earlierHolders.clear()
  for (const stream of holders)
    if (drained(stream)) holders.delete(stream)
    else stuck.add(stream)
  if (holders.size === 0) used = 0
}

function endOfTurn(): void {
  if (turnEnding) return
  turnEnding = true
  void settled.then(endTurn)
}

/** Writes the open region to its stream (dropped if the stream was ended or destroyed). */
function closeRegion(): void {
  const stream = open as GatherStream
  open = undefined
  if (!stream.writable) return
  const region = slab.subarray(openStart, used)
  if (stuck.has(stream)) {
    if (stream.writableLength) return void stream.write(Buffer.from(region))
    stuck.delete(stream)
  }
  stream.write(region)
  // Taken by the kernel at once (the usual case), or held by the stream for now.
  if (stream.writableLength) holders.add(stream)
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
    endOfTurn()
    corkedStreams.add(stream)
  } else if ((stream.writableLength ?? 0) > maxBatchBytes && corkedStreams.has(stream)) {
    // Ours, and full: write out what it holds; the stream stays corked for the rest of the turn.
    stream.uncork()
    stream.cork()
  }
}

/**
 * Room for up to `maxBytes` (≤ `maxBatchBytes`) more bytes of this turn's writes to `stream`:
 * returns where they go in `gathered()`; `commit` then says where they ended. The stream's
 * gathered bytes leave as one buffer, in one `write`, when the turn ends (or past
 * `maxBatchBytes`). Call `writeGathered` before anything else is written to the stream.
 */
export function reserve(stream: GatherStream, maxBytes: number): number {
  if (open !== stream || used + maxBytes > slab.length) {
    if (open) {
      const full = open === stream
      // Another stream's region ends here: it waits for the turn in its corked stream.
      if (!full) holdWrites(open)
      closeRegion()
      if (full && corkedStreams.has(stream)) {
        // Ours, and full, as in `holdWrites`: what it holds goes now.
        stream.uncork()
        stream.cork()
      }
    }
    if (used + maxBytes > slab.length) {
      for (const holder of holders)
        if (drained(holder)) holders.delete(holder)
        else earlierHolders.add(holder)
      // The old buffer stays with the streams that still hold parts of it; if none does, it is
      // used again from its start.
      if (holders.size > 0 || slab.length === 0) slab = Buffer.allocUnsafeSlow(maxBatchBytes)
      used = 0
      holders.clear()
    }
    open = stream
    openStart = used
    endOfTurn()
  }
  return used
}

/** The buffer `reserve`'s offsets point into: valid until the next `reserve`. */
export const gathered = (): Buffer => slab

/** Ends what was written after `reserve`, at `end`. */
export function commit(end: number): void {
  used = end
}

/** Bytes gathered for `stream` and not yet written to it. */
export const gatheredBytes = (stream: GatherStream): number =>
  open === stream ? used - openStart : 0

/** Writes what was gathered for `stream` now, before something else is written to it. */
export function writeGathered(stream: GatherStream): void {
  if (open === stream) {
    holdWrites(stream)
    closeRegion()
  }
}
