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

/** The defaults of {@link CodecLimits}. */
export const codecLimitsDefaults = {
  maxBytes: 1_048_576,
  maxDepth: 64,
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
  const maxBytes = options?.maxBytes ?? codecLimitsDefaults.maxBytes
  const maxDepth = options?.maxDepth ?? codecLimitsDefaults.maxDepth
  if (!(maxBytes === Infinity || (Number.isSafeInteger(maxBytes) && maxBytes > 0))) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `maxBytes must be a positive integer or Infinity, got ${String(maxBytes)}`,
    )
  }
  if (!(Number.isSafeInteger(maxDepth) && maxDepth > 0)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `maxDepth must be a positive integer, got ${String(maxDepth)}`,
    )
  }
  return { maxBytes, maxDepth }
}

/**
 * Object keys no decoder lets through. `__proto__` would replace the prototype of whatever the
 * value is later merged or `Object.assign`ed into; `constructor` and `prototype` are the other
 * two steps of the classic `obj.constructor.prototype` pollution gadget.
 */
export const forbiddenKeys: readonly string[] = ['__proto__', 'constructor', 'prototype']

export function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype'
}

/**
 * UTF-8 length of a string, without allocating. Lone surrogates count as the 3 bytes of U+FFFD,
 * which is what every UTF-8 encoder on the web platform writes for them.
 */
export function utf8Length(text: string): number {
  const length = text.length
  let bytes = length
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) continue
    if (unit < 0x800) bytes += 1
    else if (
      unit >= 0xd800 &&
      unit <= 0xdbff &&
      i + 1 < length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      // A surrogate pair: two units, four bytes.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
}

/**
 * True when a text frame is over `maxBytes` UTF-8 bytes. Each UTF-16 unit is 1 to 3 bytes, so
 * the exact count is only needed when `length` and `3 * length` straddle the limit. Then the
 * runtime's native count is used where there is one (Node, Bun, Deno: 4 to 40 times faster than
 * counting in JS, which costs more than parsing the text).
 */
export function textExceeds(text: string, maxBytes: number): boolean {
  const length = text.length
  if (length > maxBytes) return true
  if (length * 3 <= maxBytes) return false
  const bytes = typeof Buffer === 'function' ? Buffer.byteLength(text, 'utf8') : utf8Length(text)
  return bytes > maxBytes
}
