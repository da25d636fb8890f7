import * as ws from 'ws'
import { describe, expect, it } from 'vitest'
import { gatherFrame, maxGatheredPayload } from './frames.js'
import type { GatherStream } from './writeBatch.js'

/** `ws`'s own framing (public in its code, not in its types), the reference for the bytes. */
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] }
}

/** A stream that keeps a copy of every buffer written to it. */
function recorder() {
  const writes: Buffer[] = []
  const stream: GatherStream = {
    writable: true,
    destroyed: false,
    writableLength: 0,
    writableCorked: 0,
    cork: () => undefined,
    uncork: () => undefined,
    write: (chunk: Uint8Array) => void writes.push(Buffer.from(chunk)),
  }
  return { stream, writes }
}

const endOfTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/** Splits frames as RFC 6455 § 5.2 lays them out; payloads unmasked. */
function parseFrames(bytes: Buffer) {
  const frames = []
  for (let at = 0; at < bytes.length;) {
    const first = bytes[at] as number
    const second = bytes[at + 1] as number
    const long = (second & 0x7f) === 126
    const length = long ? bytes.readUInt16BE(at + 2) : second & 0x7f
    const headerBytes = long ? 4 : 2
    const masked = (second & 0x80) !== 0
    const key = masked ? bytes.subarray(at + headerBytes, at + headerBytes + 4) : undefined
    const start = at + headerBytes + (masked ? 4 : 0)
    const payload = Buffer.from(bytes.subarray(start, start + length))
    if (key)
      for (let i = 0; i < length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number)
    frames.push({
      fin: (first & 0x80) !== 0,
      rsv: first & 0x70,
      opcode: first & 0x0f,
      key,
      payload,
    })
    // The same frame as `ws` builds with this key.
    const reference = Sender.frame(Buffer.from(payload), {
      fin: true,
      opcode: first & 0x0f,
      mask: masked,
      maskBuffer: key && Buffer.from(key),
      generateMask: () => undefined,
      readOnly: false,
      rsv1: false,
    })
    expect(bytes.subarray(at, start + length)).toEqual(Buffer.concat(reference))
    at = start + length
  }
  return frames
}

describe('gatherFrame', () => {
  const texts = [
    '',
    'x',
    'x'.repeat(125),
    'x'.repeat(126),
    // Under 126 UTF-16 units, over 125 bytes of UTF-8: the header grows after the text is in.
    'é'.repeat(63),
    '😀'.repeat(40),
    `${'x'.repeat(120)}€€`,
    'é€😀 '.repeat(500),
    'x'.repeat(maxGatheredPayload / 3),
  ]

  it('frames text as `ws` does, masked, one buffer for the turn', async () => {
    const { stream, writes } = recorder()
    for (const text of texts) gatherFrame(stream, text, true)
    expect(writes).toEqual([])
    await endOfTurn()
    expect(writes).toHaveLength(1)
    const frames = parseFrames(writes[0] as Buffer)
    expect(frames.map((frame) => frame.payload.toString())).toEqual(texts)
    expect(frames.every((frame) => frame.fin && frame.rsv === 0 && frame.opcode === 1)).toBe(true)
  })

  it('frames bytes as binary, masked or not', async () => {
    const sizes = [0, 1, 125, 126, 1000, maxGatheredPayload]
    const payloads = sizes.map((size) => Buffer.from(Array.from({ length: size }, (_, i) => i)))
    for (const masked of [true, false]) {
      const { stream, writes } = recorder()
      for (const payload of payloads) gatherFrame(stream, new Uint8Array(payload), masked)
      await endOfTurn()
      const frames = parseFrames(Buffer.concat(writes))
      expect(frames.map((frame) => frame.payload)).toEqual(payloads)
      expect(frames.every((frame) => frame.opcode === 2 && !frame.key === !masked)).toBe(true)
    }
  })

  it('masks every frame with a fresh random key', async () => {
    const { stream, writes } = recorder()
    // More frames than the pool of keys holds (2,048): it is refilled on the way.
    for (let i = 0; i < 3000; i++) gatherFrame(stream, 'x', true)
    await endOfTurn()
    const keys = parseFrames(Buffer.concat(writes)).map((frame) => frame.key?.readUInt32BE())
    // 3,000 draws of 32 random bits: a repeat has a chance of about 1 in 1,000.
    expect(new Set(keys).size).toBeGreaterThan(2990)
    expect(keys.filter((key) => key === 0)).toEqual([])
  })
})
