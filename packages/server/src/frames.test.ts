import { createRequire } from 'node:module'
import { json, Prepared, type Codec } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { describe, expect, it } from 'vitest'
import {
  encodeEnvelope,
  keptBefore,
  keptBytes,
  keptFrameMinBytes,
  roomFrame,
  SentFrame,
  smallMessage,
  preparedFor,
  splicedFrame,
  storedEnvelope,
  webSocketMessage,
} from './frames.js'

/** True when `bytes` is all of its buffer: keeping it holds nothing more. */
const ownsItsBuffer = (bytes: Uint8Array) =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength

describe('keptBytes', () => {
  it('keeps a small frame as its payload: its bytes would be a slice of a shared slab', () => {
    expect(keptBytes('x'.repeat(keptFrameMinBytes - 1))).toBeUndefined()
    expect(keptBytes(new Uint8Array(keptFrameMinBytes - 1))).toBeUndefined()
  })

  it("keeps a large frame's bytes in a buffer of their own", () => {
    const text = keptBytes('é'.repeat(keptFrameMinBytes)) as Uint8Array
    expect(Buffer.from(text).toString()).toBe('é'.repeat(keptFrameMinBytes))
    expect(ownsItsBuffer(text)).toBe(true)
    const shared = new Uint8Array(4 * keptFrameMinBytes).fill(7)
    const view = shared.subarray(keptFrameMinBytes, 3 * keptFrameMinBytes)
    const copy = keptBytes(view) as Uint8Array
    expect(Buffer.from(copy).equals(view)).toBe(true)
    expect(ownsItsBuffer(copy)).toBe(true)
    const whole = new Uint8Array(keptFrameMinBytes)
    expect(keptBytes(whole)).toBe(whole)
  })
})

describe('SentFrame', () => {
  const codec = json()
  const payload = { text: 'x'.repeat(keptFrameMinBytes) }
  const frame = () => {
    const bytes = keptBytes(codec.encode({ t: 'm', d: payload, s: 3, a: 1 })) as Uint8Array
    return new SentFrame(codec, bytes, 1)
  }

  it('is its own bytes on its codec, and encoded again from its payload on another', () => {
    const sent = frame()
    expect(encodeEnvelope(codec, { t: 'm', d: sent, s: 3, a: 2 })).toBe(sent.bytes)
    const other = json()
    expect(other.decode(encodeEnvelope(other, { t: 'm', d: sent, s: 3, a: 2 }) as string)).toEqual({
      t: 'm',
      d: payload,
      s: 3,
      a: 2,
    })
  })

  it('gives a store the payload when it reads it, as a copy or a serializer does', () => {
    const stored = storedEnvelope({ t: 'm', d: frame(), s: 3 })
    expect({ ...stored }).toEqual({ t: 'm', d: payload, s: 3 })
    expect(JSON.parse(JSON.stringify(stored))).toEqual({ t: 'm', d: payload, s: 3 })
    expect(storedEnvelope({ t: 'm', s: 4 })).toEqual({ t: 'm', s: 4 })
  })

  it("lets a store replace or delete the payload, as any plain object's", () => {
    const stored = storedEnvelope({ t: 'm', d: frame(), s: 3 })
    stored.d = 'compressed'
    expect(stored).toEqual({ t: 'm', d: 'compressed', s: 3 })
    delete stored.d
    expect(stored).toEqual({ t: 'm', s: 3 })
  })
})

describe('keptBefore', () => {
  it('knows a payload kept in this turn, and forgets it when the turn ends', async () => {
    const payload = { big: true }
    expect(keptBefore(payload)).toBe(false)
    expect(keptBefore(payload)).toBe(true)
    expect(keptBefore({ big: true })).toBe(false)
    await new Promise((resolve) => setImmediate(resolve))
    expect(keptBefore(payload)).toBe(false)
  })
})

/** `ws`'s own framing, as its `Sender` writes a server's message: the reference. */
const { Sender } = createRequire(import.meta.url)('ws') as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; mask: boolean; opcode: number; readOnly: boolean; rsv1: boolean },
    ): Buffer[]
  }
}

function wsFramed(payload: Buffer, binary: boolean): Buffer {
  const options = { fin: true, mask: false, opcode: binary ? 2 : 1, readOnly: true, rsv1: false }
  return Buffer.concat(Sender.frame(payload, options))
}

describe('webSocketMessage', () => {
  it('frames a message as ws does, at every length encoding', () => {
    for (const length of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(length, 0x61)
      for (const binary of [false, true]) {
        expect(webSocketMessage(payload, binary).equals(wsFramed(payload, binary))).toBe(true)
      }
    }
  })
})

describe('smallMessage', () => {
  it('frames a text or binary frame as ws does, text under 126 bytes written in place', () => {
    for (const text of [
      '',
      '{"t":"$ack","a":7}',
      'é'.repeat(62),
      'é'.repeat(63),
      'x'.repeat(300),
    ]) {
      expect(smallMessage(text, false).equals(wsFramed(Buffer.from(text), false))).toBe(true)
    }
    const bytes = new Uint8Array([0x82, 0xa1, 0x74])
    expect(smallMessage(bytes, true).equals(wsFramed(Buffer.from(bytes), true))).toBe(true)
  })
})

