import { Packr } from 'msgpackr/pack'
import { msgpackCodecName, Prepared, type BinaryCodec, type InboundFrame } from '../codec.js'
import {
  decodeFailed,
  encodedTooLarge,
  encodeFailed,
  frameTooLarge,
  unsupportedFrame,
} from '../failures.js'
import { resolveLimits, type CodecLimits } from '../limits.js'
import { findDomainProblem, type DomainBudget } from './domain.js'
import { scanMsgpack } from './scan.js'

/** Options of {@link msgpack}. */
export type MsgpackCodecOptions = CodecLimits

/**
 * msgpackr settings for standard MessagePack. They are not enough for untrusted input on their
 * own: msgpackr still reads every extension it knows and writes what it likes for values
 * outside the domain, hence the frame scan on decode and the domain walk on encode.
 */
const packrOptions = {
  // Records are msgpackr's own extension: compact and fast, but no other MessagePack library
  // reads them, and `lifeline.v1.msgpack` must be speakable from any language.
  useRecords: false,
  // Maps become plain objects (keys stringified), never `Map`s.
  mapsAsObjects: true,
  // No msgpackr extensions for Set, Error, RegExp or typed arrays, and no structured-clone
  // references (which would let a frame build cycles).
  moreTypes: false,
  structuredClone: false,
  // Smallest map header per object ("preferred serialization"), and no 65,535-key ceiling.
  variableMapSize: true,
  // The scan admits only 64-bit integers inside the safe range, so this conversion is exact.
  int64AsType: 'number',
  // Decoded binary is a copy: it never aliases, nor keeps alive, the frame it came from.
  copyBuffers: true,
} as const

/**
 * The MessagePack codec (msgpackr): binary frames, standard MessagePack on the wire, and a
 * value domain of null, booleans, numbers, strings, arrays, plain objects, `Uint8Array` and
 * `Date` (plus `undefined`, as msgpackr writes it). Values are checked against that domain
 * before msgpackr writes them (`findDomainProblem`), and frames before msgpackr reads them
 * (`scanMsgpack`): anything else is refused in both directions.
 *
 * Text frames are refused with `DECODE_FAILED` (close code 1003).
 */
export function msgpack(options?: MsgpackCodecOptions): BinaryCodec {
  const limits = resolveLimits(options)
  const { maxBytes, maxContainers } = limits
  const name = msgpackCodecName
  const packr = new Packr(packrOptions)
  // What this codec prepared, and how many arrays and maps that holds: only these bytes are
  // spliced into frames, never a caller's bytes.
  const prepared = new WeakMap<Prepared, { bytes: Uint8Array; containers: number }>()

  const encode = (
    value: unknown,
    maxDepth = limits.maxDepth,
    budget: DomainBudget = { left: maxContainers, limit: maxContainers },
  ): Uint8Array => {
    let problem: string | undefined
    try {
      // The domain walk first: it keeps msgpackr from ever seeing a value it would corrupt,
      // or a cycle it would recurse into until the stack runs out. It also refuses what a
      // peer's decoder would refuse (too deep, too many containers, forbidden keys), so a frame
      // this codec emits is never one the other side rejects, and resends, forever after each
      // reconnect.
      problem = findDomainProblem(value, maxDepth, budget)
    } catch (error) {
      // A getter or proxy that throws.
      throw encodeFailed('value cannot be inspected', error)
    }
    if (problem !== undefined) throw encodeFailed(`value ${problem}`)
    let bytes: Uint8Array
    try {
      bytes = packr.pack(value)
    } catch (error) {
      // A getter that throws on the second read, or a frame over msgpackr's 4 GiB ceiling.
      throw encodeFailed('value cannot be encoded as msgpack', error)
    }
    if (bytes.byteLength > maxBytes) throw encodedTooLarge(maxBytes)
    return bytes
  }

  return {
    name,
    binary: true,
    maxBytes,
    encode: (value) => encode(value),

    prepare(value: unknown): Prepared {
      const result = new Prepared(value)
      // One level down, and one container fewer: the frame's own map holds it.
      const room = maxContainers - 1
      const budget = { left: room, limit: maxContainers }
      const bytes = encode(value, limits.maxDepth - 1, budget)
      prepared.set(result, { bytes, containers: room - budget.left })
      return result
    },

    encodeWith(head: object, key: string, value: Prepared): Uint8Array {
      const made = prepared.get(value)
      if (made !== undefined) {
        // The head has room for the containers the prepared value does not take.
        const left = maxContainers - made.containers
        const map = encode(head, limits.maxDepth, { left, limit: maxContainers })
        // A map of up to 14 entries has a one-byte header (0x80 + count): one more entry is one
        // more in that byte. Anything else is encoded whole.
        if ((map[0] as number) >= 0x80 && (map[0] as number) <= 0x8e) {
          // The key is checked as any key is (a forbidden one throws); its map is the key alone.
          const entry = encode({ [key]: 0 }).subarray(1, -1)
          const length = map.byteLength + entry.byteLength + made.bytes.byteLength
          if (length > maxBytes) throw encodedTooLarge(maxBytes)
          const frame = new Uint8Array(length)
          frame.set(map)
          frame[0] = (map[0] as number) + 1
          frame.set(entry, map.byteLength)
          frame.set(made.bytes, map.byteLength + entry.byteLength)
          return frame
        }
      }
      return encode({ ...head, [key]: value.value })
    },

    decode(frame: InboundFrame): unknown {
      const bytes = toBytes(frame)
      if (bytes === undefined) throw unsupportedFrame(name, 'binary')
      if (bytes.byteLength > maxBytes) throw frameTooLarge(maxBytes)
      const problem = scanMsgpack(bytes, limits.maxDepth, limits.maxContainers)
      if (problem !== undefined) throw decodeFailed(`msgpack frame ${problem}`)
      try {
        return packr.unpack(bytes) as unknown
      } catch (error) {
        throw decodeFailed('msgpack frame could not be decoded', error)
      }
    },
  }
}

/**
 * A plain `Uint8Array` over the frame's bytes, without copying. A Node `Buffer` is re-viewed
 * too: msgpackr returns binary values of the input's class and caches a `DataView` on the
 * input, and neither should leak to or touch the caller's object.
 */
function toBytes(frame: unknown): Uint8Array | undefined {
  if (ArrayBuffer.isView(frame)) {
    return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
  }
  // `instanceof` fails for an ArrayBuffer from another realm (a worker, an iframe, `vm`).
  if (
    frame instanceof ArrayBuffer ||
    Object.prototype.toString.call(frame) === '[object ArrayBuffer]'
  ) {
    return new Uint8Array(frame as ArrayBuffer)
  }
  return undefined
}
