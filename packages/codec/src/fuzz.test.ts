/**
 * Fuzzing both decoders with 100,000 frames each: 50,000 random and 50,000 mutated valid frames
 * (bit flips, overwrites, insertions of hostile snippets, deletions, truncations).
 *
 * For every frame: only a `LifelineError` escapes, no frame takes 100 ms, and what decodes can
 * be merged into an object without giving it an inherited property. After all of them:
 * `Object.prototype` and `Array.prototype` are as they were, and the codec still decodes a
 * valid frame. A failure prints the seed and path that replay it: set `CODEC_FUZZ_SEED` to run
 * another sequence.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Codec } from './codec.js'
import { isLifelineError } from './errors.js'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'

const seed = Number(process.env.CODEC_FUZZ_SEED ?? 20_261_125)
const runsPerKind = 50_000
const slowMs = 100
/** The fast-check runs below are long: generous, but bounded. */
const testTimeoutMs = 60_000

interface Stats {
  decoded: number
  refused: number
  maxMs: number
}

/** Decodes one frame and enforces the per-frame rules. */
function attempt(codec: Codec, frame: string | Uint8Array, stats: Stats): void {
  const started = performance.now()
  const outcome = tryDecode(codec, frame)
  let elapsed = performance.now() - started
  if (elapsed > slowMs) {
    // A real slow input is slow every time; a pause of a loaded machine is not.
    elapsed = Math.min(...[0, 1, 2].map(() => timeDecode(codec, frame)))
    if (elapsed > slowMs) throw new Error(`decoding took ${elapsed.toFixed(1)} ms`)
  }
  stats.maxMs = Math.max(stats.maxMs, elapsed)
  if (!outcome.ok) {
    stats.refused++
    return
  }
  stats.decoded++
  const merged: Record<string, unknown> = Object.assign({}, outcome.value)
  if (Object.getPrototypeOf(merged) !== Object.prototype) {
    throw new Error('a decoded value changed the prototype of an object it was merged into')
  }
}

function tryDecode(codec: Codec, frame: string | Uint8Array) {
  try {
    return { ok: true, value: codec.decode(frame) } as const
  } catch (error) {
    if (!isLifelineError(error)) throw error
    return { ok: false } as const
  }
}

function timeDecode(codec: Codec, frame: string | Uint8Array): number {
  const started = performance.now()
  tryDecode(codec, frame)
  return performance.now() - started
}

/** Values whose frames the mutations start from. */
const seedValues: readonly unknown[] = [
  null,
  0,
  -1,
  1.5,
  2 ** 40,
  '',
  'text',
  'é日😀',
  [],
  {},
  [1, [2, [3, [4]]]],
  { t: 'chat.message', s: 42, d: { room: 'general', text: 'hi', at: 1_732_500_000_000 } },
  { t: '$hello', d: { v: 1, sid: 'abc', a: 17 } },
  { a: { b: { c: { d: [null, true, false, 'x'.repeat(40)] } } } },
  { list: Array.from({ length: 20 }, (_, i) => ({ id: i, ok: i % 2 === 0 })) },
  { long: 'y'.repeat(300), keys: { 'with space': 1, '': 2, __proto_: 3 } },
  ...fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 60, seed }),
]

/** Snippets a hostile peer would try, spliced into valid frames. */
const msgpackSnippets: readonly (readonly number[])[] = [
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str 32 claiming 4 GiB
  [0xc6, 0xff, 0xff, 0xff, 0xff], // bin 32 claiming 4 GiB
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array 32 claiming 4 billion items
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map 32 claiming 4 billion entries
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext 32 claiming 4 GiB
  [0xd4, 0x72, 0x40], // msgpackr record definition
  [0xd5, 0x72, 0x40, 0x00],
  [0xd6, 0x69, 0, 0, 0, 1], // structured-clone id
  [0xd6, 0x70, 0, 0, 0, 1], // structured-clone pointer
  [0xd4, 0x73, 0x00], // Set
  [0xd4, 0x78, 0x00], // RegExp
  [0xd6, 0x62, 0, 0, 0, 0x10], // bundled strings
  [0xc7, 0x02, 0x74, 0x01, 0x00], // typed array
  [0xc1],
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint 64 beyond 2^53
  [0xd5, 0xff, 0x00, 0x00], // timestamp of a bad size
  [0xa9, ...Buffer.from('__proto__')],
  [0xab, ...Buffer.from('constructor')],
  [0xa9, ...Buffer.from('prototype')],
  new Array<number>(100).fill(0x91), // depth
  new Array<number[]>(40).fill([0x81, 0xa1, 0x61]).flat(),
]

