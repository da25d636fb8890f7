import { describe, expect, it } from 'vitest'
import { HeldFrames } from './heldFrames.js'

function frame(n: number, size = 40): Buffer {
  return Buffer.from(`${n}:`.padEnd(size, 'x'))
}

function takeAll(held: HeldFrames, limit = Infinity): Array<[string, boolean]> {
  const taken: Array<[string, boolean]> = []
  held.take(
    (data, isBinary) => taken.push([data.toString(), isBinary]),
    () => taken.length < limit,
  )
  return taken
}

describe('HeldFrames', () => {
  it('gives the frames back in order with their kind, a few at a time', () => {
    const held = new HeldFrames()
    for (let n = 0; n < 10; n++) held.push(frame(n), n % 3 === 0)
    expect(held.size).toBe(10)
    const first = takeAll(held, 4)
    expect(first).toEqual([0, 1, 2, 3].map((n) => [frame(n).toString(), n % 3 === 0]))
    expect(held.size).toBe(6)
    expect(takeAll(held).map(([data]) => data)).toEqual(
      [4, 5, 6, 7, 8, 9].map((n) => frame(n).toString()),
    )
    expect(held.size).toBe(0)
  })

  it('keeps order and bytes across growth, with frames taken in between', () => {
    const held = new HeldFrames()
    const sizes = [100, 5_000, 70_000, 1, 200_000, 3]
    let pushed = 0
    const expected: string[] = []
    const got: string[] = []
    for (const size of sizes) {
      for (let i = 0; i < 3; i++) {
        const data = frame(pushed++, size)
        expected.push(data.toString())
        held.push(data, false)
      }
      // Take one of every three: growth moves only what was not taken.
      got.push(...takeAll(held, 1).map(([data]) => data))
    }
    got.push(...takeAll(held).map(([data]) => data))
    expect(got).toEqual(expected)
  })

  it('takes in order the frames pushed while it takes, across growth', () => {
    const held = new HeldFrames()
    for (let n = 0; n < 3; n++) held.push(frame(n), false)
    const got: string[] = []
    let pushed = 3
    held.take(
      (data) => {
        got.push(data.toString())
        // Each frame taken has two more pushed behind it, the second large enough to grow.
        if (pushed < 9) {
          held.push(frame(pushed++), false)
          held.push(frame(pushed++, 40_000), false)
        }
      },
      () => true,
    )
    expect(got).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
        frame(n, n > 2 && n % 2 === 0 ? 40_000 : 40).toString(),
      ),
    )
    expect(held.size).toBe(0)
  })

  it('never writes over a frame it handed out', () => {
    const held = new HeldFrames()
    held.push(frame(1), true)
    let kept: Buffer | undefined
    held.take(
      (data) => (kept = data),
      () => true,
    )
    // Emptied: the next frames go to a new store, and a grown store is a new one too.
    held.push(frame(2), true)
    held.push(frame(3, 300_000), true)
    expect(kept?.toString()).toBe(frame(1).toString())
  })

  it('allocates for a few small frames a store of a read slice, not of a whole TCP read', () => {
    // A connection in line holds a few frames and lets them go many times a second: each time a
    // store. Its size is the memory outside the heap that the server churns through for it.
    const held = new HeldFrames()
    const stores = new Set<ArrayBufferLike>()
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 10; n++) held.push(frame(n), false)
      held.take(
        (data) => stores.add(data.buffer),
        () => true,
      )
    }
    expect(stores.size).toBe(3)
    // One slice of a socket read (`readSliceBytes`) at most; it was 64 KiB.
    for (const store of stores) expect(store.byteLength).toBeLessThanOrEqual(4096)
  })
  it('sizes a store by what it holds, not by all that went through it', () => {
    // A connection that keeps a frame or two in line, never emptied: its store must not double
    // with every store's worth that passes.
    const held = new HeldFrames()
    const stores = new Set<ArrayBufferLike>()
    held.push(frame(0, 100), false)
    for (let n = 1; n <= 20_000; n++) {
      held.push(frame(n, 100), false)
      let taken = 0
      held.take(
        (data) => stores.add(data.buffer),
        () => taken++ === 0,
      )
    }
    expect(stores.size).toBeGreaterThan(0)
    for (const store of stores) expect(store.byteLength).toBeLessThanOrEqual(4096)
  })
})
