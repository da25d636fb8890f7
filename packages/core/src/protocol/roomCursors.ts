import type { Clock, TimerHandle } from '../clock.js'
import { utf8ByteLength } from '../utf8.js'
import type { Envelope, RoomRef } from './envelope.js'
import { compareRoomIds, maxCursorAckBytes, protocolError } from './envelope.js'

/** Most rooms a client keeps a cursor for (PROTOCOL.md, section 5). */
export const maxRoomCursors = 10_000
/** Most bytes of room names and ids a client keeps cursors of. */
export const maxRoomCursorBytes = 1_048_576

/**
 * How often the client acknowledges room cursors: `cursorAckDelayMs` after the first room message
 * since the last acknowledgement, or at once after `cursorAckEvery` of them. Slower than the
 * session's own `a` on purpose: a room frame's output is bounded without it (PROTOCOL.md, 5.1),
 * the server stores cursors lazily (within a second) anyway, and a stale one costs only
 * duplicates the client drops. At the session's cadence, a member of a busy room sent one `$ack`
 * per 20 ms, as many inbound frames as a server of 1,000 members could take; at 500 ms, a
 * thousand members of a busy room still spent about 8 % of the process that ran them on these
 * acknowledgements (each a write of its own), and their servers read as many frames: every 2 s
 * is a quarter of that, for a resume that goes back about 1.5 s further. At most 256 messages
 * behind, though: the server's stored cursor trails the client's by what is unacknowledged plus
 * a second's lazy write, and a room's history (1,000 messages by default) must still reach back
 * that far for a resume not to reset the room: 256 + a second's messages stay under it up to
 * some 740 messages a second in one room (at 1,024 and 500 ms it was some 660).
 */
export const cursorAckDelayMs = 2_000
export const cursorAckEvery = 256

/**
 * How long a cursor must have stood still before a new room may take its place when the client
 * is at its bound: a server sends again only what is after the cursor it stored, which trails
 * the client's by its acknowledgement (`cursorAckDelayMs`) and its lazy write (a second), so a
 * cursor a minute old can no longer let a duplicate through. A session that goes through more
 * rooms than the bound over its life (joined and left, one at a time) so goes on.
 */
export const cursorIdleMs = 60_000

/** What a cursor costs beyond its room name: the longest id and the map's own share. */
const cursorOverheadBytes = 64

export interface RoomCursorsOptions {
  clock: Clock
  /** Sends a `$ack` (with room cursors as `d`). Called only while the link is up. */
  transmit(envelope: Envelope): void
  /** The largest frame the server accepts now (from `$welcome`), if it said. */
  serverMax(): number | undefined
  ackEvery: number
  ackDelayMs: number
}

/**
 * The client's side of room messages numbered by their room (PROTOCOL.md, section 5): per room,
 * the id of the last message delivered, so that one the server sends again (a resume from a
 * stale stored cursor) is dropped; and the acknowledgement of the cursors that advanced, on the
 * cadence of their own (`cursorAckDelayMs`, `cursorAckEvery`). Bounded in rooms and bytes, idle
 * cursors forgotten to make room (`cursorIdleMs`).
 */
export class RoomCursors {
  readonly #options: RoomCursorsOptions
  /** A `Map`: any room name, `__proto__` included, is a plain key. */
  #cursors = new Map<string, Cursor>()
  #bytes = 0
  /** The room whose cursor moved last: the map's last entry, and its cursor. */
  #last: string | undefined
  #lastCursor: Cursor | undefined
  /**
   * Cursors that advanced on this link and were not acknowledged yet, by room: each is
   * acknowledged at its id when they are, the last delivered (or the one a resume sent again).
   */
  #owed = new Map<string, Cursor>()
  /** Counts the batches of `#owed`: a cursor in the current one has `owedIn === #batch`. */
  #batch = 0
  #arrivals = 0
  #timer: TimerHandle | undefined
  /** Counts links: a cursor acknowledged on this one has `ackedOn === #link`. */
  #link = 0

  constructor(options: RoomCursorsOptions) {
    this.#options = options
  }