describe('roomFrame', () => {
  it('encodes and frames a room message once for every member on a codec', () => {
    const codec = json()
    const data = { text: 'hi' }
    const first = roomFrame(codec, 'lobby', '1-0', 'said', data)
    expect(roomFrame(codec, 'lobby', '1-0', 'said', data)).toBe(first)
    expect(JSON.parse(first.frame.toString())).toEqual({ t: 'said', d: data, r: ['lobby', '1-0'] })
    expect(first.framed.equals(wsFramed(first.frame, false))).toBe(true)
    // The next message is encoded afresh.
    expect(roomFrame(codec, 'lobby', '2-0', 'said', data).frame).not.toEqual(first.frame)
  })
})

/** `codec.prepare`, which the JSON and MessagePack codecs have. */
/** A payload prepared for a broadcast on `codec`, as the server prepares it. */
function prepareWith(codec: Codec, value: unknown): Prepared {
  const prepared = preparedFor(codec, value, new Map())
  if (!(prepared instanceof Prepared)) throw new Error('the codec prepares nothing')
  return prepared
}

describe('splicedFrame', () => {
  const codec = json()
  const payload = { text: 'é'.repeat(8_000), n: [1, 2, 3] }

  it("makes a broadcast's JSON frame as the codec would, around one buffer every session shares", () => {
    const prepared = prepareWith(codec, payload)
    const first = splicedFrame(codec, { t: 'news', d: prepared, s: 7, a: 3 })
    const second = splicedFrame(codec, { t: 'news', d: prepared, s: 12_345, a: 0 })
    if (first === undefined || second === undefined) throw new Error('not spliced')
    for (const [frame, s, a] of [
      [first, 7, 3],
      [second, 12_345, 0],
    ] as const) {
      const expected = encodeEnvelope(codec, { t: 'news', d: prepared, s, a }) as string
      expect(frame.joined().toString()).toBe(expected)
      expect(frame.byteLength).toBe(Buffer.byteLength(expected))
      expect(codec.decode(frame.joined().toString())).toEqual({ t: 'news', s, a, d: payload })
      // As one WebSocket message: a header of 4 bytes (a length under 64 KiB), the rest as it is.
      const [head, rest] = frame.framed()
      expect(Buffer.concat([head, rest]).equals(webSocketMessage(frame.joined(), false))).toBe(true)
    }
    // The payload's bytes are made once: the same buffer in every session's frame.
    expect(second.rest).toBe(first.rest)
    expect(first.start.byteLength).toBeLessThan(64)
  })

  it('leaves every other frame to encodeEnvelope', () => {
    const prepared = prepareWith(codec, payload)
    // Not a prepared payload, a binary codec, a frame over the codec's limit.
    expect(splicedFrame(codec, { t: 'news', d: payload, s: 1 })).toBeUndefined()
    const binary = msgpack()
    expect(
      splicedFrame(binary, { t: 'news', d: prepareWith(binary, payload), s: 1 }),
    ).toBeUndefined()
    const limit = Buffer.byteLength(
      encodeEnvelope(codec, { t: 'n', d: prepareWith(codec, payload), s: 1 }) as string,
    )
    const small = json({ maxBytes: limit })
    const near = prepareWith(small, payload)
    expect(splicedFrame(small, { t: 'n', d: near, s: 1 })).toBeDefined()
    expect(splicedFrame(small, { t: 'news'.repeat(20), d: near, s: 1 })).toBeUndefined()
    // A payload another codec prepared (its limits are its own), the application's (its value
    // may have changed since), or one for a server's own `prepare` call: encoded whole.
    const shallow = json({ maxDepth: 2 })
    const deep = prepareWith(json(), { a: { b: { c: 'x'.repeat(5_000) } } })
    expect(splicedFrame(shallow, { t: 'news', d: deep, s: 1 })).toBeUndefined()
    expect(() => encodeEnvelope(shallow, { t: 'news', d: deep, s: 1 })).toThrow()
    const value = { v: 'x'.repeat(5_000), n: 1 }
    const theirs = new Prepared(value)
    expect(splicedFrame(codec, { t: 'news', d: theirs, s: 1 })).toBeUndefined()
    expect(splicedFrame(codec, { t: 'news', d: codec.prepare?.(payload), s: 1 })).toBeUndefined()
    expect(splicedFrame(codec, { t: 'news', d: prepared, s: 1 })).toBeDefined()
  })

  it("leaves a small payload to encodeEnvelope: its bytes would pin a shared slab's 8 KiB", () => {
    const small = prepareWith(codec, { text: 'x'.repeat(keptFrameMinBytes - 20) })
    expect(splicedFrame(codec, { t: 'news', d: small, s: 1 })).toBeUndefined()
    const large = prepareWith(codec, { text: 'x'.repeat(keptFrameMinBytes) })
    // Its bytes have a buffer of their own (but the `{` before them).
    const rest = splicedFrame(codec, { t: 'news', d: large, s: 1 })?.rest
    expect(rest?.buffer.byteLength).toBe((rest?.byteLength ?? 0) + 1)
  })

  it('frames a payload of 64 KiB and more with the 8-byte length', () => {
    const prepared = prepareWith(codec, { text: 'x'.repeat(70_000) })
    const frame = splicedFrame(codec, { t: 'news', d: prepared, s: 3, a: 1 })
    if (frame === undefined) throw new Error('not spliced')
    const [head, rest] = frame.framed()
    expect(head[1]).toBe(127)
    expect(Buffer.concat([head, rest]).equals(webSocketMessage(frame.joined(), false))).toBe(true)
  })
})
