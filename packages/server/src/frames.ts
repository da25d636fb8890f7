import { codecNames, Prepared, type Codec, type OutboundFrame } from '@lifeline/codec'
import type { Envelope, KeptEnvelope } from '@lifeline/core/protocol'

/**
 * A reliable envelope kept for a resend as the frame it was first encoded in: its bytes, off the
 * JavaScript heap, rather than its payload. An answer or a message kept in a replay buffer until
 * the client acknowledges it (seconds, or for ever for a client that never reads) was most of
 * what the garbage collector had to copy and mark, and was encoded again on every resend; its
 * bytes are written as they are. The frame carries the `a` it was encoded with (`a`), which a
 * resend may find stale: the sender then owes the client a fresher acknowledgement.
 */
export class SentFrame {
  constructor(
    readonly codec: Codec,
    readonly bytes: Uint8Array,
    /** The `a` the frame carries. */
    readonly a: number,
  ) {}

  /** The payload, decoded from the frame: for a store, or a resend on another codec. */
  payload(): unknown {
    const { codec, bytes } = this
    const frame = codec.binary
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString()
    return (codec.decode(frame) as { d?: unknown }).d
  }
}

/**
 * Frames smaller than this are kept as their payload, not their bytes: below Buffer's pool
 * threshold a frame's bytes would be a slice of a shared 8 KiB slab (msgpack's, of its own
 * buffer), which a kept frame would hold whole, however few its own bytes; and a small payload
 * costs the collector little.
 */
export const keptFrameMinBytes = 4096

/**
 * The bytes to keep of a frame (a text codec's string as its UTF-8, what `ws` would convert it
 * to anyway), in a buffer of their own; undefined for a frame under `keptFrameMinBytes`.
 */
export function keptBytes(frame: OutboundFrame): Uint8Array | undefined {
  if (typeof frame === 'string') {
    return frame.length < keptFrameMinBytes ? undefined : Buffer.from(frame)
  }
  if (frame.byteLength < keptFrameMinBytes) return undefined
  // A view of a larger buffer (a codec's own) is copied: kept, it would hold all of it.
  return frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength
    ? frame
    : new Uint8Array(frame)
}

/** Payloads kept as bytes in this turn (see `keptBefore`), forgotten when the turn ends. */
let keptThisTurn: Set<unknown> | undefined

/**
 * True if `data` was kept as bytes already in this turn: the same payload sent to many sessions
 * at once (`for (const peer of peers) peer.send(type, big)`) is then kept as the one value they
 * share, not as a copy of its bytes per session (every session's frame differs by its `s`).
 */
export function keptBefore(data: unknown): boolean {
  if (keptThisTurn === undefined) {
    keptThisTurn = new Set()
    setImmediate(() => {
      keptThisTurn = undefined
    })
  }
  if (keptThisTurn.has(data)) return true
  keptThisTurn.add(data)
  return false
}

/**
 * Encodes an envelope whose payload may be `Prepared` (a broadcast's, encoded once for every
 * session): the codec splices the payload's encoding in, or encodes it whole when it cannot. A
 * `SentFrame` payload is its frame on its own codec (with the `a` it carries), encoded again from
 * its decoded payload on another.
 */
export function encodeEnvelope(codec: Codec, envelope: Envelope): OutboundFrame {
  const { d } = envelope
  if (d instanceof SentFrame) {
    if (d.codec === codec) return d.bytes
    return codec.encode({ ...envelope, d: d.payload() })
  }
  if (!isPrepared(d)) return codec.encode(envelope)
  const head: Envelope = { ...envelope }
  delete head.d
  return codec.encodeWith === undefined
    ? codec.encode({ ...head, d: d.value })
    : codec.encodeWith(head, 'd', d)
}

/**
 * The payload as the application gave it (a kept frame's, decoded): what a store keeps, or a
 * journal.
 */
export function plainPayload(d: unknown): unknown {
  if (d instanceof SentFrame) return d.payload()
  return isPrepared(d) ? d.value : d
}

/**
 * A kept envelope as a store gets it: a frame's payload is decoded when the store reads it (an
 * own, enumerable `d`, as a copy or a serializer reads it), not on every disconnection.
 */
export function storedEnvelope(envelope: KeptEnvelope): KeptEnvelope {
  if (!('d' in envelope)) return envelope
  const { t, s, d } = envelope
  if (!(d instanceof SentFrame)) return { t, s, d: plainPayload(d) }
  const stored = { t, s }
  let payload: { value: unknown } | undefined
  // Writable and deletable like any plain property: a store may compress or replace it.
  Object.defineProperty(stored, 'd', {
    enumerable: true,
    configurable: true,
    get: () => (payload ??= { value: d.payload() }).value,
    set: (value: unknown) => {
      payload = { value }
    },
  })
  return stored
}

