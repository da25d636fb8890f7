import { codecNames, type InboundFrame, type TextCodec } from './codec.js'
import {
  decodeFailed,
  encodedTooLarge,
  encodeFailed,
  frameTooLarge,
  unsupportedFrame,
} from './failures.js'
import {
  findForbiddenKey,
  hasFewOpeners,
  mayHaveForbiddenKey,
  scanJsonText,
  type JsonProblem,
} from './jsonGuard.js'
import { resolveLimits, textExceeds, type CodecLimits } from './limits.js'

/** Options of {@link json}. */
export type JsonCodecOptions = CodecLimits

/**
 * The JSON codec: text frames, `JSON.stringify` and `JSON.parse` semantics, plus a depth limit,
 * a size limit and refusal of `__proto__`, `constructor` and `prototype` keys in both
 * directions.
 *
 * Binary frames are refused with `DECODE_FAILED` (close code 1003): a peer that sends JSON as
 * bytes is talking another protocol, and guessing an encoding would hide that.
 */
export function json(options?: JsonCodecOptions): TextCodec {
  const { maxBytes, maxDepth } = resolveLimits(options)
  const name = codecNames.json

  /**
   * The problem with a JSON text, or `undefined`. Most messages are proven safe by a few native
   * searches; only texts with more than `maxDepth` brackets or a suspicious word pay for the
   * exact scan (which also refuses depth bombs before any parsing).
   */
  function problemOf(text: string): JsonProblem | undefined {
    if (hasFewOpeners(text, maxDepth) && !mayHaveForbiddenKey(text)) return undefined
    return scanJsonText(text, maxDepth)
  }

  return {
    name,
    binary: false,

    encode(value: unknown): string {
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (error) {
        // TypeError for a BigInt or a cycle, RangeError for nesting deeper than the stack.
        throw encodeFailed('value cannot be encoded as JSON (a BigInt, a cycle?)', error)
      }
      // `JSON.stringify` returns undefined, not a string, for undefined, functions and symbols.
      if (typeof text !== 'string') {
        throw encodeFailed(`JSON cannot encode a message that is ${typeof value}`)
      }
      if (textExceeds(text, maxBytes)) throw encodedTooLarge(maxBytes)
      const problem = problemOf(text)
      if (problem !== undefined) throw encodeFailed(`value ${problem}`)
      return text
    },

    decode(frame: InboundFrame): unknown {
      if (typeof frame !== 'string') throw unsupportedFrame(name, 'text')
      if (textExceeds(frame, maxBytes)) throw frameTooLarge(maxBytes)
      if (hasFewOpeners(frame, maxDepth)) {
        // Depth is provably within the limit: parse, then look for keys only if a forbidden
        // name or a `\u` escape appears anywhere in the text. A walk of the parsed value is
        // cheaper than the text scan here (see the README for the figures).
        const value = parse(frame)
        const problem = mayHaveForbiddenKey(frame) ? findForbiddenKey(value) : undefined
        if (problem !== undefined) throw decodeFailed(`JSON frame ${problem}`)
        return value
      }
      const problem = scanJsonText(frame, maxDepth)
      if (problem !== undefined) throw decodeFailed(`JSON frame ${problem}`)
      return parse(frame)
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