  /**
   * A room message arrived: true to deliver it, false for a duplicate (its id is not past the
   * room's cursor). Throws `PROTOCOL_ERROR` past the bound of rooms or bytes when no cursor has
   * been idle for `cursorIdleMs`.
   *
   * A client in a busy room calls this for every message: a message of the room the last one
   * came from costs no map lookup, and none costs a clock read: a cursor's `movedAt` is stamped
   * when the batch it moved in ends (`#endBatch`), and one that moved in this batch is not idle.
   */
  arrive(ref: RoomRef): boolean {
    const room = ref[0]
    const id = ref[1]
    const cursors = this.#cursors
    const batch = this.#batch
    const last = room === this.#last
    const cursor = last ? this.#lastCursor : cursors.get(room)
    if (cursor !== undefined && compareRoomIds(id, cursor.id) <= 0) {
      // A resume sends again from the cursor the server stored, up to the client's: the last of
      // these is the cursor itself. Acknowledged once on this link, so that the stored cursor
      // catches up even if what was owed on the last link was lost with it and the room stays
      // quiet (a cursor left behind would be sent again on every resume, and could be forgotten
      // as idle while the server's lags).
      if (id === cursor.id && cursor.ackedOn !== this.#link && cursor.owedIn !== batch) {
        this.#owe(room, cursor)
        this.#startTimer()
      }
      return false
    }
    if (cursor === undefined) {
      const now = this.#options.clock.now()
      this.#admit(room, now)
      // Stamped now: the clock was read anyway.
      const added: Cursor = { id, movedAt: now, ackedOn: -1, owedIn: -1, movedIn: -1 }
      cursors.set(room, added)
      this.#last = room
      this.#lastCursor = added
      this.#owe(room, added)
    } else {
      cursor.id = id
      // The map's order is the order the cursors last moved in: one that moves again while it
      // is the last (a client in one busy room, every message) stays where it is.
      if (!last) {
        cursors.delete(room)
        cursors.set(room, cursor)
        this.#last = room
        this.#lastCursor = cursor
      }
      if (cursor.movedIn !== batch) {
        cursor.movedIn = batch
        if (cursor.owedIn !== batch) this.#owe(room, cursor)
      }
    }
    if (++this.#arrivals >= this.#options.ackEvery) this.flush()
    else this.#startTimer()
    return true
  }

  #owe(room: string, cursor: Cursor): void {
    cursor.owedIn = this.#batch
    this.#owed.set(room, cursor)
  }

  #startTimer(): void {
    if (this.#timer === undefined) {
      this.#timer = this.#options.clock.setTimeout(this.flush, this.#options.ackDelayMs)
    }
  }

  /**
   * Ends the batch of what is owed: the cursors that moved in it are stamped as moved now (at
   * most `cursorAckDelayMs` after they did: forgotten as idle that much later at most, never
   * sooner). Returns what was owed.
   */
  #endBatch(): Map<string, Cursor> {
    const owed = this.#owed
    const batch = this.#batch
    if (owed.size > 0) {
      const now = this.#options.clock.now()
      for (const cursor of owed.values()) if (cursor.movedIn === batch) cursor.movedAt = now
    }
    this.#clear()
    return owed
  }

  /** Counts a new room in, forgetting cursors idle for `cursorIdleMs` to stay in the bound. */
  #admit(room: string, now: number): void {
    const cursors = this.#cursors
    const cost = utf8ByteLength(room) + cursorOverheadBytes
    while (cursors.size >= maxRoomCursors || this.#bytes + cost > maxRoomCursorBytes) {
      const oldest = cursors.entries().next().value
      // One that moved in this batch is not stamped yet: it moved just now.
      if (
        oldest === undefined ||
        oldest[1].movedIn === this.#batch ||
        now - oldest[1].movedAt < cursorIdleMs
      ) {
        throw protocolError('room messages from too many rooms at once')
      }
      cursors.delete(oldest[0])
      if (oldest[0] === this.#last) this.#last = this.#lastCursor = undefined
      this.#bytes -= utf8ByteLength(oldest[0]) + cursorOverheadBytes
    }
    this.#bytes += cost
  }

  /** Acknowledges the cursors that advanced, in `$ack` frames of at most `maxCursorAckBytes`. */
  readonly flush = (): void => {
    const owed = this.#endBatch()
    const link = this.#link
    let pairs: RoomRef[] = []
    const max = Math.min(maxCursorAckBytes, this.#options.serverMax() ?? Infinity)
    // `{"t":"$ack","d":{"r":[]}}`, and each pair as JSON and a comma: msgpack takes less.
    let size = 26
    for (const [room, cursor] of owed) {
      cursor.ackedOn = link
      const pair: RoomRef = [room, cursor.id]
      const bytes = utf8ByteLength(JSON.stringify(pair)) + 1
      if (size + bytes > max && pairs.length > 0) {
        this.#options.transmit({ t: '$ack', d: { r: pairs } })
        pairs = []
        size = 26
      }
      pairs.push(pair)
      size += bytes
    }
    if (pairs.length > 0) this.#options.transmit({ t: '$ack', d: { r: pairs } })
  }

  /**
   * The link went down: what was owed is not acknowledged (the server may send it again, and it
   * is dropped then), since the next server may not have delivered that far yet. `reset`: a
   * new session, to which the old one's cursors mean nothing.
   */
  linkDown(reset?: boolean): void {
    this.#endBatch()
    this.#link++
    if (reset) {
      this.#cursors = new Map()
      this.#last = this.#lastCursor = undefined
      this.#bytes = 0
    }
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#arrivals = 0
    this.#owed = new Map()
    this.#batch++
  }
}

interface Cursor {
  /** The last id delivered. */
  id: string
  /** When it last moved, as stamped (see `#endBatch`). */
  movedAt: number
  /** The link (`RoomCursors.#link`) it was last acknowledged on. */
  ackedOn: number
  /** The batch of acknowledgements (`RoomCursors.#batch`) it was last owed in. */
  owedIn: number
  /** The batch it last moved in: its `movedAt` is stamped when that batch ends. */
  movedIn: number
}
