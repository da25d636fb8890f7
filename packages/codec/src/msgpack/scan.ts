/**
 * A structural check of a MessagePack frame, run before msgpackr builds anything from it.
 *
 * msgpackr is fast and correct on well-formed input, but as a general-purpose library it also
 * accepts far more than a message may hold: its built-in extensions (structured-clone
 * references, `Set`, `Error`, `RegExp`, typed arrays, BigInt, msgpackr records) are registered
 * process-wide and cannot be switched off per instance; it renames a `__proto__` key to
 * `__proto_` instead of refusing it; it recurses once per nesting level; and it learns that a
 * length prefix lies only after it has started building the value. This scan walks the tokens
 * once, without allocating, and accepts exactly the value domain of the codec:
 *
 * nil, booleans, integers and floats, strings, binary, arrays, maps with string or number keys,
 * the timestamp extension (-1, decoded as `Date`) and msgpackr's fixext 1 type 0 (`undefined`).
 *
 * It also bounds nesting by `maxDepth` and the arrays, maps, binaries and timestamps of the frame
 * by `maxContainers` (a few bytes each, an object on the heap each once built), checks every length prefix against the bytes that are
 * actually there, refuses the forbidden keys (also spelled in overlong UTF-8, which some msgpackr
 * versions read as ASCII), refuses trailing bytes, and refuses 64-bit
 * integers outside `Number.MIN_SAFE_INTEGER..Number.MAX_SAFE_INTEGER` rather than round them.
 */

/** Why a frame is refused; the codec prefixes it with "msgpack frame". */
export type MsgpackProblem = string

const truncated: MsgpackProblem = 'is truncated or declares more data than it holds'

/** `__proto__`, `prototype` and `constructor` as UTF-8 bytes. */
const protoBytes = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]
const prototypeBytes = [0x70, 0x72, 0x6f, 0x74, 0x6f, 0x74, 0x79, 0x70, 0x65]
const constructorBytes = [0x63, 0x6f, 0x6e, 0x73, 0x74, 0x72, 0x75, 0x63, 0x74, 0x6f, 0x72]

// The container stack, reused across calls: the scan is synchronous and never re-entered, and
// its depth is bounded by `maxDepth`.
const stackRemaining: number[] = []
const stackIsMap: boolean[] = []

