import { LifelineError } from '@lifeline/codec'
import { utf8ByteLength } from '../utf8.js'

/** The wire protocol version this package speaks (see PROTOCOL.md). */
export const protocolVersion = 1

/** One frame of the wire protocol. */
export interface Envelope {
  /** Type: a user message type, or a `$`-prefixed control type. */
  t: string
  /** Payload. */
  d?: unknown
  /** Sequence number of a reliable envelope, per direction and session, from 1. */
  s?: number
  /** Cumulative acknowledgement: every reliable envelope up to `a` was processed. */
  a?: number
  /**
   * A room message's place in its room: `[room, id]`, `id` the room history's `ms-seq` (server
   * to client only, never with `s`; PROTOCOL.md, section 2).
   */
  r?: RoomRef
}

/** `[room, id]`: a room message's room and its id in the room's history. */
export type RoomRef = [room: string, id: string]

export const controlTypes = {
  hello: '$hello',
  welcome: '$welcome',
  ack: '$ack',
  ping: '$ping',
  pong: '$pong',
  request: '$req',
  response: '$res',
  error: '$error',
  resend: '$resend',
} as const

export type ControlType = (typeof controlTypes)[keyof typeof controlTypes]

// The close codes the client uses, as top-level constants rather than properties of
// `protocolCloseCodes`: a bundle that only uses them does not carry the object.
/** The peer broke the protocol. */
export const protocolErrorCode = 1002
/** The client drops a link whose server broke the protocol, and resumes on a new one. */
export const clientProtocolErrorCode = 4002
/** The peer's handshake frame (`$hello`, `$welcome`) did not come in time. */
export const handshakeTimeoutCode = 4408
/** A newer connection took the session over. */
export const sessionTakenOverCode = 4409

/** Close codes of the protocol beyond the standard ones (see PROTOCOL.md, section 10). */
export const protocolCloseCodes = {
  protocolError: protocolErrorCode,
  serviceRestart: 1012,
  heartbeatTimeout: 4000,
  clientProtocolError: clientProtocolErrorCode,
  unauthenticated: 4401,
  forbidden: 4403,
  helloTimeout: handshakeTimeoutCode,
  sessionTakenOver: sessionTakenOverCode,
  slowConsumer: 4429,
} as const

export function isControlType(type: string): boolean {
  return type.charCodeAt(0) === 36 /* $ */
}

export function isKnownControlType(type: string): type is ControlType {
  // No lookup table at module level: an unused one would stay in every bundle.
  return (Object.values(controlTypes) as string[]).includes(type)
}

/**
 * Largest `$hello`, `$welcome`, `$ack`, `$ping`, `$pong` or `$resend` frame, in bytes. They
 * carry no application data: a big one is an attack (a `$ping` is echoed, so a peer that sends
 * big ones and never reads would make the other side buffer them without end).
 */
export const maxControlFrameBytes = 1024

/**
 * Largest `$ack` that carries room cursors (`d`): they name rooms, so a client in many rooms
 * needs more than a control frame's 1 KiB; it splits a bigger acknowledgement into several.
 */
export const maxCursorAckBytes = 65_536

/** Longest room name in an `r` or a cursor acknowledgement, in UTF-8 bytes. */
export const maxRoomNameBytes = 1024

/**
 * Whether `value` is a room history id: two unsigned integers `ms-seq` (a Redis stream id) of at
 * most 20 digits each, written without leading zeros, so that comparing them as numbers is
 * comparing lengths, then digits (`compareRoomIds`). Checked by hand rather than by a regular
 * expression: a client checks the id of every room message it gets, and this is a few times
 * faster.
 */
export function isRoomId(value: unknown): value is string {
  // `0-0` to two 20-digit numbers and a dash: a longer string is refused before it is searched.
  if (typeof value !== 'string' || value.length < 3 || value.length > 41) return false
  const dash = value.indexOf('-')
  return isDecimal(value, 0, dash) && isDecimal(value, dash + 1, value.length)
}

/** Whether `text` from `start` to `end` is 1 to 20 digits with no leading zero (`0` itself is). */
function isDecimal(text: string, start: number, end: number): boolean {
  const length = end - start
  if (length < 1 || length > 20 || (length > 1 && text.charCodeAt(start) === 48)) return false
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return false
  }
  return true
}

