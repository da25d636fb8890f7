import { Prepared, type Codec, type OutboundFrame } from '@lifeline/codec'
import type { Envelope } from '@lifeline/core/protocol'

/**
 * Encodes an envelope whose payload may be `Prepared` (a broadcast's, encoded once for every
 * session): the codec splices the payload's encoding in, or encodes it whole when it cannot.
 */
export function encodeEnvelope(codec: Codec, envelope: Envelope): OutboundFrame {
  const { d } = envelope
  if (!(d instanceof Prepared)) return codec.encode(envelope)
  const head: Envelope = { ...envelope }
  delete head.d
  return codec.encodeWith === undefined
    ? codec.encode({ ...head, d: d.value })
    : codec.encodeWith(head, 'd', d)
}

/** The payload as the application gave it: what a store keeps. */
export function plainPayload(d: unknown): unknown {
  return d instanceof Prepared ? d.value : d
}

/**
 * The payload to send to every session on `codec` (see `sendToAll`): prepared once per codec
 * when the codec can, so each session's frame is its own numbers around the same bytes.
 */
export function preparedFor(codec: Codec, data: unknown, cache: Map<Codec, unknown>): unknown {
  if (codec.prepare === undefined) return data
  let payload = cache.get(codec)
  if (payload === undefined) cache.set(codec, (payload = codec.prepare(data)))
  return payload
}

/** The last room message `roomFrame` encoded, and its frame per codec. */
let roomKey: { room: string; id: string; type: string; data: unknown } | undefined
const roomFrames = new Map<Codec, OutboundFrame>()

/**
 * The frame of a room message numbered by its room (`r`, PROTOCOL.md, section 2): the same
 * bytes for every member on a codec, so a fan-out encodes it once per codec and writes it N
 * times. The cluster hands every member the same decoded `data` for one message, which is what
 * the cache goes by.
 */
export function roomFrame(
  codec: Codec,
  room: string,
  id: string,
  type: string,
  data: unknown,
): OutboundFrame {
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
  let frame = roomFrames.get(codec)
  if (frame === undefined) {
    frame = codec.encode({ t: type, d: data, r: [room, id] })
    // As bytes: a string would be converted to UTF-8 again for every socket.
    if (typeof frame === 'string') frame = Buffer.from(frame)
    roomFrames.set(codec, frame)
  }
  return frame
}
