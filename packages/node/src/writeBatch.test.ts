import { describe, expect, it } from 'vitest'
import {
  commit,
  gathered,
  gatheredBytes,
  holdWrites,
  maxBatchBytes,
  reserve,
  writeGathered,
  type GatherStream,
} from './writeBatch.js'

/** A stream that logs its corks and counts what it holds, as `net.Socket` does. */
function fakeStream(name = 's', log: string[] = []) {
  const stream = {
    log,
    writableCorked: 0,
    writableLength: 0,
    flushed: [] as number[],
    cork: () => void log.push(`${name} cork ${++stream.writableCorked}`),
    uncork: () => {
      log.push(`${name} uncork ${--stream.writableCorked}`)
      if (stream.writableCorked > 0) return
      stream.flushed.push(stream.writableLength)
      stream.writableLength = 0
    },
    write: (bytes: number) => {
      holdWrites(stream)
      stream.writableLength += bytes
    },
  }
  return stream
}

const endOfTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe('holdWrites', () => {
  it('corks once for all the writes of a turn and lets them go together when it ends', async () => {
    const stream = fakeStream()
    for (let i = 0; i < 100; i++) stream.write(100)
    expect(stream.log).toEqual(['s cork 1'])
    await endOfTurn()
    expect(stream.flushed).toEqual([10_000])
    stream.write(100)
    await endOfTurn()
    expect(stream.log).toEqual(['s cork 1', 's uncork 0', 's cork 1', 's uncork 0'])
    expect(stream.flushed).toEqual([10_000, 100])
  })

  it(`lets go of what it holds past ${maxBatchBytes} bytes, and holds the rest of the turn`, async () => {
    const stream = fakeStream()
    const frame = maxBatchBytes / 4
    for (let i = 0; i < 5; i++) stream.write(frame)
    // The fifth write found 64 KiB held, not more: all five wait for the turn.
    expect(stream.log).toEqual(['s cork 1'])
    stream.write(frame)
    expect(stream.log).toEqual(['s cork 1', 's uncork 0', 's cork 1'])
    expect(stream.flushed).toEqual([5 * frame])
    await endOfTurn()
    expect(stream.flushed).toEqual([5 * frame, frame])
  })

  it('uncorks each of many streams once, however many writes each got', async () => {
    const log: string[] = []
    const streams = [fakeStream('a', log), fakeStream('b', log), fakeStream('c', log)]
    for (let round = 0; round < 3; round++) for (const stream of streams) stream.write(10)
    expect(log).toEqual(['a cork 1', 'b cork 1', 'c cork 1'])
    await endOfTurn()
    expect(log.slice(3)).toEqual(['a uncork 0', 'b uncork 0', 'c uncork 0'])
    expect(streams.map((stream) => stream.flushed)).toEqual([[30], [30], [30]])
  })

  it('never uncorks a stream someone else corked, however much it holds', async () => {
    const stream = fakeStream()
    stream.cork()
    stream.writableLength = 2 * maxBatchBytes
    stream.write(10)
    await endOfTurn()
    expect(stream.log).toEqual(['s cork 1'])
    expect(stream.writableCorked).toBe(1)
  })
})

/** A stream that keeps the buffers written to it as they are (not copies), as a socket does. */
function gatherStream(name: string, log: string[] = []) {
  const chunks: Uint8Array[] = []
  const stream = {
    chunks,
    writable: true,
    destroyed: false,
    /** What the kernel has not taken yet: set by a test to hold on to written buffers. */
    writableLength: 0,
    writableCorked: 0,
    cork: () => void stream.writableCorked++,
    uncork: () => void (stream.writableCorked > 0 && stream.writableCorked--),
    write: (chunk: Uint8Array) => {
      log.push(`${name} write ${chunk.length}${stream.writableCorked ? ' (held)' : ''}`)
      chunks.push(chunk)
    },
  }
  return stream
}

/** Puts `text` in `stream`'s gathered bytes, as a frame would be. */
function gatherText(stream: GatherStream, text: string): void {
  const at = reserve(stream, text.length)
  gathered().write(text, at, 'latin1')
  commit(at + text.length)
}

const textOf = (chunks: Uint8Array[]) => chunks.map((chunk) => Buffer.from(chunk).toString())

