import type { ClusterMember } from '@lifeline/server'

/** A room message as published and as kept in the room's history. */
export interface RoomEntry {
  /** Its stream id: the room's order. */
  id: string
  /** The id of the message before it in the room (`'0-0'` for the first). */
  prev: string
  /**
   * Packed `[uid, type, data, except]`: the uid (the sending process and its number there, or
   * `=` and the send's `id`) says which send it is; Redis stores each once (`writeScript`).
   */
  payload: Buffer
}

/** A room message decoded. */
export interface RoomMessage {
  type: string
  data: unknown
  /** A peer id not to deliver to. */
  except: string | undefined
}

export interface RoomFeedHost {
  members(): Iterable<ClusterMember>
  /** The history after `after` (exclusive), oldest first, at most `count`. */
  history(after: string, count: number): Promise<RoomEntry[]>
  /** The id of the room's newest message, `'0-0'` when it has none. */
  lastId(): Promise<string>
  decode(payload: Buffer): RoomMessage
  failure(message: string, error: unknown): void
  /** A read of the history failed (Redis away, say): the feed tries again shortly. */
  unreadable(error: unknown): void
}

/** Compares two stream ids (`"<ms>-<seq>"`) by their order. */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0
  const ia = a.indexOf('-')
  const ib = b.indexOf('-')
  const ma = Number(a.slice(0, ia))
  const mb = Number(b.slice(0, ib))
  if (ma !== mb) return ma < mb ? -1 : 1
  return Number(a.slice(ia + 1)) < Number(b.slice(ib + 1)) ? -1 : 1
}

/** The `prev` of a history's first entry. */
const origin = '0-0'
/** History read per round trip while catching up. */
const batch = 1_000
/**
 * Bytes of live publications that wait for a catch-up, each counted with `queuedOverheadBytes`
 * for what it holds beside its payload. The catch-up reads on the main connection and they come
 * on the subscriber's: a stall of the first alone would have them kept for as long as it lasts.
 * Past it they are let go: the history has them, and the catch-up reads on to the newest.
 */
export const maxQueuedBytes = 1_048_576
const queuedOverheadBytes = 256
const retryMs = 500

/**
 * One room's messages on one process, delivered to its local members exactly once and in the
 * room's order. Each member has a cursor (the id of the last message it got); a publication
 * that follows a member's cursor (`prev`) is delivered at once; a member behind (it was away,
 * its session came from another process, a publication was missed while Redis was away) is
 * caught up from the room's history first, from its own cursor, and gets an explicit reset when
 * the history no longer reaches back. Live publications wait meanwhile, so order holds, up to
 * `maxQueuedBytes`: past it they are read from the history too.
 */
export class RoomFeed {
  /** The newest id this process knows of. */
  private last: string | undefined
  private busy = false
  /** A catch-up was asked for while one ran: it runs again, for members that came meanwhile. */
  private again = false
  private queue: RoomEntry[] = []
  /** What `queue` counts toward `maxQueuedBytes`. */
  private queuedBytes = 0
  /**
   * Members caught up as far as their output takes (`ClusterMember.hasRoom`): the rest waits
   * for it to drain. Written at once, a resume far behind its room (more than
   * `maxOutboundBytes` in the history since its cursor, as after a slow consumer's close) was
   * closed as a slow consumer again, however fast its client read, and again on every resume.
   */
  private readonly waiting = new Set<ClusterMember>()
  private retry: ReturnType<typeof setTimeout> | undefined
  private closed = false

  constructor(
    readonly room: string,
    private readonly host: RoomFeedHost,
  ) {}

  /** A live publication. */
  publication(entry: RoomEntry): void {
    if (!this.busy) {
      this.live(entry)
      return
    }
    this.queue.push(entry)
    this.queuedBytes += entry.payload.length + queuedOverheadBytes
    if (this.queuedBytes > maxQueuedBytes) this.letQueueGo()
  }

  /**
   * Lets go of the publications that wait for the catch-up running: it reads them from the
   * history instead (or resets a member, explicitly, if the history no longer has them).
   */
  private letQueueGo(): void {
    const queue = this.queue
    const first = queue[0] as RoomEntry
    const newest = queue[queue.length - 1] as RoomEntry
    this.queue = []
    this.queuedBytes = 0
    // A member without a cursor was to get every one that waited (`live`): from the first on.
    for (const member of this.host.members()) {
      if (member.cursor(this.room) === undefined) member.setCursor(this.room, first.prev)
    }
    // The catch-up's next round reads up to it.
    if (this.last === undefined || compareIds(newest.id, this.last) > 0) this.last = newest.id
  }

  /** A local member joined (or was restored into) the room. */
  joined(member: ClusterMember): void {
    const cursor = member.cursor(this.room)
    if (cursor === undefined) {
      void this.place(member)
      return
    }
    const last = this.last
    if (last !== undefined && compareIds(cursor, last) < 0) void this.catchUp()
  }

  /**
   * A new member gets what is sent after its join: its cursor is the room's newest id as Redis
   * answers it. The question goes out now, on the connection that will publish what the
   * handler that joined it sends next, so Redis answers it first. A publication heard before
   * the answer was delivered to it already (a member without a cursor gets what comes).
   */
  private async place(member: ClusterMember): Promise<void> {
    let last: string
    try {
      last = await this.host.lastId()
    } catch (error) {
      this.host.unreadable(error)
      return
    }
    if (this.closed || member.closed || member.cursor(this.room) !== undefined) return
    member.setCursor(this.room, last)
    if (this.last !== undefined && compareIds(last, this.last) < 0) void this.catchUp()
  }

