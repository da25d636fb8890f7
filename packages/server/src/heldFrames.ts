import { readSliceBytes } from './readSlices.js'

/**
 * The smallest store allocated: one slice of a socket read (`readSliceBytes`), what a connection
 * whose reading pauses holds at most of it; a store grows by doubling past that. A connection
 * in line holds frames, and lets them go, many times a second: with a store of a whole TCP read
 * (64 KiB) each time, a hundred clients flooding small frames had the server allocate some
 * 100 MB a second of buffers mostly empty, memory outside the JavaScript heap that started a
 * full collection every few hundred milliseconds.
 */
const minStoreBytes = readSliceBytes

/**
 * Frames read and not handled yet, in order, with their bytes copied one after the other into
 * one buffer. A connection that floods small frames has `ws` parse a whole TCP read (over a
 * thousand frames) at once, and waits for its turns to have them handled: kept as a `Buffer`
 * each, they would be that many objects for the collector to copy at each minor collection,
 * for as many turns. A store is written once and never reused, so a frame handed out (or a view
 * of it that a decoder kept) stays as it was.
 */
export class HeldFrames {
  private store: Buffer | undefined
  /** Bytes of `store` in use. */
  private used = 0
  /** Per frame, where it ends in `store`, times 2, plus 1 for a binary frame. */
  private ends: number[] = []
  /** The first frame not taken yet. */
  private next = 0

  get size(): number {
    return this.ends.length - this.next
  }

  push(data: Buffer, isBinary: boolean): void {
    const end = this.used + data.length
    let store = this.store
    if (store === undefined || end > store.length) {
      // Only the frames not taken yet move: those taken keep the old store alive if needed.
      const from = this.next === 0 ? 0 : this.endOf(this.next - 1)
      // Twice what is held with this frame: a size that follows what is held, not all that went
      // through a store never emptied (a connection that keeps a frame or two in line).
      const grown = Buffer.allocUnsafeSlow(
        Math.max(2 * (this.used - from + data.length), minStoreBytes),
      )
      if (store !== undefined) store.copy(grown, 0, from, this.used)
      this.shift(from)
      store = this.store = grown
    }
    data.copy(store, this.used)
    this.used += data.length
    this.ends.push(this.used * 2 + (isBinary ? 1 : 0))
  }

  /**
   * Calls `each` with the frames in order while `more()` says so, taking each. A frame pushed
   * meanwhile (by `each`) is taken in its turn too.
   */
  take(each: (data: Buffer, isBinary: boolean) => void, more: () => boolean): void {
    // Fields, not locals: a push during `each` may move what is left to a new store.
    while (this.next < this.ends.length && more()) {
      const start = this.next === 0 ? 0 : this.endOf(this.next - 1)
      const entry = this.ends[this.next++] as number
      each((this.store as Buffer).subarray(start, Math.floor(entry / 2)), entry % 2 === 1)
    }
    if (this.next === this.ends.length && this.store !== undefined) this.clear()
  }

  private clear(): void {
    this.store = undefined
    this.used = 0
    this.ends = []
    this.next = 0
  }

  private endOf(index: number): number {
    return Math.floor((this.ends[index] as number) / 2)
  }

  /** The frames not taken yet start at `from`: they move to the start of a new store. */
  private shift(from: number): void {
    if (from === 0 && this.next === 0) return
    const rest = this.ends.slice(this.next)
    for (let i = 0; i < rest.length; i++) rest[i] = (rest[i] as number) - 2 * from
    this.ends = rest
    this.used -= from
    this.next = 0
  }
}
