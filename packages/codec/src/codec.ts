/** A frame as it arrives from a WebSocket: text, or binary as an `ArrayBuffer` or a view. */
export type InboundFrame = string | ArrayBuffer | Uint8Array

/** A frame as a codec produces it: text for text codecs, bytes for binary ones. */
export type OutboundFrame = string | Uint8Array

/**
 * Turns values into WebSocket frames and back. One instance serves one connection or many: the
 * codecs of this package keep no per-message state.
 */
export interface Codec {
  /** The WebSocket subprotocol that announces this codec, e.g. `lifeline.v1.json`. */
  readonly name: string
  /** True when `encode` produces binary frames (`Uint8Array`), false for text frames. */
  readonly binary: boolean
  /**
   * The largest frame this codec encodes or decodes, in bytes (`Infinity`: no limit). The
   * Lifeline handshake tells the peer this figure, so it refuses larger messages where they are
   * produced. A codec without it announces nothing.
   */
  readonly maxBytes?: number
  /**
   * Encodes one message. Throws a `LifelineError` with code `ENCODE_FAILED` for a value the
   * codec cannot represent, or one its peer's decoder would refuse, and `MESSAGE_TOO_LARGE` for
   * a frame over `maxBytes`. The bytes returned belong to the caller, which may keep them
   * (a server keeps sent frames for resends): a codec never writes into them again.
   */
  encode(value: unknown): OutboundFrame
  /**
   * Decodes one frame. Throws only a `LifelineError`: `DECODE_FAILED` or `MESSAGE_TOO_LARGE`,
   * with the WebSocket close code that fits in `closeCode`.
   */
  decode(frame: InboundFrame): unknown
  /**
   * Encodes `value` once, checked as `encode` checks it one level down (as an object's property):
   * see `encodeWith`. Optional: without it, the value is encoded in every frame.
   */
  prepare?(value: unknown): Prepared
  /**
   * Encodes the object `head` with `prepared` as its property `key` (absent from `head`), as
   * `encode` would encode `{ ...head, [key]: prepared.value }`, splicing in the encoding that
   * this codec's `prepare` made (another `Prepared` is encoded again).
   */
  encodeWith?(head: object, key: string, prepared: Prepared): OutboundFrame
}

/**
 * A value a codec encoded once (`Codec.prepare`), to go in many frames that differ only around
 * it (`Codec.encodeWith`): a broadcast, whose envelope numbers differ per session. Only the codec
 * that made it splices its encoding; any other encodes `value`.
 */
export class Prepared {
  constructor(readonly value: unknown) {}
}

/** A codec that produces text frames. */
export interface TextCodec extends Codec {
  readonly binary: false
  encode(value: unknown): string
  encodeWith?(head: object, key: string, prepared: Prepared): string
}

/** A codec that produces binary frames. */
export interface BinaryCodec extends Codec {
  readonly binary: true
  encode(value: unknown): Uint8Array
  encodeWith?(head: object, key: string, prepared: Prepared): Uint8Array
}

// Top-level constants rather than properties of `codecNames`: a bundle with one codec carries
// only its name.
export const jsonCodecName = 'lifeline.v1.json'
export const msgpackCodecName = 'lifeline.v1.msgpack'

/**
 * Subprotocol names of the built-in codecs. The version is that of the Lifeline wire protocol:
 * a new envelope format gets a new name, so old and new peers never misread each other.
 */
export const codecNames = {
  json: jsonCodecName,
  msgpack: msgpackCodecName,
} as const

export type CodecName = (typeof codecNames)[keyof typeof codecNames]

/**
 * Picks the codec for a connection from the subprotocol(s) on offer.
 *
 * - Client side: pass `socket.protocol` (what the server chose) after `open`.
 * - Server side: pass the protocols the client offered (a `Set` from `ws`'s `handleProtocols`,
 *   an array, or the raw comma-separated `Sec-WebSocket-Protocol` header).
 *
 * Returns the first codec of `supported` (so `supported` is in order of preference) whose
 * `name` is on offer, or `undefined` when none is: for example when the server chose no
 * subprotocol at all (`socket.protocol === ''`). What to do then is the caller's policy: fall
 * back to JSON against a plain server, or close with 1002 against a Lifeline one.
 */
export function selectCodec<C extends Codec>(
  offered: string | Iterable<string> | null | undefined,
  supported: readonly C[],
): C | undefined {
  const names = new Set<string>()
  for (const name of typeof offered === 'string' ? offered.split(',') : (offered ?? [])) {
    names.add(name.trim())
  }
  return supported.find((codec) => names.has(codec.name))
}