const jsonSnippets: readonly string[] = [
  '"__proto__":',
  '{"__proto__":{"polluted":true}}',
  '"\\u005f_proto__":',
  '"constructor":{"prototype":{"polluted":1}}',
  '"prototype":',
  '"\\u0063onstructor":',
  '['.repeat(100),
  '{"a":'.repeat(70),
  ']'.repeat(10),
  '"\\\\"',
  '"\\"',
  '\\u',
  '1e999',
  '-0',
  '\u0000',
  '\ud800',
  'null',
  ',',
  ':',
]

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; snippet: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), snippet: fc.nat() }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
)

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 })

function mutateBytes(base: Uint8Array, steps: readonly Mutation[]): Uint8Array {
  let bytes = Array.from(base)
  for (const step of steps) {
    const at = bytes.length === 0 ? 0 : step.at % (bytes.length + 1)
    const index = Math.min(at, bytes.length - 1)
    switch (step.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[index] = (bytes[index] ?? 0) ^ (1 << step.bit)
        break
      case 'set':
        if (bytes.length > 0) bytes[index] = step.byte
        break
      case 'insert':
        bytes.splice(at, 0, ...(msgpackSnippets[step.snippet % msgpackSnippets.length] ?? []))
        break
      case 'delete':
        bytes.splice(at, step.length)
        break
      case 'truncate':
        bytes = bytes.slice(0, at)
        break
    }
  }
  return Uint8Array.from(bytes)
}

function mutateText(base: string, steps: readonly Mutation[]): string {
  let text = base
  for (const step of steps) {
    const at = step.at % (text.length + 1)
    switch (step.kind) {
      case 'flip':
        text =
          text.slice(0, at) +
          String.fromCharCode((text.charCodeAt(at) || 0x20) ^ (1 << step.bit)) +
          text.slice(at + 1)
        break
      case 'set':
        text = text.slice(0, at) + String.fromCharCode(step.byte) + text.slice(at + 1)
        break
      case 'insert':
        text =
          text.slice(0, at) +
          (jsonSnippets[step.snippet % jsonSnippets.length] ?? '') +
          text.slice(at)
        break
      case 'delete':
        text = text.slice(0, at) + text.slice(at + step.length)
        break
      case 'truncate':
        text = text.slice(0, at)
        break
    }
  }
  return text
}

const interestingBytes = fc.oneof(
  fc.nat(255),
  fc.constantFrom(
    0x80,
    0x81,
    0x90,
    0x91,
    0xa9,
    0xab,
    0xc1,
    0xc7,
    0xd4,
    0xd6,
    0xdb,
    0xdd,
    0xdf,
    0xff,
  ),
)
const randomMsgpackFrame = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc.array(interestingBytes, { maxLength: 64 }).map((bytes) => Uint8Array.from(bytes)),
)

const jsonAlphabet = '{}[]":,0123456789.-+eE tfnrul\\_aps'.split('')
const randomJsonFrame = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 48 }),
  fc.string({ unit: fc.constantFrom(...jsonAlphabet), maxLength: 64 }),
)

interface Target {
  readonly codec: Codec
  readonly random: fc.Arbitrary<string | Uint8Array>
  readonly mutated: fc.Arbitrary<string | Uint8Array>
  readonly valid: string | Uint8Array
  readonly invalid: string | Uint8Array
}

function targets(): Record<'json' | 'msgpack', Target> {
  const jsonCodec = json()
  const msgpackCodec = msgpack()
  const texts = seedValues.flatMap((value) => {
    try {
      return [jsonCodec.encode(value)]
    } catch {
      return []
    }
  })
  const frames = seedValues.flatMap((value) => {
    try {
      return [Uint8Array.from(msgpackCodec.encode(value))]
    } catch {
      return []
    }
  })
  return {
    json: {
      codec: jsonCodec,
      random: randomJsonFrame,
      mutated: fc
        .tuple(fc.constantFrom(...texts), mutations)
        .map(([text, steps]) => mutateText(text, steps)),
      valid: '{"ok":[1,"two",null]}',
      invalid: '{"ok":',
    },
    msgpack: {
      codec: msgpackCodec,
      random: randomMsgpackFrame,
      mutated: fc
        .tuple(fc.constantFrom(...frames), mutations)
        .map(([frame, steps]) => mutateBytes(frame, steps)),
      valid: msgpackCodec.encode({ ok: [1, 'two', null] }),
      invalid: Uint8Array.of(0x81, 0xc1),
    },
  }
}

