import { expectTypeOf } from 'vitest'
import type { BinaryCodec, Codec, InboundFrame, TextCodec } from './codec.js'
import { selectCodec } from './codec.js'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'

// The factories keep the kind of frame in the type, and both are plain Codecs.
expectTypeOf(json()).toEqualTypeOf<TextCodec>()
expectTypeOf(msgpack()).toEqualTypeOf<BinaryCodec>()
expectTypeOf(json().encode(1)).toEqualTypeOf<string>()
expectTypeOf(msgpack().encode(1)).toEqualTypeOf<Uint8Array>()
expectTypeOf(json()).toExtend<Codec>()
expectTypeOf(msgpack()).toExtend<Codec>()

// Frames as browsers and `ws` deliver them are all accepted.
expectTypeOf<Buffer>().toExtend<InboundFrame>()
expectTypeOf<ArrayBuffer>().toExtend<InboundFrame>()
expectTypeOf<string>().toExtend<InboundFrame>()

// Decoded values are unknown until the caller validates them.
expectTypeOf(json().decode('1')).toBeUnknown()

// selectCodec keeps the element type of the list it is given.
expectTypeOf(selectCodec('x', [json()])).toEqualTypeOf<TextCodec | undefined>()

// Options are checked: units are numbers, and nothing else is accepted.
// @ts-expect-error maxBytes is a number of bytes
json({ maxBytes: '1MB' })
// @ts-expect-error no such option
msgpack({ useRecords: true })

// Limits a wrapper passes on as it got them, under exactOptionalPropertyTypes: `undefined` is
// "not given".
declare const maybe: { maxBytes?: number; maxDepth?: number; maxContainers?: number }
json({ maxBytes: maybe.maxBytes, maxDepth: maybe.maxDepth, maxContainers: maybe.maxContainers })
msgpack({ maxBytes: maybe.maxBytes, maxDepth: maybe.maxDepth, maxContainers: maybe.maxContainers })
