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
  maxBytes?: number | undefined
  /**
   * Deepest nesting of arrays and objects. A scalar is depth 0, `[]` and `{}` are depth 1,
   * `{"a":[1]}` is depth 2. Checked before the value is built, so a depth bomb never reaches the
   * parser's recursion.
   * @default 64
   */
  maxDepth?: number | undefined
  /**
   * Most arrays and objects (msgpack maps) in one frame, at every depth, empty ones included;
   * msgpack counts binaries (`Uint8Array`) and timestamps (`Date`) too, objects once decoded.
   * Each is an object on the heap, 40 to 64 bytes for a byte or two of frame: without this, a
   * 1 MiB frame of empty maps builds a million of them (64 MiB). Checked before the value is
   * built (for JSON, on frames with more brackets and braces than the limit could hold
   * anyway). `Infinity` disables the check.
   * @default 262_144
   */
  maxContainers?: number | undefined
}

// Top-level constants rather than properties of `codecLimitsDefaults`: a bundle that only uses
// them does not carry the object.
const defaultMaxBytes = 1_048_576
const defaultMaxDepth = 64
// A quarter of the default maxBytes: a 1 MiB frame of records of at least 4 bytes each (`{"a":1}`
// in msgpack) fits, and the most a frame at the limit builds in containers (about 16 MiB) is no
// more than an honest frame of pairs of small integers (`[[1,2],[3,4],...]`, 3 bytes each) does.
const defaultMaxContainers = 262_144

/** The defaults of {@link CodecLimits}. */
export const codecLimitsDefaults = {
  maxBytes: defaultMaxBytes,
  maxDepth: defaultMaxDepth,
  maxContainers: defaultMaxContainers,
} as const satisfies Required<CodecLimits>

/** Limits after defaults and validation. */
export interface ResolvedLimits {
  readonly maxBytes: number
  readonly maxDepth: number
  readonly maxContainers: number
}

/**
 * The arrays and objects an encode-side walk may still meet (`left`, which goes below 0 when it
 * meets more). A walk counts down from what the frame has room for, and what is left after it
 * tells how many it met: a prepared value's count is taken out of the room of every frame it is
 * spliced into.
 */
export interface ContainerBudget {
  left: number
}

/**
 * Applies defaults and rejects nonsense early: a limit of `0`, `-1` or `NaN` is a caller's
 * mistake, and silently treating it as "no limit" would hide it.
 */
export function resolveLimits(options: CodecLimits | undefined): ResolvedLimits {
  const limits = {
    maxBytes: options?.maxBytes ?? defaultMaxBytes,
    maxDepth: options?.maxDepth ?? defaultMaxDepth,
    maxContainers: options?.maxContainers ?? defaultMaxContainers,
  }
  for (const [name, value] of Object.entries(limits)) {
    // Only the depth may not be unlimited: its scans and walks recurse or stack once per level.
    if (!(Number.isSafeInteger(value) ? value > 0 : name !== 'maxDepth' && value === Infinity)) {
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