describe('reserve and commit', () => {
  it('gathers a turn of writes to a stream into one buffer, written when the turn ends', async () => {
    const log: string[] = []
    const stream = gatherStream('s', log)
    for (const text of ['a', 'bb', 'ccc']) gatherText(stream, text)
    expect(gatheredBytes(stream)).toBe(6)
    expect(log).toEqual([])
    await endOfTurn()
    expect(log).toEqual(['s write 6'])
    expect(textOf(stream.chunks)).toEqual(['abbccc'])
    expect(gatheredBytes(stream)).toBe(0)
  })

  it('keeps each stream in order when streams take turns, and holds them for the turn', async () => {
    const log: string[] = []
    const [a, b] = [gatherStream('a', log), gatherStream('b', log)]
    gatherText(a, 'a1')
    gatherText(b, 'b1')
    gatherText(a, 'a2')
    gatherText(a, 'a3')
    // `a`'s first bytes went into `a`, corked for the turn, when `b` started gathering.
    expect(log).toEqual(['a write 2 (held)', 'b write 2 (held)'])
    await endOfTurn()
    expect(textOf(a.chunks)).toEqual(['a1', 'a2a3'])
    expect(textOf(b.chunks)).toEqual(['b1'])
    expect([a.writableCorked, b.writableCorked]).toEqual([0, 0])
  })

  it('writes what was gathered before anything else is written to the stream', async () => {
    const stream = gatherStream('s')
    gatherText(stream, 'frame')
    writeGathered(stream)
    stream.write(Buffer.from('ping'))
    gatherText(stream, 'after')
    await endOfTurn()
    expect(textOf(stream.chunks)).toEqual(['frame', 'ping', 'after'])
  })

  it(`lets ${maxBatchBytes} bytes go at once, and the rest with the turn`, async () => {
    const stream = gatherStream('s')
    const quarter = 'x'.repeat(maxBatchBytes / 4)
    for (let i = 0; i < 5; i++) gatherText(stream, quarter)
    expect(stream.chunks.map((chunk) => chunk.length)).toEqual([maxBatchBytes])
    await endOfTurn()
    expect(stream.chunks.map((chunk) => chunk.length)).toEqual([maxBatchBytes, maxBatchBytes / 4])
  })

  it('never writes over bytes a stream still holds, and drops those of a closed stream', async () => {
    const held = gatherStream('held')
    // The kernel will not take them: the buffer they are in is not used again from its start.
    held.writableLength = 4
    gatherText(held, 'kept')
    await endOfTurn()
    const other = gatherStream('other')
    gatherText(other, 'next')
    await endOfTurn()
    expect(textOf(held.chunks)).toEqual(['kept'])
    expect(textOf(other.chunks)).toEqual(['next'])
    // While it holds them, it is given copies: a slow peer does not keep a buffer per turn.
    gatherText(held, 'copied')
    await endOfTurn()
    expect(textOf(held.chunks)).toEqual(['kept', 'copied'])
    expect(held.chunks[1]?.buffer).not.toBe(held.chunks[0]?.buffer)
    expect(held.chunks[0]?.buffer).toBe(other.chunks[0]?.buffer)
    held.writableLength = 0
    gatherText(held, 'drained')
    await endOfTurn()
    expect(held.chunks[2]?.buffer).toBe(other.chunks[0]?.buffer)
    const closed = gatherStream('closed')
    gatherText(closed, 'lost')
    closed.writable = false
    await endOfTurn()
    expect(closed.chunks).toEqual([])
  })
})

describe('the buffer of a turn', () => {
  it('gives a stream that still holds bytes copies, though the buffer filled after them', async () => {
    const held = gatherStream('held')
    const busy = gatherStream('busy')
    held.writableLength = 1
    const frame = 'x'.repeat(10 * 1024)
    for (let turn = 0; turn < 4; turn++) {
      gatherText(held, 'h'.repeat(100))
      for (let i = 0; i < 7; i++) gatherText(busy, frame)
      await endOfTurn()
    }
    // The first buffer stays with `held`; the second serves every later turn.
    const buffers = new Set(busy.chunks.map((chunk) => chunk.buffer))
    expect(buffers.size).toBe(2)
    expect(held.chunks[0]?.buffer).toBe(busy.chunks[0]?.buffer)
    expect(held.chunks.slice(1).some((chunk) => buffers.has(chunk.buffer))).toBe(false)
    held.writableLength = 0
  })

  it(`starts the same buffer again when it fills and no stream still holds its bytes`, async () => {
    const stream = gatherStream('s')
    const quarter = 'x'.repeat(maxBatchBytes / 4)
    for (let turn = 0; turn < 2; turn++) {
      for (let i = 0; i < 5; i++) gatherText(stream, quarter)
      await endOfTurn()
    }
    expect(stream.chunks).toHaveLength(4)
    expect(new Set(stream.chunks.map((chunk) => chunk.buffer)).size).toBe(1)
  })
})