  /**
   * The subscription is (again) up: messages published before it may have been missed; the
   * room's newest id says who is behind.
   */
  async resync(): Promise<void> {
    let last: string
    try {
      last = await this.host.lastId()
    } catch (error) {
      this.failed(error)
      return
    }
    if (this.closed) return
    if (this.last === undefined || compareIds(last, this.last) > 0) this.last = last
    await this.catchUp()
  }

  close(): void {
    this.closed = true
    if (this.retry !== undefined) clearTimeout(this.retry)
  }

  private live(entry: RoomEntry): void {
    const room = this.room
    let message: RoomMessage | undefined
    let behind = false
    for (const member of this.host.members()) {
      const cursor = member.cursor(room)
      // A member that waits for its output to drain is caught up from the history, though the
      // message follows its cursor: Redis' publications of what a catch-up reads come late
      // under load, and given live they went out together, past the output's bound.
      if (this.waiting.has(member)) behind = true
      else if (cursor === undefined || cursor === entry.prev) {
        // Joined before this message, placed at the one before: what a resume goes on from.
        if (cursor === undefined) member.setCursor(room, entry.prev)
        message ??= this.decode(entry)
        this.give(member, entry.id, message)
      } else if (compareIds(cursor, entry.id) < 0) behind = true
    }
    if (this.last === undefined || compareIds(entry.id, this.last) > 0) this.last = entry.id
    if (behind) void this.catchUp()
  }

  private async catchUp(): Promise<void> {
    if (this.closed) return
    if (this.busy) {
      this.again = true
      return
    }
    this.again = false
    this.busy = true
    const room = this.room
    try {
      for (;;) {
        const target = this.last
        if (target === undefined) break
        const behind = [...this.host.members()].filter((member) => {
          const cursor = member.cursor(room)
          return (
            cursor !== undefined &&
            !member.closed &&
            !this.waiting.has(member) &&
            compareIds(cursor, target) < 0
          )
        })
        if (behind.length === 0) break
        let from = behind[0]?.cursor(room) as string
        for (const member of behind) {
          const cursor = member.cursor(room) as string
          if (compareIds(cursor, from) < 0) from = cursor
        }
        const entries = await this.host.history(from, batch)
        if (this.closed) return
        const newest = entries[entries.length - 1]
        // Past `last` only: it may have moved on during the read (publications let go).
        if (newest !== undefined && compareIds(newest.id, this.last as string) > 0) {
          this.last = newest.id
        }
        const decoded = new Map<RoomEntry, RoomMessage>()
        for (const member of behind) {
          if (member.closed) continue
          const cursor = member.cursor(room) as string
          // Rewound meanwhile (a resume): below what was read. The next round reads from it.
          if (compareIds(cursor, from) < 0) continue
          const at = entries.findIndex((entry) => compareIds(entry.id, cursor) > 0)
          const first = entries[at]
          if (first === undefined) {
            // Nothing after its cursor, yet it is behind: the history no longer has it.
            if (entries.length < batch) member.reset(room, this.last as string)
            continue
          }
          if (first.prev !== cursor) {
            if (first.prev !== origin) {
              member.reset(room, this.last as string)
              continue
            }
            // The history began again after the cursor (it expired while the room was idle, or
            // Redis lost it): what it had past the cursor is unknown, but what it holds now is
            // whole from its first entry, and goes to the member after its reset.
            member.reset(room, origin)
          }
          for (let i = at; i < entries.length; i++) {
            if (member.whenRoom !== undefined && member.hasRoom?.() === false) {
              this.wait(member, member.whenRoom.bind(member))
              break
            }
            const entry = entries[i] as RoomEntry
            let message = decoded.get(entry)
            if (message === undefined) decoded.set(entry, (message = this.decode(entry)))
            this.give(member, entry.id, message)
          }
        }
      }
    } catch (error) {
      this.failed(error)
    } finally {
      this.busy = false
    }
    // After the catch-up, so outside its catch: what throws here is reported, never rejects
    // (the callers do not wait for a catch-up), and the publications after it still go.
    const waiting = this.queue
    this.queue = []
    this.queuedBytes = 0
    for (const entry of waiting) {
      try {
        this.publication(entry)
      } catch (error) {
        this.host.failure('a room message could not be read', error)
      }
    }
    if (this.again && !this.busy) void this.catchUp()
  }

  /** The member's output is over its mark: its catch-up goes on once it drains. */
  private wait(member: ClusterMember, whenRoom: (callback: () => void) => void): void {
    this.waiting.add(member)
    whenRoom(() => {
      if (this.waiting.delete(member)) void this.catchUp()
    })
  }

  /**
   * Gives a message to one member. A delivery that throws is reported and skipped for that
   * member (its cursor past it, or it would be caught up to it again and again): the other
   * members and the publications after it still go.
   */
  private give(member: ClusterMember, id: string, message: RoomMessage): void {
    const room = this.room
    if (message.except === member.id) {
      member.setCursor(room, id)
      return
    }
    try {
      member.deliver(room, id, message.type, message.data)
    } catch (error) {
      this.host.failure('a room message could not be delivered', error)
      const cursor = member.cursor(room)
      if (cursor === undefined || compareIds(cursor, id) < 0) member.setCursor(room, id)
    }
  }

  private decode(entry: RoomEntry): RoomMessage {
    return this.host.decode(entry.payload)
  }

  /** The history could not be read (Redis is away or failed): told, and tried again shortly. */
  private failed(error: unknown): void {
    this.host.unreadable(error)
    if (this.retry !== undefined || this.closed) return
    this.retry = setTimeout(() => {
      this.retry = undefined
      void this.resync()
    }, retryMs)
    this.retry.unref()
  }
}
