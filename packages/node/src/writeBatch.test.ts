import { describe, expect, it } from 'vitest'
import { holdWrites, maxBatchBytes } from './writeBatch.js'

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
