import { LifelineError, type Codec, type OutboundFrame } from '@lifeline/codec'
import type {
  AnySchema,
  PayloadArgs,
  Schema,
  ServerMessages,
  UserKeys,
} from '@lifeline/core/protocol'
import type { Peer, SendOptions } from './peer.js'
import { encodeEnvelope, preparedFor, splicedFrame } from './frames.js'
import { checkType, type Session } from './session.js'

export interface BroadcastOptions<
  S extends Schema = AnySchema,
  User = unknown,
> extends SendOptions {
  /** A peer not to send to (typically the sender of what is being relayed). */
  except?: Peer<S, User> | undefined
  /**
   * With a cluster: an idempotency key. A send with an id already sent to the same room (or
   * broadcast) within the cluster's `dedupeTtlMs` is dropped, so a handler that relays a client
   * message with its `info.id` relays it once to each room even when a process killed after the
   * relay gets it again.
   * @default undefined (no de-duplication)
   */
  id?: string | undefined
}

/** Sends to every session in a room. */
export interface RoomTarget<S extends Schema = AnySchema, User = unknown> {
  /** Sends to every member (see `peer.send`); returns how many it was sent or queued to. */
  send<K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    ...args: PayloadArgs<ServerMessages<S>[K], [options?: BroadcastOptions<S, User> | undefined]>
  ): number
}

/**
 * Refuses an `id` that is no string, with a cluster or without (so that moving to one refuses
 * nothing that worked): a cluster writes it into its batch of room sends, where an object
 * threw Node's RangeError half way through and Redis then refused the whole batch, and a number
 * was taken as its text.
 */
export function checkSendId(options: { id?: unknown } | undefined): void {
  const id = options?.id
  if (id !== undefined && typeof id !== 'string') {
    throw new LifelineError('INVALID_ARGUMENT', `a send's id is a string, got ${typeof id}`)
  }
}

/**
 * The longest id a room's history gives (two 20-digit integers, PROTOCOL.md, section 2). A
 * cluster's send is checked with it: the id is known only once the history stored the message.
 */
const longestRoomId = '18446744073709551615-18446744073709551615'

/**
 * Encodes a room send or broadcast once with each of `codecs`, for a cluster to deliver: data
 * a codec refuses throws here, to the caller (`ENCODE_FAILED`, `MESSAGE_TOO_LARGE`), as
 * `sendToAll` throws it in a single process, rather than on each process that delivers it.
 * With `room` (a cluster's reliable send, `broadcastRoom` for a broadcast), it is checked in the
 * shape of the frame its members get (`roomFrame`), whose `r` is one more array toward
 * `maxContainers` and its id up to 41 bytes: checked as `{ t, d }`, or with an empty id, data
 * whose frame went over a limit only with them passed, and was refused for every member, lost.
 * That frame is also larger than the `{ t, d, s, a }` of a member numbered in its session.
 */
export function checkEncodable(
  codecs: readonly Codec[],
  type: string,
  data: unknown,
  room?: string,
): void {
  const envelope =
    room === undefined ? { t: type, d: data } : { t: type, d: data, r: [room, longestRoomId] }
  for (const codec of codecs) codec.encode(envelope)
}

/**
 * How many of `targets` a cluster's room send or broadcast reaches on this process, as
 * `sendToAll` counts them: not the one excepted, nor any once the server closed.
 */
export function countReached<S extends Schema, User>(
  targets: Iterable<Session<S, User>>,
  except: Peer<S, User> | undefined,
): number {
  let count = 0
  for (const session of targets) if (session !== except && session.reachable) count++
  return count
}

/** The largest `s` and `a` a session's envelope carries. */
const largestSeq = Number.MAX_SAFE_INTEGER

/**
 * Sends one message to many sessions (a room, or all). Reliable messages go through each
 * session's stream (each has its own numbering), with the payload encoded once per codec and
 * kept so in each replay buffer; an unreliable one is the same envelope for everyone, so it is
 * encoded once per codec rather than once per peer.
 */
export function sendToAll<S extends Schema, User>(
  targets: Iterable<Session<S, User>>,
  codecs: readonly Codec[],
  type: string,
  data: unknown,
  options: BroadcastOptions<S, User> | undefined,
): number {
  checkType(type)
  checkSendId(options)
  const except = options?.except
  // The members at the call, copied: each codec they are on is checked before any of them is
  // sent to (a codec that refuses the data, msgpack a Map that JSON takes, threw at its first
  // member, after those before it on another codec had it numbered and sent, and the caller was
  // told the send failed); and an 'error' listener told of a member over its limit may join, or
  // leave and rejoin, during the send, which a live set would visit again (told again, for ever).
  const members: Session<S, User>[] = []
  for (const session of targets) if (session !== except) members.push(session)
  if (members.length === 0) {
    // Nobody to send to (an empty room, or only the member excepted, a relay's first member):
    // the data is still checked with every codec, as a cluster checks it, so that data that
    // cannot be sent fails now, not first once the room has another member.
    checkEncodable(codecs, type, data)
    return 0
  }
  if (options?.reliable === false) {
    // One envelope for everyone: encode it once per codec, not once per peer.
    const envelope = { t: type, d: data }
    const frames = new Map<Codec, OutboundFrame>()
    const frameFor = (codec: Codec): OutboundFrame => {
      let frame = frames.get(codec)
      if (frame === undefined) frames.set(codec, (frame = codec.encode(envelope)))
      return frame
    }
    // Encoded for every member's codec, those away included, before any is written: data a
    // codec refuses throws as a reliable send throws it, and a cluster; encoded for connected
    // members only, a room whose members were all away returned 0 for data no member could get,
    // and one with a member on the codec that refuses it sent it to the others.
    for (const session of members) frameFor(session.codec)
    let count = 0
    for (const session of members) {
      const link = session.link
      if (link === undefined || !link.writable) continue
      const frame = frameFor(link.codec)
      // Over this member's own limit: skipped and reported, the others still get it.
      const size = session.oversize(frame)
      if (size !== undefined) {
        session.tooLarge(size, true)
        continue
      }
      link.write(frame)
      count++
    }
    return count
  }
  // Each session numbers the envelope its own way, around one encoding of the payload.
  const payloads = new Map<Codec, unknown>()
  const first = members[0]?.codec
  // On one codec (the common case, told without a set) the first member's encode throws before
  // any send. On several, each codec's frame is made here, with the largest numbers a session
  // gives it, around what its members get anyway: a payload that fits `maxBytes` alone and not
  // in its frame (msgpack's doubles, 9 bytes each, where JSON's may take 4) was prepared, sent
  // to the members on JSON before the first on msgpack, and refused to the caller. A member
  // whose frame is still over `maxBytes`, by its numbers only (larger than the first's on one
  // codec), is skipped and reported once another has the message, as one over its client's
  // limit is: it threw to the caller, whose retry sent it again to those before it.
  if (members.some((session) => session.codec !== first)) {
    for (const codec of new Set(members.map((session) => session.codec))) {
      const envelope = {
        t: type,
        d: preparedFor(codec, data, payloads),
        s: largestSeq,
        a: largestSeq,
      }
      if (splicedFrame(codec, envelope) === undefined) encodeEnvelope(codec, envelope)
    }
  }
  let count = 0
  for (const session of members) {
    if (session.offer(type, preparedFor(session.codec, data, payloads), count > 0)) count++
  }
  return count
}