/**
 * The payload to send to every session on `codec` (see `sendToAll`): prepared once per codec
 * when the codec can, so each session's frame is its own numbers around the same bytes.
 */
export function preparedFor(codec: Codec, data: unknown, cache: Map<Codec, unknown>): unknown {
  if (codec.prepare === undefined) return data
  let payload = cache.get(codec)
  if (payload === undefined) {
    const prepared = codec.prepare(data)
    preparedBy.set(prepared, codec)
    cache.set(codec, (payload = prepared))
  }
  return payload
}

/**
 * The codec that prepared each payload of `preparedFor`: only its frames are spliced
 * (`splicedFrame`). Another codec's limits (a `maxDepth`, a `maxBytes`) are its own, and a
 * `Prepared` made elsewhere (an application's) may hold a value changed since its last frame:
 * both are encoded again, whole, as `Codec.encodeWith` says.
 */
const preparedBy = new WeakMap<Prepared, Codec>()

/**
 * A payload `preparedFor` made, or a `Prepared` of the server's own copy of the codec. Not by
 * `instanceof` alone: the codec an application gives may come from another copy of
 * `@lifeline/codec` (the CommonJS build beside the ESM one, or another version installed apart),
 * whose `prepare` makes that copy's `Prepared`, which was then sent as it was, `{ value }`.
 */
export function isPrepared(d: unknown): d is Prepared {
  return d instanceof Prepared || preparedBy.has(d as Prepared)
}

/**
 * A room message numbered by its room, encoded once for every member on a codec: its frame
 * (what the codec made, as bytes) and the same bytes as one unmasked WebSocket message (header
 * and payload in one buffer), which a connection writes to its socket as they are.
 */
export interface RoomFrame {
  readonly frame: Buffer
  readonly framed: Buffer
}

/** The last room message `roomFrame` encoded, and its frame per codec. */
let roomKey: { room: string; id: string; type: string; data: unknown } | undefined
const roomFrames = new Map<Codec, RoomFrame>()

/**
 * The frame of a room message numbered by its room (`r`, PROTOCOL.md, section 2): the same
 * bytes for every member on a codec, so a fan-out encodes and frames it once per codec and
 * writes it N times. The cluster hands every member the same decoded `data` for one message,
 * which is what the cache goes by.
 */
export function roomFrame(
  codec: Codec,
  room: string,
  id: string,
  type: string,
  data: unknown,
): RoomFrame {
  const key = roomKey
  if (
    key === undefined ||
    key.data !== data ||
    key.id !== id ||
    key.room !== room ||
    key.type !== type
  ) {
    roomKey = { room, id, type, data }
    roomFrames.clear()
  }
  let cached = roomFrames.get(codec)
  if (cached === undefined) {
    const encoded = codec.encode({ t: type, d: data, r: [room, id] })
    // As bytes: a string would be converted to UTF-8 again for every socket. A text goes
    // straight into the message, behind its header: not into a buffer of its own first.
    if (typeof encoded === 'string') cached = framedText(encoded, codec.binary)
    else {
      const frame = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength)
      cached = { frame, framed: webSocketMessage(frame, codec.binary) }
    }
    roomFrames.set(codec, cached)
  }
  return cached
}

/**
 * `payload` as one final, unmasked, uncompressed WebSocket frame (RFC 6455, section 5.2), as a
 * server sends it: text or binary.
 */
export function webSocketMessage(payload: Buffer, binary: boolean): Buffer {
  return framedWith(payload.byteLength, binary, payload, payload.byteLength)
}

/**
 * `text` as one WebSocket message (as `webSocketMessage`), and that payload: the frame's bytes
 * need no buffer of their own.
 */
function framedText(text: string, binary: boolean): RoomFrame {
  const length = Buffer.byteLength(text)
  const framed = textMessage(text, length, binary)
  return { frame: framed.subarray(framed.byteLength - length), framed }
}

/** `text`, of `length` UTF-8 bytes, as one WebSocket message, converted to UTF-8 in place. */
function textMessage(text: string, length: number, binary: boolean): Buffer {
  const framed = Buffer.allocUnsafe(headLength(length) + length)
  writeHead(framed, length, binary)
  framed.write(text, framed.byteLength - length)
  return framed
}

/**
 * A frame the server makes for one session (a `$ack`) as one WebSocket message in one buffer:
 * what `ws` writes as a header and the text apart, through its sender's checks. A text frame
 * is converted to UTF-8 straight into it.
 */
export function smallMessage(frame: OutboundFrame, binary: boolean): Buffer {
  if (typeof frame !== 'string') {
    return webSocketMessage(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), binary)
  }
  return textMessage(frame, Buffer.byteLength(frame), binary)
}

