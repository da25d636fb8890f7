import {
  compareRoomIds,
  isRoomId,
  isRoomName,
  maxRoomCursors,
  protocolError,
} from '@lifeline/core/protocol'

/**
 * A session's cursors in its rooms (with a cluster). Per room: the id of the last room message
 * delivered (what the cluster's feed goes by), the cursor the store keeps (where a resume goes
 * on from), and the last one the client acknowledged. Maps: any room name, `__proto__`
 * included, is a plain key.
 *
 * Room messages numbered in the session keep the stored cursor at the delivered one (the
 * commit that stores the envelope stores the cursor). Numbered by their room (`r`, PROTOCOL.md
 * 5.1), the stored cursor is what the client acknowledged, or where the member was placed or
 * reset: a message delivered but not acknowledged may not have arrived.
 */
export class RoomCursors {
  readonly delivered = new Map<string, string>()
  readonly stored = new Map<string, string>()
  private readonly acked = new Map<string, string>()
  /**
   * Numbered by their room: the last message given to the client (not skipped). What follows it
   * up to `delivered` was skipped (the sender's own), so once the client has acknowledged it
   * the stored cursor may go past the skipped ones: else a member that only sends would keep
   * its cursor where it joined, and a resume after the history was trimmed would reset it.
   */
  private readonly given = new Map<string, string>()

  /** A restored session's stored cursors (`''`: none yet). */
  restore(cursors: Readonly<Record<string, string>>): void {
    for (const [room, id] of Object.entries(cursors)) {
      if (id === '') continue
      this.delivered.set(room, id)
      this.stored.set(room, id)
    }
  }

  /** The session left `room`. */
  forget(room: string): void {
    this.delivered.delete(room)
    this.stored.delete(room)
    this.acked.delete(room)
    this.given.delete(room)
  }

  /**
   * The cursor moved without a delivery: a placement, or a message skipped (the sender's own).
   * Returns whether the stored cursor changed. Numbered by their room, a skip does not move it:
   * the client may not have acknowledged what came before.
   */
  move(room: string, id: string, roomIds: boolean): boolean {
    this.delivered.set(room, id)
    const stored = this.stored.get(room)
    const given = this.given.get(room)
    // Numbered by their room, a skip moves the stored cursor only when the client acknowledged
    // every message it was given before it.
    if (
      roomIds &&
      stored !== undefined &&
      given !== undefined &&
      compareRoomIds(given, stored) > 0
    ) {
      return false
    }
    this.stored.set(room, id)
    return true
  }

  /** Delivered: numbered in the session, the stored cursor moves with it. */
  deliver(room: string, id: string, numbered: boolean): void {
    this.delivered.set(room, id)
    if (numbered) this.stored.set(room, id)
    else this.given.set(room, id)
  }

  /** The room's history does not reach back: a resume must not look for what it lacks again. */
  reset(room: string, id: string): void {
    this.delivered.set(room, id)
    this.stored.set(room, id)
  }

  /**
   * A resume (numbered by their room): each room goes on from its stored cursor, since what went
   * to the old link may not have arrived. Returns the rooms whose cursor went back.
   */
  rewind(): string[] {
    const rewound: string[] = []
    for (const [room, id] of this.stored) {
      const cursor = this.delivered.get(room)
      if (cursor === undefined || compareRoomIds(id, cursor) >= 0) continue
      this.delivered.set(room, id)
      rewound.push(room)
    }
    return rewound
  }

  /**
   * The client's cursors, a `$ack`'s `d`: `{ r: [[room, id], …] }`. Each may only go forward,
   * and never past what was delivered; a room the session is not in (it left meanwhile) is
   * skipped. Returns whether a stored cursor moved. Throws a protocol violation.
   */
  acknowledge(d: unknown): boolean {
    const pairs = (d as { r?: unknown } | null)?.r
    if (
      typeof d !== 'object' ||
      d === null ||
      Object.keys(d as object).length !== 1 ||
      !Array.isArray(pairs) ||
      pairs.length > maxRoomCursors
    ) {
      throw protocolError('$ack `d` must be { r: [[room, id], …] }')
    }
    let moved = false
    for (const pair of pairs as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || !isRoomName(pair[0]) || !isRoomId(pair[1])) {
        throw protocolError('a room cursor is [room, id]')
      }
      const [room, id] = pair as [string, string]
      const delivered = this.delivered.get(room)
      if (delivered === undefined) continue
      if (compareRoomIds(id, delivered) > 0) {
        throw protocolError(`a room cursor past what was sent (${id} > ${delivered})`)
      }
      const acked = this.acked.get(room)
      if (acked !== undefined && compareRoomIds(id, acked) < 0) {
        throw protocolError(`a room cursor that goes back (${id} < ${acked})`)
      }
      this.acked.set(room, id)
      // The last message given acknowledged: what was skipped since is the client's too.
      const to = id === this.given.get(room) ? delivered : id
      const stored = this.stored.get(room)
      if (stored === undefined || compareRoomIds(to, stored) > 0) {
        this.stored.set(room, to)
        moved = true
      }
    }
    return moved
  }
}