function prototypeSnapshot(): Map<string, unknown> {
  const snapshot = new Map<string, unknown>()
  for (const [name, target] of [
    ['Object', Object.prototype],
    ['Array', Array.prototype],
  ] as const) {
    for (const key of Reflect.ownKeys(target)) {
      const descriptor = Object.getOwnPropertyDescriptor(target, key)
      snapshot.set(`${name}.${String(key)}`, descriptor?.value ?? descriptor?.get)
    }
  }
  return snapshot
}

describe.each(['json', 'msgpack'] as const)('%s decoder under fuzzing', (name) => {
  const target = targets()[name]
  const stats: Stats = { decoded: 0, refused: 0, maxMs: 0 }
  let before: Map<string, unknown>

  beforeAll(() => {
    before = prototypeSnapshot()
    // Compile the decoder's paths first, so the first fuzzed frames are not timed with the JIT.
    for (let i = 0; i < 200; i++) {
      tryDecode(target.codec, target.valid)
      tryDecode(target.codec, target.invalid)
    }
  })

  it(
    `survives ${runsPerKind.toLocaleString('en')} random frames`,
    () => {
      fc.assert(
        fc.property(target.random, (frame) => attempt(target.codec, frame, stats)),
        { numRuns: runsPerKind, seed },
      )
    },
    testTimeoutMs,
  )

  it(
    `survives ${runsPerKind.toLocaleString('en')} mutated valid frames`,
    () => {
      fc.assert(
        fc.property(target.mutated, (frame) => attempt(target.codec, frame, stats)),
        { numRuns: runsPerKind, seed: seed + 1 },
      )
    },
    testTimeoutMs,
  )

  it('has exercised both outcomes, and still decodes a valid frame', async ({ annotate }) => {
    // A fuzzer that only ever hits the refusal path, or never does, tests too little.
    expect(stats.refused).toBeGreaterThan(runsPerKind / 10)
    expect(stats.decoded).toBeGreaterThan(runsPerKind / 100)
    expect(target.codec.decode(target.valid)).toEqual({ ok: [1, 'two', null] })
    await annotate(
      `${name}: ${stats.decoded} decoded, ${stats.refused} refused, slowest ${stats.maxMs.toFixed(2)} ms`,
    )
  })

  afterAll(() => {
    expect(prototypeSnapshot()).toEqual(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('explicit hostile frames', () => {
  const jsonCodec = json({ maxBytes: Infinity })
  const msgpackCodec = msgpack({ maxBytes: Infinity })

  it('refuses a 16 MiB depth bomb in well under 100 ms when size is unlimited', () => {
    const half = 8 << 20
    const text = '['.repeat(half) + ']'.repeat(half)
    const bytes = new Uint8Array(16 << 20).fill(0x91)
    for (const [codec, frame] of [
      [jsonCodec, text],
      [msgpackCodec, bytes],
    ] as const) {
      expect(() => codec.decode(frame)).toThrow(expect.objectContaining({ code: 'DECODE_FAILED' }))
      // The fastest of three: a pause of a loaded machine is not the decoder's slowness.
      expect(Math.min(...[0, 1, 2].map(() => timeDecode(codec, frame)))).toBeLessThan(slowMs)
    }
  })

  it('refuses a msgpack header claiming 4 GiB without allocating for it', () => {
    for (const header of [0xdb, 0xc6, 0xdd, 0xdf]) {
      const frame = Uint8Array.from([header, 0xff, 0xff, 0xff, 0xff, 0x61])
      expect(() => msgpackCodec.decode(frame)).toThrow(
        expect.objectContaining({ code: 'DECODE_FAILED', closeCode: 1007 }),
      )
      expect(Math.min(...[0, 1, 2].map(() => timeDecode(msgpackCodec, frame)))).toBeLessThan(slowMs)
    }
  })
})
