import { LifelineError } from './errors.js'

/**
 * Limits every codec enforces in both directions: `decode` refuses a frame over them, and
 * `encode` refuses to produce one, so a frame a codec emits is always one its peer (with the same
 * limits) accepts.
 */
export interface CodecLimits {
  /**
   * Largest frame, in bytes (UTF-8 bytes for text frames). Checked before any parsing work.
   * `Infinity` disables the check.
   * @default 1_048_576 (1 MiB)
   */
  maxBytes?: number
  /**
   * Deepest nesting of arrays and objects. A scalar is depth 0, `[]` and `{}` are depth 1,
   * `{"a":[1]}` is depth 2. Checked before the value is built, so a depth bomb never reaches the
   * parser's recursion.
   * @default 64
   */
  maxDepth?: number
}

// Top-level constants rather than properties of `codecLimitsDefaults`: a bundle that only uses
// them does not carry the object.
const defaultMaxBytes = 1_048_576
const defaultMaxDepth = 64

/** The defaults of {@link CodecLimits}. */
export const codecLimitsDefaults = {
  maxBytes: defaultMaxBytes,
  maxDepth: defaultMaxDepth,
} as const satisfies Required<CodecLimits>

/** Limits after defaults and validation. */
export interface ResolvedLimits {
  readonly maxBytes: number
  readonly maxDepth: number
}

/**
 * Applies defaults and rejects nonsense early: a limit of `0`, `-1` or `NaN` is a caller's
 * mistake, and silently treating it as "no limit" would hide it.
 */
export function resolveLimits(options: CodecLimits | undefined): ResolvedLimits {
  const limits = {
    maxBytes: options?.maxBytes ?? defaultMaxBytes,
    maxDepth: options?.maxDepth ?? defaultMaxDepth,
  }
  for (const [name, value] of Object.entries(limits)) {
    // Only the size may be unlimited.
    if (!(Number.isSafeInteger(value) ? value > 0 : name === 'maxBytes' && value === Infinity)) {
      throw new LifelineError(
        'INVALID_ARGUMENT',
        `${name} must be a positive integer, got ${value}`,
      )
    }
  }
  return limits
}

/**
 * True when a text frame is over `maxBytes` UTF-8 bytes. Each UTF-16 unit is 1 to 3 bytes, so
 * the exact count is only needed when `length` and `3 * length` straddle the limit (frames of
 * 349,526 to 1,048,576 units by default). Then `TextEncoder` counts, whose copy costs less than a
 * count in JS; it is on every platform (Node's `Buffer.byteLength` would spare the copy, but
 * would put Node-only code in every browser bundle for a path that large frames alone take). It
 * counts a lone surrogate as the 3 bytes of U+FFFD, as every UTF-8 encoder writes it.
 */
export function textExceeds(text: string, maxBytes: number): boolean {
  const length = text.length
  return (
    length > maxBytes || (length * 3 > maxBytes && new TextEncoder().encode(text).length > maxBytes)
  )
}
