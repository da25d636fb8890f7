import type { Duplex } from 'node:stream'

/**
 * What `ws` is given of a socket read at a time: about a hundred small frames, some 0.1 ms of
 * parsing.
 */
export const readSliceBytes = 4096

type DataListener = (this: Duplex, chunk: unknown) => void

/** Marks a listener this module made, so a socket is never wrapped twice. */
const slicing = Symbol('readInSlices')

/**
 * Has `transport`'s one `'data'` listener (`ws`'s) parse each socket read a slice at a time,
 * and stop once reading is paused: the rest goes back to the front of the socket's buffer
 * (`unshift`), read first when it resumes, and read by `ws` as any buffered data when the
 * socket closes. `ws` parses the whole of a read it is given, however often the connection
 * pauses meanwhile: a client that floods small frames had a TCP read of some 1,600 frames
 * parsed at once (over a millisecond) whenever it was read, a hundred of them in one turn when
 * a hundred connected together, and the frames past the connection's share of the turn kept
 * for later turns. Any split of a read is one TCP could have made. `mayParse`, given the size of
 * a read before any of it is parsed, may pause the socket and return false: the whole read then
 * goes back, parsed when the socket resumes (a connection that floods, read once the turn's
 * work is spent, costs the turn nothing). Returns false, and leaves the
 * socket as it is, if it has not exactly one `'data'` listener; true if it reads in slices
 * (already, or now). The rest of a read is held back only while `ws`'s is the one listener:
 * another one, added later, got the whole read and must not see its rest again.
 */
export function readInSlices(transport: Duplex, mayParse?: (bytes: number) => boolean): boolean {
  const listeners = transport.rawListeners('data')
  if (listeners.length !== 1) return false
  const listener = listeners[0] as DataListener & { [slicing]?: true }
  // Wrapping the wrapper would hide `ws`'s listener from its own `removeListener`.
  if (listener[slicing] === true) return true
  const parse = listener
  const sliced = function (this: Duplex, chunk: unknown): void {
    if (!(chunk instanceof Buffer)) {
      parse.call(this, chunk)
      return
    }
    if (mayParse !== undefined && !mayParse(chunk.length)) {
      // Not read in this turn (its connection waits in line, the socket paused): all of it
      // goes back, untouched, unless another listener had it already.
      if (this.listenerCount('data') === this.listenerCount('data', parse) && this.isPaused()) {
        this.unshift(chunk)
        return
      }
    }
    if (chunk.length <= readSliceBytes) {
      parse.call(this, chunk)
      return
    }
    let offset = 0
    while (offset < chunk.length) {
      const end = Math.min(chunk.length, offset + readSliceBytes)
      parse.call(this, chunk.subarray(offset, end))
      offset = end
      if (offset === chunk.length) return
      // Destroyed (`terminate()` in a handler): nothing more is parsed, nor kept.
      if (this.destroyed) return
      // Paused (the connection waits in line, or `ws` is behind), or no longer read at all
      // (`ws` removed its listener: an error, a close): the rest waits in the socket, unless
      // another listener, which had the whole read, would get it again. (`listenerCount` with a
      // listener counts the wrapper that names it: no array per slice.)
      const others = this.listenerCount('data') - this.listenerCount('data', parse)
      if (others === 0 && (this.isPaused() || this.listenerCount('data', parse) === 0)) {
        this.unshift(chunk.subarray(offset))
        return
      }
      // Read by another listener too: `ws` gets the rest of the read at once, as without slices.
      if (others > 0) {
        if (this.listenerCount('data', parse) > 0) parse.call(this, chunk.subarray(offset))
        return
      }
    }
  }
  // `ws` removes its listener by its own name (on a frame it refuses, on a close): so it removes
  // this one, as it does a `once` wrapper.
  Object.defineProperty(sliced, 'listener', { value: parse })
  Object.defineProperty(sliced, slicing, { value: true })
  transport.removeListener('data', parse)
  transport.on('data', sliced)
  return true
}
