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
  /** The room whose cursor moved last: the map's last entry. */
  #last: string | undefined
  /** Cursors that advanced on this link and were not acknowledged yet. */
  #owed = new Map<string, string>()
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
   */
  arrive([room, id]: RoomRef): boolean {
    const cursors = this.#cursors
    const cursor = cursors.get(room)
    const { ackEvery, ackDelayMs, clock } = this.#options
    if (cursor !== undefined && compareRoomIds(id, cursor.id) <= 0) {
      // A resume sends again from the cursor the server stored, up to the client's: the last of
      // these is the cursor itself. Acknowledged once on this link, so that the stored cursor
      // catches up even if what was owed on the last link was lost with it and the room stays
      // quiet (a cursor left behind would be sent again on every resume, and could be forgotten
      // as idle while the server's lags).
      if (id === cursor.id && cursor.ackedOn !== this.#link && !this.#owed.has(room)) {
        this.#owed.set(room, id)
        this.#timer ??= clock.setTimeout(this.flush, ackDelayMs)
      }
      return false
    }
    const now = clock.now()
    if (cursor === undefined) {
      this.#admit(room, now)
      cursors.set(room, { id, movedAt: now, ackedOn: -1 })
    } else {
      cursor.id = id
      cursor.movedAt = now
      // The map's order is the order the cursors last moved in: one that moves again while it
      // is the last (a client in one busy room, every message) stays where it is.
      if (room !== this.#last) {
        cursors.delete(room)
        cursors.set(room, cursor)
      }
    }
    this.#last = room
    this.#owed.set(room, id)
    if (++this.#arrivals >= ackEvery) this.flush()
    else this.#timer ??= clock.setTimeout(this.flush, ackDelayMs)
    return true
  }

  /** Counts a new room in, forgetting cursors idle for `cursorIdleMs` to stay in the bound. */
  #admit(room: string, now: number): void {
    const cursors = this.#cursors
    const cost = utf8ByteLength(room) + cursorOverheadBytes
    while (cursors.size >= maxRoomCursors || this.#bytes + cost > maxRoomCursorBytes) {
      const oldest = cursors.entries().next().value
      if (oldest === undefined || now - oldest[1].movedAt < cursorIdleMs) {
        throw protocolError('room messages from too many rooms at once')
      }
      cursors.delete(oldest[0])
      this.#bytes -= utf8ByteLength(oldest[0]) + cursorOverheadBytes
    }
    this.#bytes += cost
  }

  /** Acknowledges the cursors that advanced, in `$ack` frames of at most `maxCursorAckBytes`. */
  readonly flush = (): void => {
    const owed = this.#owed
    this.#clear()
    const link = this.#link
    for (const room of owed.keys()) {
      const cursor = this.#cursors.get(room)
      if (cursor !== undefined) cursor.ackedOn = link
    }
    let pairs: RoomRef[] = []
    const max = Math.min(maxCursorAckBytes, this.#options.serverMax() ?? Infinity)
    // `{"t":"$ack","d":{"r":[]}}`, and each pair as JSON and a comma: msgpack takes less.
    let size = 26
    for (const pair of owed) {
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
    this.#clear()
    this.#link++
    if (reset) {
      this.#cursors = new Map()
      this.#last = undefined
      this.#bytes = 0
    }
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#arrivals = 0
    this.#owed = new Map()
  }
}

interface Cursor {
  /** The last id delivered. */
  id: string
  movedAt: number
  /** The link (`RoomCursors.#link`) it was last acknowledged on. */
  ackedOn: number
}
