/**
 * Room membership, kept on both sides: members per room (to fan out) and rooms per member (to
 * leave them all when a session ends). Members are sessions, not sockets, so membership holds
 * across reconnects.
 */
export class Rooms<Member> {
  private readonly members = new Map<string, Set<Member>>()
  private readonly joined = new Map<Member, Set<string>>()

  join(member: Member, room: string): void {
    let members = this.members.get(room)
    if (members === undefined) this.members.set(room, (members = new Set()))
    members.add(member)
    let rooms = this.joined.get(member)
    if (rooms === undefined) this.joined.set(member, (rooms = new Set()))
    rooms.add(room)
  }

  leave(member: Member, room: string): void {
    const members = this.members.get(room)
    if (members !== undefined) {
      members.delete(member)
      if (members.size === 0) this.members.delete(room)
    }
    const rooms = this.joined.get(member)
    if (rooms !== undefined) {
      rooms.delete(room)
      if (rooms.size === 0) this.joined.delete(member)
    }
  }

  leaveAll(member: Member): void {
    for (const room of this.roomsOf(member)) this.leave(member, room)
  }

  /** The members of `room` (empty when nobody is in it). Do not modify. */
  membersOf(room: string): ReadonlySet<Member> {
    return this.members.get(room) ?? emptySet
  }

  /** A copy of the rooms `member` is in. */
  roomsOf(member: Member): string[] {
    const rooms = this.joined.get(member)
    return rooms === undefined ? [] : [...rooms]
  }

  /** How many rooms `member` is in. */
  count(member: Member): number {
    return this.joined.get(member)?.size ?? 0
  }

  has(member: Member, room: string): boolean {
    return this.joined.get(member)?.has(room) ?? false
  }

  /** Names of the rooms that have members. */
  names(): string[] {
    return [...this.members.keys()]
  }
}

const emptySet: ReadonlySet<never> = new Set()