/**
 * A buffer with the header of one final, unmasked, uncompressed WebSocket message of `length`
 * bytes (RFC 6455, section 5.2), followed by the first `copied` bytes of it, from `start`.
 */
function framedWith(length: number, binary: boolean, start: Buffer, copied: number): Buffer {
  const head = headLength(length)
  const framed = Buffer.allocUnsafe(head + copied)
  writeHead(framed, length, binary)
  start.copy(framed, head, 0, copied)
  return framed
}

/** The bytes of the header of a message of `length` bytes. */
function headLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10
}

/** Writes the header of a final, unmasked message of `length` bytes at the start of `framed`. */
function writeHead(framed: Buffer, length: number, binary: boolean): void {
  framed[0] = 0x80 | (binary ? 0x2 : 0x1)
  if (length < 126) framed[1] = length
  else if (length < 65_536) {
    framed[1] = 126
    framed.writeUInt16BE(length, 2)
  } else {
    framed[1] = 127
    framed.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    framed.writeUInt32BE(length >>> 0, 6)
  }
}

/**
 * A JSON text frame in two parts: its own start (the envelope's fields, up to the `,` before
 * `"d"`), and the rest, `"d":<payload>}`, the same buffer for every session a broadcast goes to.
 * Written so, a broadcast's payload is neither copied nor converted to UTF-8 per session (a
 * 16 KiB broadcast to 110 sessions was 110 strings of 16 KiB measured, then converted, most of
 * the broadcast's time); its bytes are only the kernel's to copy.
 */
export class SplicedFrame {
  /** The frame's size in bytes. */
  readonly byteLength: number

  constructor(
    /** The envelope's fields, as UTF-8. */
    readonly start: Buffer,
    /** `"d":<payload>}`, shared. */
    readonly rest: Buffer,
  ) {
    this.byteLength = start.byteLength + rest.byteLength
  }

  /** The frame as one WebSocket message, in two buffers: header and start, then the rest. */
  framed(): [Buffer, Buffer] {
    return [framedWith(this.byteLength, false, this.start, this.start.byteLength), this.rest]
  }

  /** The frame's bytes in one buffer (for a socket that frames messages itself). */
  joined(): Buffer {
    return Buffer.concat([this.start, this.rest], this.byteLength)
  }
}

/** A frame to write: a codec's, or a broadcast's spliced JSON frame. */
export type WrittenFrame = OutboundFrame | SplicedFrame

/** The size of a frame in bytes (a string's, as UTF-8). */
export function frameBytes(frame: WrittenFrame): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
}

/** Per prepared payload (one per codec), its `"d":<payload>}`, as UTF-8; null when not spliced. */
const splicedRests = new WeakMap<Prepared, Buffer | null>()
const dataKeyStart = '{"d":'

/**
 * The frame of an envelope whose payload is `Prepared` (a broadcast's) on the JSON codec, as a
 * `SplicedFrame`: its fields encoded as the codec encodes them, then the payload's part, made
 * once for every session. A JSON object's members may be so split at a comma, whatever the
 * codec's spacing: the payload's part is used only when the codec encoded `{ d }` as
 * `{"d":…}`. Undefined when the frame is not so made (another codec, a payload another codec
 * or the application prepared, a payload under `keptFrameMinBytes`, or a frame over the
 * codec's limit, which `encodeEnvelope` refuses as it should).
 */
export function splicedFrame(codec: Codec, envelope: Envelope): SplicedFrame | undefined {
  const { d } = envelope
  if (
    !isPrepared(d) ||
    preparedBy.get(d) !== codec ||
    codec.binary ||
    codec.name !== codecNames.json ||
    codec.encodeWith === undefined
  ) {
    return undefined
  }
  let rest = splicedRests.get(d)
  if (rest === undefined) {
    const whole = codec.encodeWith({}, 'd', d)
    // A small payload is not worth sharing, and its bytes would be a slice of a shared 8 KiB
    // slab (`keptFrameMinBytes`), which every replay buffer keeping the frame would hold whole.
    rest =
      typeof whole === 'string' &&
      whole.length >= keptFrameMinBytes &&
      whole.startsWith(dataKeyStart) &&
      whole.endsWith('}')
        ? Buffer.from(whole).subarray(1)
        : null
    splicedRests.set(d, rest)
  }
  if (rest === null) return undefined
  const head: Envelope = { ...envelope }
  delete head.d
  const fields = codec.encode(head)
  if (typeof fields !== 'string' || fields.length < 3 || !fields.endsWith('}')) return undefined
  const start = Buffer.from(`${fields.slice(0, -1)},`)
  if (start.byteLength + rest.byteLength > (codec.maxBytes ?? Infinity)) return undefined
  return new SplicedFrame(start, rest)
}