/** Whether `value` is a room name that fits an `r` (a string of at most `maxRoomNameBytes`). */
export function isRoomName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    // Each UTF-16 unit is at most 3 UTF-8 bytes: most names need no measuring.
    (value.length * 3 <= maxRoomNameBytes || utf8ByteLength(value) <= maxRoomNameBytes)
  )
}

/**
 * Compares two room history ids (`isRoomId`) as pairs of integers, `ms` first: negative, 0 or
 * positive. Exact for any 64-bit value (`9-0` < `10-0`, never as strings).
 */
export function compareRoomIds(a: string, b: string): number {
  // Integers without leading zeros: the longer is larger, else the digits say. Compared in
  // place, with no split: a client compares once per room message it gets.
  const dash = a.indexOf('-')
  const bDash = b.indexOf('-')
  if (dash !== bDash) return dash - bDash
  // As many digits on either side of the dash: the strings compare as the numbers do, and the
  // engine's comparison is faster than a loop.
  if (a.length === b.length) return a < b ? -1 : a > b ? 1 : 0
  for (let i = 0; i < dash; i++) {
    const digit = a.charCodeAt(i) - b.charCodeAt(i)
    if (digit !== 0) return digit
  }
  // The same `ms`, and the `seq`s differ in length (see above): the longer is larger.
  return a.length - b.length
}

/**
 * Checks the size of a `$hello`, `$welcome`, `$ack`, `$ping`, `$pong` or `$resend` frame (at
 * most `maxControlFrameBytes`) and the shape of a `$ping` (`d` is `{ ts: number }`); other control
 * frames pass. Throws `PROTOCOL_ERROR` (close code 1002). The frame is measured only for those
 * types, so the check costs nothing on the path of application messages.
 */
export function checkControlFrame(
  envelope: Envelope,
  frame: string | ArrayBuffer | Uint8Array,
): void {
  const { t } = envelope
  if (
    t !== '$hello' &&
    t !== '$welcome' &&
    t !== '$ack' &&
    t !== '$ping' &&
    t !== '$pong' &&
    t !== '$resend'
  ) {
    return
  }
  const size = typeof frame === 'string' ? utf8ByteLength(frame) : frame.byteLength
  // An `$ack` with room cursors (a payload) has a cap of its own.
  const max = t === '$ack' && 'd' in envelope ? maxCursorAckBytes : maxControlFrameBytes
  if (size > max) throw protocolError(`${t} over ${max} bytes`)
  if (t === '$ping' && typeof (envelope.d as { ts?: unknown } | undefined)?.ts !== 'number') {
    throw protocolError('$ping without ts')
  }
}

export function protocolError(message: string): LifelineError {
  return new LifelineError('PROTOCOL_ERROR', message, { closeCode: protocolErrorCode })
}

/** Absent, or a safe integer of at least `min`. */
function isSeqOrAbsent(value: unknown, min: number): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= min)
}

/**
 * Checks that a decoded frame is an envelope and returns it typed. Throws `PROTOCOL_ERROR`
 * (close code 1002) otherwise. The codec has already refused prototype keys and hostile shapes;
 * this checks the protocol's own rules.
 */
export function parseEnvelope(value: unknown): Envelope {
  const envelope = value as Envelope
  if (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof envelope.t === 'string' &&
    envelope.t !== '' &&
    isSeqOrAbsent(envelope.s, 1) &&
    isSeqOrAbsent(envelope.a, 0) &&
    (envelope.r === undefined || isRoomRef(envelope.r, envelope)) &&
    // No other field. A present `s`, `a` or `r` is defined (checked above), so counting is enough.
    countKeys(value) ===
      1 +
        +('d' in value) +
        +(envelope.s !== undefined) +
        +(envelope.a !== undefined) +
        +(envelope.r !== undefined)
  ) {
    return envelope
  }
  throw protocolError('a frame must be an envelope { t, d?, s?, a?, r? } (PROTOCOL.md, section 2)')
}

/**
 * `Object.keys(value).length` without the array: a client counts the keys of every envelope it
 * gets. `hasOwnProperty` by `call`, which engines optimize in a `for...in` (`Object.hasOwn` there
 * costs four times as much).
 */
function countKeys(value: object): number {
  let count = 0
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) count++
  return count
}

/** An `r`: `[room, id]` on a user message without `s`. */
function isRoomRef(r: unknown, envelope: Envelope): boolean {
  return (
    Array.isArray(r) &&
    r.length === 2 &&
    isRoomName(r[0]) &&
    isRoomId(r[1]) &&
    envelope.s === undefined &&
    !isControlType(envelope.t)
  )
}
