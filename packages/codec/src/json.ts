import { codecNames, type InboundFrame, type TextCodec } from './codec.js'
import {
  decodeFailed,
  encodedTooLarge,
  encodeFailed,
  frameTooLarge,
  unsupportedFrame,
} from './failures.js'
import {
  findParsedProblem,
  findStringifiedProblem,
  hasMoreOpeners,
  parseFirstOpenerLimit,
  scanJsonText,
  undecided,
  type JsonProblem,
} from './jsonGuard.js'
import { resolveLimits, textExceeds, type CodecLimits } from './limits.js'

/** Options of {@link json}. */
export type JsonCodecOptions = CodecLimits

/**
 * The JSON codec: text frames, `JSON.stringify` and `JSON.parse` semantics, plus a size limit,
 * a depth limit and refusal of `__proto__`, `constructor` and `prototype` keys, in both
 * directions.
 *
 * Binary frames are refused with `DECODE_FAILED` (close code 1003): a peer that sends JSON as
 * bytes is speaking another protocol, and guessing an encoding would hide that.
 */
export function json(options?: JsonCodecOptions): TextCodec {
  const { maxBytes, maxDepth } = resolveLimits(options)
  const name = codecNames.json

  /**
   * The problem with the text `JSON.stringify` made of `value`, or `undefined`. A walk of the
   * value is exact for plain data and costs a fraction of a text scan; only values that
   * `JSON.stringify` reshapes (a custom `toJSON`, a class instance) need the text scanned.
   */
  function encodedProblem(value: unknown, text: string): JsonProblem | undefined {
    const problem = findStringifiedProblem(value, maxDepth)
    return problem === undecided ? scanJsonText(text, maxDepth) : problem
  }

  return {
    name,
    binary: false,

    encode(value: unknown): string {
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (error) {
        // TypeError for a BigInt or a cycle, RangeError for nesting deeper than the stack, or
        // whatever a toJSON or getter threw.
        throw encodeFailed('value cannot be encoded as JSON (a BigInt, a cycle?)', error)
      }
      // `JSON.stringify` returns undefined, not a string, for undefined, functions and symbols.
      if (typeof text !== 'string') {
        throw encodeFailed(`JSON cannot encode a message that is ${typeof value}`)
      }
      if (textExceeds(text, maxBytes)) throw encodedTooLarge(maxBytes)
      let problem: JsonProblem | undefined
      try {
        problem = encodedProblem(value, text)
      } catch (error) {
        // A getter that throws on the second read.
        throw encodeFailed('value cannot be inspected', error)
      }
      // Refused here, a frame the peer would refuse never reaches the send queue, where it
      // would be resent, and refused, after every reconnect.
      if (problem !== undefined) throw encodeFailed(`value ${problem}`)
      return text
    },

    decode(frame: InboundFrame): unknown {
      if (typeof frame !== 'string') throw unsupportedFrame(name, 'text')
      if (textExceeds(frame, maxBytes)) throw frameTooLarge(maxBytes)
      if (hasMoreOpeners(frame, parseFirstOpenerLimit)) {
        // So many brackets that parsing could be the attack: scan first, which stops at the
        // first level over the limit, then parse what is known to be safe.
        const problem = scanJsonText(frame, maxDepth)
        if (problem !== undefined) throw decodeFailed(`JSON frame ${problem}`)
        return parse(frame)
      }
      const value = parse(frame)
      const problem = findParsedProblem(value, maxDepth)
      if (problem !== undefined) throw decodeFailed(`JSON frame ${problem}`)
      return value
    },
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw decodeFailed('frame is not valid JSON', error)
  }
}