/** Returns why the frame is refused, or `undefined` when msgpackr may decode it. */
export function scanMsgpack(
  bytes: Uint8Array,
  maxDepth: number,
  maxContainers: number,
): MsgpackProblem | undefined {
  const end = bytes.length
  let position = 0
  let depth = 0
  let containers = 0
  // Items still to read in the current container; the top level holds exactly one value.
  let remaining = 1
  // Maps hold 2 items per entry; an item is a key when an odd number remain after taking it.
  let isMap = false

  for (;;) {
    if (remaining === 0) {
      if (depth === 0) break
      depth--
      remaining = stackRemaining[depth] ?? 0
      isMap = stackIsMap[depth] ?? false
      continue
    }
    remaining--
    if (position >= end) return truncated
    const token = bytes[position++] ?? 0
    const isKey = isMap && remaining % 2 === 1

    // fixstr: the most common token in messages (keys).
    if (token >= 0xa0 && token <= 0xbf) {
      const length = token & 0x1f
      if (length > end - position) return truncated
      if (isKey && isForbiddenKey(bytes, position, length)) return forbiddenKeyProblem
      if (overrunsString(bytes, position, length)) return cutOffProblem
      position += length
      continue
    }
    // positive and negative fixint
    if (token <= 0x7f || token >= 0xe0) continue

    if (isKey && !isKeyToken(token)) return 'has a map key that is not a string or a number'

    let count = -1
    let countIsMap = false
    if (token <= 0x8f) {
      count = token & 0x0f
      countIsMap = true
    } else if (token <= 0x9f) {
      count = token & 0x0f
    } else {
      switch (token) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          continue
        case 0xc1:
          return 'uses the reserved byte 0xc1'
        case 0xc4: // bin 8
        case 0xc5: // bin 16
        case 0xc6: // bin 32
        case 0xd9: // str 8
        case 0xda: // str 16
        case 0xdb: {
          // str 32
          const size =
            token === 0xc4 || token === 0xd9 ? 1 : token === 0xc5 || token === 0xda ? 2 : 4
          if (size > end - position) return truncated
          const length = readLength(bytes, position, size)
          position += size
          if (length > end - position) return truncated
          if (isKey && isForbiddenKey(bytes, position, length)) return forbiddenKeyProblem
          if (token !== 0xc4 && token !== 0xc5 && token !== 0xc6) {
            if (overrunsString(bytes, position, length)) return cutOffProblem
          } else if (++containers > maxContainers) {
            // A binary is a Uint8Array over an ArrayBuffer of its own (msgpackr copies it): some
            // 190 bytes of heap for the 2 bytes of an empty one, three times a map's. Uncounted,
            // a 1 MiB frame of them built 524,000 (100 MiB, 450 ms of one event loop).
            return tooManyProblem(maxContainers)
          }
          position += length
          continue
        }
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          if (4 > end - position) return truncated
          position += 4
          continue
        case 0xcb: // float 64
          if (8 > end - position) return truncated
          position += 8
          continue
        case 0xcc: // uint 8
        case 0xd0: // int 8
          if (1 > end - position) return truncated
          position += 1
          continue
        case 0xcd: // uint 16
        case 0xd1: // int 16
          if (2 > end - position) return truncated
          position += 2
          continue
        case 0xcf: // uint 64
        case 0xd3: {
          // int 64
          if (8 > end - position) return truncated
          if (!isSafeInt64(bytes, position, token === 0xd3)) {
            return 'holds a 64-bit integer outside the safe integer range'
          }
          position += 8
          continue
        }
        case 0xd4: // fixext 1
        case 0xd5: // fixext 2
        case 0xd6: // fixext 4
        case 0xd7: // fixext 8
        case 0xd8: {
          // fixext 16
          const length = 1 << (token - 0xd4)
          if (1 + length > end - position) return truncated
          const type = bytes[position] ?? 0
          const problem =
            extensionProblem(type, length, true) ?? timestampProblem(bytes, position + 1, length)
          if (problem !== undefined) return problem
          // A timestamp is a `Date`, an object too (some 120 bytes for 3 of frame); `undefined`
          // is none.
          if (type === 0xff && ++containers > maxContainers) return tooManyProblem(maxContainers)
          position += 1 + length
          continue
        }
        case 0xc7: // ext 8
        case 0xc8: // ext 16
        case 0xc9: {
          // ext 32
          const size = token === 0xc7 ? 1 : token === 0xc8 ? 2 : 4
          if (size + 1 > end - position) return truncated
          const length = readLength(bytes, position, size)
          position += size
          if (1 + length > end - position) return truncated
          const problem =
            extensionProblem(bytes[position] ?? 0, length, false) ??
            timestampProblem(bytes, position + 1, length)
          if (problem !== undefined) return problem
          // Only a timestamp gets here: a `Date`, counted as above.
          if (++containers > maxContainers) return tooManyProblem(maxContainers)
          position += 1 + length
          continue
        }
        case 0xdc: // array 16
        case 0xde: // map 16
          if (2 > end - position) return truncated
          count = readLength(bytes, position, 2)
          position += 2
          countIsMap = token === 0xde
          break
        case 0xdd: // array 32
        case 0xdf: // map 32
          if (4 > end - position) return truncated
          count = readLength(bytes, position, 4)
          position += 4
          countIsMap = token === 0xdf
          break
      }
    }

    // A container: every item takes at least one byte, so a count the rest of the frame cannot
    // hold is a lie, refused before anything is allocated for it.
    const items = countIsMap ? count * 2 : count
    if (items > end - position) return truncated
    if (depth >= maxDepth) return `nests deeper than maxDepth (${maxDepth})`
    // Empty ones too: `[]` and `{}` are the cheapest to send and still an object each.
    if (++containers > maxContainers) return tooManyProblem(maxContainers)
    if (items === 0) continue
    stackRemaining[depth] = remaining
    stackIsMap[depth] = isMap
    depth++
    remaining = items
    isMap = countIsMap
  }

  if (position !== end) return 'has bytes after the end of its value'
  return undefined
}

