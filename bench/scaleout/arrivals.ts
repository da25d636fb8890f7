// What one receiver of the scale-out benchmark makes of each message it gets: a sender's next,
// one that came after a later one of its sender (late), or one it has had already (duplicate).

/**
 * How a message arrived at one receiver: `new` in order (or past a gap), `late` after a later
 * one of the same sender, `duplicate` when it had come before.
 */
export type Arrival = 'new' | 'late' | 'duplicate'

/** Each sender's message numbers (from 0) as one receiver sees them. */
export class Arrivals {
  private readonly highest = new Map<number, number>()
  /**
   * Per sender, the numbers below its highest that have not come: a message under the highest
   * is late if it is among them, a duplicate if not. Only gaps are kept, so memory stays small
   * while messages come in order.
   */
  private readonly missing = new Map<number, Set<number>>()

  arrive(from: number, n: number): Arrival {
    const highest = this.highest.get(from) ?? -1
    if (n > highest) {
      if (n > highest + 1) {
        const missing = this.missing.get(from) ?? new Set<number>()
        for (let gap = highest + 1; gap < n; gap++) missing.add(gap)
        this.missing.set(from, missing)
      }
      this.highest.set(from, n)
      return 'new'
    }
    return this.missing.get(from)?.delete(n) === true ? 'late' : 'duplicate'
  }
}
