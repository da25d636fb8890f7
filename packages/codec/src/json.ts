import { jsonCodecName, Prepared, type InboundFrame, type TextCodec } from './codec.js'
import {
  decodeFailed,
  encodedTooLarge,
  encodeFailed,
  frameTooLarge,
  unsupportedFrame,
} from './failures.js'
import {
  findJsonProblem,
  findTextProblem,
  hasMoreOpeners,
  parseFirstOpenerLimit,
  unbounded,
  type JsonProblem,
} from './jsonGuard.js'
import { resolveLimits, textExceeds, type CodecLimits, type ContainerBudget } from './limits.js'

/** Options of {@link json}. */
export type JsonCodecOptions = CodecLimits

/**
 * The JSON codec: text frames, `JSON.stringify` and `JSON.parse` semantics, plus limits on size,
 * depth and the number of arrays and objects, and refusal of `__proto__`, `constructor` and
 * `prototype` keys, in both directions.
 *
 * Binary frames are refused with `DECODE_FAILED` (close code 1003): a peer that sends JSON as
 * bytes is speaking another protocol, and guessing an encoding would hide that.
 */
export function json(options?: JsonCodecOptions): TextCodec {
  const { maxBytes, maxDepth, maxContainers } = resolveLimits(options)
  const name = jsonCodecName
  const describe = (problem: JsonProblem) =>
    problem === 'key'
      ? 'has a forbidden key (__proto__, constructor or prototype)'
      : problem === 'depth'
        ? `nests deeper than maxDepth (${maxDepth})`
        : `holds more than maxContainers (${maxContainers}) arrays and objects`
  // Fewer brackets and braces than this, and the frame can be parsed first (see jsonGuard.ts).
  const scanAbove = Math.min(parseFirstOpenerLimit, maxContainers)

  // What this codec prepared, and what it left of a frame's containers: only these texts are
  // spliced into frames, never a caller's text.
  const prepared = new WeakMap<Prepared, [text: string, rest: ContainerBudget]>()

  // The text of a value, or undefined for one JSON has no text for (undefined, a function, a
  // symbol, a toJSON that returns one of them), which a property leaves out.
  const encodeText = (
    value: unknown,
    depth = maxDepth,
    budget: ContainerBudget = { left: maxContainers },
  ): string | undefined => {
    let text: string | undefined
    let tooLarge = false
    let problem: JsonProblem | undefined
    try {
      text = JSON.stringify(value)
      // `JSON.stringify` returns undefined, not a string, for undefined, functions and symbols.
      tooLarge = text !== undefined && textExceeds(text, maxBytes)
      // Refused here, a frame the peer would refuse never reaches the send queue, where it
      // would be resent, and refused, after every reconnect.
      if (text !== undefined && !tooLarge)
        problem = findJsonProblem(value, text, depth, false, budget)
    } catch (error) {
      // TypeError for a BigInt or a cycle, RangeError for nesting deeper than the stack, or
      // whatever a toJSON or getter threw.
      throw encodeFailed('value cannot be encoded as JSON (a BigInt, a cycle?)', error)
    }
    if (tooLarge) throw encodedTooLarge(maxBytes)
    if (problem) throw encodeFailed(`value ${describe(problem)}`)
    return text
  }

  const encode = (value: unknown, depth?: number, budget?: ContainerBudget): string => {
    const text = encodeText(value, depth, budget)
    if (text === undefined)
      throw encodeFailed(`JSON cannot encode a message that is ${typeof value}`)
    return text
  }

  return {
    name,
    binary: false,
    maxBytes,
    encode: (value) => encode(value),

    prepare(value: unknown): Prepared {
      const result = new Prepared(value)
      // One level down, and one container fewer than a frame: the head's object holds it.
      const rest = { left: maxContainers - 1 }
      const text = encodeText(value, maxDepth - 1, rest)
      // A value with no text (a broadcast without data) is left out of the frame, as it is of
      // `{ ...head, [key]: value }`: not made here, encodeWith encodes that object whole.
      if (text !== undefined) prepared.set(result, [text, rest])
      return result
    },

    encodeWith(head: object, key: string, value: Prepared): string {
      const made = prepared.get(value)
      if (made === undefined) return encode({ ...head, [key]: value.value })
      const [text, rest] = made
      // The key is checked as any key is (a forbidden one throws).
      encode({ [key]: 0 })
      // The head's object and what it holds have the room the prepared value left.
      const frame = encode(head, maxDepth, { left: rest.left + 1 }).slice(0, -1)
      const spliced = `${frame}${frame.length > 1 ? ',' : ''}${JSON.stringify(key)}:${text}}`
      if (textExceeds(spliced, maxBytes)) throw encodedTooLarge(maxBytes)
      return spliced
    },

    decode(frame: InboundFrame): unknown {
      if (typeof frame !== 'string') throw unsupportedFrame(name, 'text')
      if (textExceeds(frame, maxBytes)) throw frameTooLarge(maxBytes)
      let value: unknown
      let problem: JsonProblem | undefined
      // So many brackets that parsing could be the attack: a depth bomb, or more containers
      // than maxContainers. Scan first, which stops at the first bracket over a limit, and parse
      // only what is known to be safe. Fewer, and the parse is cheap, builds no more containers
      // than the limit, and the walk after it judges the depth.
      if (frame.length > scanAbove && hasMoreOpeners(frame, scanAbove)) {
        problem = findTextProblem(frame, maxDepth, maxContainers)
      }
      if (!problem) {
        try {
          value = JSON.parse(frame)
        } catch (error) {
          throw decodeFailed('frame is not valid JSON', error)
        }
        try {
          problem = findJsonProblem(value, frame, maxDepth, true, unbounded)
        } catch (error) {
          // The walk recurses once per level: under a maxDepth larger than the stack allows, a
          // frame nested deeper than the stack is refused as any frame too deep is, not thrown
          // past the connection as a RangeError.
          throw decodeFailed('JSON frame nests deeper than can be checked', error)
        }
      }
      if (problem) throw decodeFailed(`JSON frame ${describe(problem)}`)
      return value
    },
  }
}