function tooManyProblem(maxContainers: number): MsgpackProblem {
  return `holds more than maxContainers (${maxContainers}) arrays, maps, binaries and timestamps`
}

const forbiddenKeyProblem: MsgpackProblem =
  'has a forbidden key (__proto__, constructor or prototype)'

const cutOffProblem: MsgpackProblem = 'has a string whose last character is cut off'

/**
 * Whether msgpackr's JavaScript UTF-8 reader, which takes a lead byte's sequence length on
 * trust, would read past the end of this string: it then goes on from inside the next token,
 * and builds values from bytes this scan took for string or binary content (a `Set`, a BigInt,
 * any extension). Only a lead byte among the last three can reach past the end, so the string
 * is walked as msgpackr walks it only when one is there. Valid UTF-8 never overruns.
 */
function overrunsString(bytes: Uint8Array, start: number, length: number): boolean {
  const end = start + length
  let suspect = false
  for (let back = 1; back <= 3 && back <= length; back++) {
    if (sequenceLength(bytes[end - back] ?? 0) > back) suspect = true
  }
  if (!suspect) return false
  let i = start
  while (i < end) i += sequenceLength(bytes[i] ?? 0)
  return i > end
}

/** The bytes msgpackr's reader takes for a sequence starting with `byte` (1 when not a lead). */
function sequenceLength(byte: number): number {
  if (byte < 0xc0) return 1
  if (byte < 0xe0) return 2
  if (byte < 0xf0) return 3
  return byte < 0xf8 ? 4 : 1
}

/**
 * Map keys msgpackr turns into property names: strings, and numbers (stringified, as a JS
 * object would). fixstr and fixint are handled before this is asked.
 */
function isKeyToken(token: number): boolean {
  return (
    (token >= 0xd9 && token <= 0xdb) || // str 8/16/32
    (token >= 0xca && token <= 0xd3) // float 32/64, uint 8..64, int 8..64
  )
}

function isForbiddenKey(bytes: Uint8Array, start: number, length: number): boolean {
  if (length === 9) {
    return matches(bytes, start, protoBytes) || matches(bytes, start, prototypeBytes)
  }
  if (length === 11 && matches(bytes, start, constructorBytes)) return true
  // Spelled with overlong sequences, a name takes 10 to 44 bytes (1 to 4 per letter), and its
  // first byte is the letter's or the lead of an overlong one: the only keys read further.
  if (length < 10 || length > 44) return false
  const first = bytes[start]
  return (
    (first === 0x5f ||
      first === 0x63 ||
      first === 0x70 ||
      first === 0xc1 ||
      first === 0xe0 ||
      first === 0xf0) &&
    spellsForbiddenKey(bytes, start, start + length)
  )
}

/**
 * Whether a key spells `__proto__`, `constructor` or `prototype` with overlong UTF-8 sequences
 * (`c1 9f` for `_`, `e0 81 a3` for `c`): invalid UTF-8, which msgpackr before 1.11.9 reads as
 * the letters they encode (its reader takes a sequence's bits without checking that it is the
 * shortest form, nor that the bytes after a lead are continuation bytes), and newer ones as
 * U+FFFD. Read here as the older reader reads it, so the key is refused whichever is installed.
 */
function spellsForbiddenKey(bytes: Uint8Array, start: number, end: number): boolean {
  // A key all in ASCII spells only itself, and is none of the names at this length: most keys
  // that reach here, checked without the array below.
  let ascii = true
  for (let k = start; k < end && ascii; k++) ascii = (bytes[k] as number) < 0x80
  if (ascii) return false
  const units: number[] = []
  let i = start
  while (i < end) {
    const byte = bytes[i++] as number
    let unit: number
    if (byte < 0x80) unit = byte
    else if (byte < 0xc0 || byte >= 0xf8) return false
    else if (byte < 0xe0) unit = ((byte & 0x1f) << 6) | ((bytes[i++] ?? 0) & 0x3f)
    else if (byte < 0xf0) {
      unit = ((byte & 0x0f) << 12) | (((bytes[i++] ?? 0) & 0x3f) << 6)
      unit |= (bytes[i++] ?? 0) & 0x3f
    } else {
      unit = ((byte & 0x07) << 18) | (((bytes[i++] ?? 0) & 0x3f) << 12)
      unit |= (((bytes[i++] ?? 0) & 0x3f) << 6) | ((bytes[i++] ?? 0) & 0x3f)
    }
    // None of the names has a letter outside ASCII, nor more than 11 of them.
    if (unit >= 0x80 || units.length === 11) return false
    units.push(unit)
  }
  const spelled = String.fromCharCode(...units)
  return spelled === '__proto__' || spelled === 'constructor' || spelled === 'prototype'
}

