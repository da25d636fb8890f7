import type { Envelope, ReliableStream } from '@lifeline/core/protocol'
import type { StoredEnvelope } from './sessionStore.js'

/** The part of a ReliableStream a session record holds. */
export interface StreamState {
  lastProcessed: number
  lastSent: number
  replay: StoredEnvelope[]
  lossy: boolean
}

/**
 * WORK-AROUND: `ReliableStream` (core/protocol) has no public way to export its state or to
 * start from a saved one, which a session store needs. Until it has (`snapshot()` and a
 * `restore(state)`), these two functions reach its `nextSeq` and `unacked` fields. The shape is
 * checked at run time, so a change in core fails loudly here instead of losing messages.
 */
interface StreamInternals {
  nextSeq: number
  unacked: {
    push(item: Envelope, size: number): readonly Envelope[]
    drain(): Envelope[]
  }
}

function internals(stream: ReliableStream): StreamInternals {
  const inner = stream as unknown as Partial<StreamInternals>
  if (
    typeof inner.nextSeq !== 'number' ||
    typeof inner.unacked?.push !== 'function' ||
    typeof inner.unacked.drain !== 'function'
  ) {
    throw new Error('ReliableStream has changed shape: update streamState.ts')
  }
  return inner as StreamInternals
}

/** Copies what a stream holds (the replay envelopes too: a live stream rewrites their `a`). */
export function snapshotStream(stream: ReliableStream): StreamState {
  const { unacked } = internals(stream)
  const all = unacked.drain()
  const replay: StoredEnvelope[] = []
  for (const envelope of all) {
    unacked.push(envelope, 0)
    replay.push({ t: envelope.t, d: envelope.d, s: envelope.s as number })
  }
  return {
    lastProcessed: stream.lastProcessed,
    lastSent: stream.lastSent,
    replay,
    lossy: stream.lossy,
  }
}

/** Loads a saved state into a fresh stream. */
export function restoreStream(stream: ReliableStream, state: StreamState): void {
  const inner = internals(stream)
  stream.lastProcessed = state.lastProcessed
  stream.lossy = state.lossy
  inner.nextSeq = state.lastSent + 1
  for (const envelope of state.replay)
    inner.unacked.push({ t: envelope.t, d: envelope.d, s: envelope.s }, 0)
}