function matches(bytes: Uint8Array, start: number, expected: readonly number[]): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (bytes[start + i] !== expected[i]) return false
  }
  return true
}

/** A big-endian unsigned length of 1, 2 or 4 bytes. */
function readLength(bytes: Uint8Array, start: number, size: number): number {
  const b0 = bytes[start] ?? 0
  if (size === 1) return b0
  const b1 = bytes[start + 1] ?? 0
  if (size === 2) return (b0 << 8) | b1
  // Multiplication rather than `<< 24`, which would turn lengths of 2 GiB and over negative.
  return b0 * 0x1000000 + ((b1 << 16) | ((bytes[start + 2] ?? 0) << 8) | (bytes[start + 3] ?? 0))
}

/**
 * Whether the 64-bit integer at `start` is a safe JS integer. The high word times 2^32 plus the
 * low word is exact inside the safe range and rounds to a value outside it otherwise, so
 * `Number.isSafeInteger` of the sum decides exactly.
 */
function isSafeInt64(bytes: Uint8Array, start: number, signed: boolean): boolean {
  let high = readLength(bytes, start, 4)
  if (signed && high >= 0x80000000) high -= 0x100000000
  return Number.isSafeInteger(high * 0x100000000 + readLength(bytes, start + 4, 4))
}

/** Seconds from the epoch of the first and last instants a `Date` holds (±8.64e15 ms). */
const maxDateSeconds = 8_640_000_000_000

/**
 * Whether a timestamp's fields (its `length` bytes at `start`, when it is of type -1) are out of
 * the standard's range or of a `Date`'s, which msgpackr reads as another instant rather than
 * refuse: it takes 48 of the 64 bits of timestamp 96's seconds (2^48 s is the epoch), and a
 * nanosecond count of 2^31 or more as negative. Nanoseconds are under 10^9 in both forms with
 * them, and a `Date` is within 8.64e12 s of the epoch, inside those 48 bits; `msgpack()` writes
 * nothing else.
 */
function timestampProblem(
  bytes: Uint8Array,
  start: number,
  length: number,
): MsgpackProblem | undefined {
  if (bytes[start - 1] !== 0xff || length < 8) return undefined
  const nanoseconds =
    length === 8 ? Math.floor(readLength(bytes, start, 4) / 4) : readLength(bytes, start, 4)
  if (nanoseconds > 999_999_999) return 'has a timestamp of over 999,999,999 nanoseconds'
  if (length === 12) {
    let high = readLength(bytes, start + 4, 4)
    if (high >= 0x80000000) high -= 0x100000000
    // Exact inside the safe range, and far outside the bound when it rounds.
    const seconds = high * 0x100000000 + readLength(bytes, start + 8, 4)
    if (seconds > maxDateSeconds || seconds < -maxDateSeconds) {
      return 'has a timestamp outside the range of a Date'
    }
  }
  return undefined
}

/**
 * The extensions in the domain: the timestamp (type -1) in its three standard sizes, plus the
 * fixext 1 form msgpackr writes for an invalid `Date`, and fixext 1 type 0 for `undefined`.
 * Everything else, msgpackr's records and structured-clone references included, is refused.
 */
function extensionProblem(
  type: number,
  length: number,
  fixed: boolean,
): MsgpackProblem | undefined {
  if (type === 0xff) {
    if (length === 4 || length === 8 || length === 12 || (fixed && length === 1)) return undefined
    return 'has a timestamp of an invalid size'
  }
  if (type === 0 && fixed && length === 1) return undefined
  return `uses the unsupported extension type ${type > 0x7f ? type - 0x100 : type}`
}
