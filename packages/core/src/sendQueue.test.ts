import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { thrownBy } from '@lifeline/test-utils'
import { LifelineError, isLifelineError } from '@lifeline/codec'
import type { SendQueueOptions } from './sendQueue.js'
import { SendQueue, sendQueueDefaults } from './sendQueue.js'

const unbounded: SendQueueOptions = {
  maxMessages: Infinity,
  maxBytes: Infinity,
  overflow: 'error',
}

function queueOf(options: Partial<SendQueueOptions>, ...items: [string, number][]) {
  const queue = new SendQueue<string>({ ...unbounded, ...options })
  for (const [item, size] of items) expect(queue.push(item, size)).toEqual([])
  return queue
}

type Operation = { readonly op: 'push'; readonly size: number } | { readonly op: 'shift' }

const operations = (pushWeight: number) =>
  fc.array(
    fc.oneof(
      {
        arbitrary: fc.record({ op: fc.constant('push' as const), size: fc.nat({ max: 64 }) }),
        weight: pushWeight,
      },
      { arbitrary: fc.constant({ op: 'shift' as const }), weight: 2 },
    ),
    { maxLength: 3_000 },
  )

/** A plain array does what the ring buffer must do, push by push. */
class ArrayModel {
  readonly items: { readonly id: number; readonly size: number }[] = []

  get bytes(): number {
    return this.items.reduce((sum, item) => sum + item.size, 0)
  }

  push(id: number, size: number, options: SendQueueOptions): number[] | 'throws' {
    const fits = () =>
      this.items.length < options.maxMessages && this.bytes + size <= options.maxBytes
    if (fits()) {
      this.items.push({ id, size })
      return []
    }
    if (options.overflow === 'error') return 'throws'
    if (options.overflow === 'drop-newest' || size > options.maxBytes) return [id]
    const dropped: number[] = []
    while (!fits()) dropped.push((this.items.shift() as { id: number }).id)
    this.items.push({ id, size })
    return dropped
  }
}

function run(operationList: readonly Operation[], options: SendQueueOptions): void {
  const queue = new SendQueue<number>(options)
  const model = new ArrayModel()
  let nextId = 0
  for (const operation of operationList) {
    if (operation.op === 'push') {
      const id = nextId++
      const expected = model.push(id, operation.size, options)
      if (expected === 'throws') {
        expect(
          isLifelineError(
            thrownBy(() => queue.push(id, operation.size)),
            'QUEUE_FULL',
          ),
        ).toBe(true)
      } else {
        expect(queue.push(id, operation.size)).toEqual(expected)
      }
    } else {
      expect(queue.shift()).toBe(model.items.shift()?.id)
    }
    expect(queue.length).toBe(model.items.length)
    expect(queue.bytes).toBe(model.bytes)
    expect(queue.peek()).toBe(model.items[0]?.id)
  }
  expect(queue.drain()).toEqual(model.items.map((item) => item.id))
  expect(queue.length).toBe(0)
  expect(queue.bytes).toBe(0)
}

describe('SendQueue as a FIFO', () => {
  it('keeps order, length and bytes through wraps and growths (model test)', () => {
    fc.assert(
      fc.property(operations(3), (operationList) => run(operationList, unbounded)),
      { numRuns: 300 },
    )
  })

  it('keeps order and bytes when mostly full (model test, every overflow policy)', () => {
    const options: fc.Arbitrary<SendQueueOptions> = fc.record({
      maxMessages: fc.integer({ min: 1, max: 40 }),
      maxBytes: fc.integer({ min: 0, max: 300 }),
      overflow: fc.constantFrom('error', 'drop-oldest', 'drop-newest'),
    })
    fc.assert(
      fc.property(operations(4), options, (operationList, queueOptions) =>
        run(operationList, queueOptions),
      ),
      { numRuns: 300 },
    )
  })

  it('wraps around its buffer without losing order', () => {
    const queue = new SendQueue<number>(unbounded)
    let pushed = 0
    let shifted = 0
    // Ten at a time in, seven out: the head walks round the buffer while it grows.
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 10; i++) queue.push(pushed++, 1)
      for (let i = 0; i < 7; i++) expect(queue.shift()).toBe(shifted++)
    }
    expect(queue.length).toBe(pushed - shifted)
    expect(queue.drain()).toEqual(Array.from({ length: pushed - shifted }, (_, i) => shifted + i))
  })

  it('is empty to begin with', () => {
    const queue = new SendQueue<string>(sendQueueDefaults)
    expect(queue.length).toBe(0)
    expect(queue.bytes).toBe(0)
    expect(queue.peek()).toBeUndefined()
    expect(queue.shift()).toBeUndefined()
    expect(queue.drain()).toEqual([])
  })

  it('peeks without removing', () => {
    const queue = queueOf({}, ['a', 1], ['b', 2])
    expect(queue.peek()).toBe('a')
    expect(queue.peek()).toBe('a')
    expect(queue.length).toBe(2)
  })

  it('counts bytes as measured on push', () => {
    const queue = queueOf({}, ['a', 3], ['b', 0], ['c', 5])
    expect(queue.bytes).toBe(8)
    queue.shift()
    expect(queue.bytes).toBe(5)
  })
})

describe('SendQueue overflow', () => {
  it('has documented defaults: 1000 messages, 1 MiB, error', () => {
    expect(sendQueueDefaults).toEqual({ maxMessages: 1000, maxBytes: 1_048_576, overflow: 'error' })
  })

  it('accepts an item that fills the bounds exactly', () => {
    const queue = queueOf({ maxMessages: 2, maxBytes: 10 }, ['a', 4])
    expect(queue.push('b', 6)).toEqual([])
    expect(queue.bytes).toBe(10)
  })

  describe("'error'", () => {
    it.each([
      ['messages', { maxMessages: 2, maxBytes: 100 }, 1],
      ['bytes', { maxMessages: 10, maxBytes: 10 }, 3],
    ])('throws QUEUE_FULL and leaves the queue unchanged when full by %s', (_, bounds, size) => {
      const queue = queueOf({ ...bounds, overflow: 'error' }, ['a', 4], ['b', 4])
      const error = thrownBy(() => queue.push('c', size))
      expect(error).toBeInstanceOf(LifelineError)
      expect(isLifelineError(error, 'QUEUE_FULL')).toBe(true)
      expect(queue.length).toBe(2)
      expect(queue.bytes).toBe(8)
      expect(queue.drain()).toEqual(['a', 'b'])
    })

    it('throws for an item larger than maxBytes, even when empty', () => {
      const queue = queueOf({ maxBytes: 10, overflow: 'error' })
      expect(
        isLifelineError(
          thrownBy(() => queue.push('big', 11)),
          'QUEUE_FULL',
        ),
      ).toBe(true)
      expect(queue.length).toBe(0)
    })
  })

  describe("'drop-oldest'", () => {
    it('drops the oldest item to stay within maxMessages and returns it', () => {
      const queue = queueOf(
        { maxMessages: 3, overflow: 'drop-oldest' },
        ['a', 1],
        ['b', 1],
        ['c', 1],
      )
      expect(queue.push('d', 1)).toEqual(['a'])
      expect(queue.push('e', 1)).toEqual(['b'])
      expect(queue.drain()).toEqual(['c', 'd', 'e'])
    })

    it('drops as many oldest items as maxBytes needs, oldest first', () => {
      const queue = queueOf({ maxBytes: 10, overflow: 'drop-oldest' }, ['a', 3], ['b', 3], ['c', 3])
      expect(queue.push('d', 7)).toEqual(['a', 'b'])
      expect(queue.bytes).toBe(10)
      expect(queue.drain()).toEqual(['c', 'd'])
    })

    it('drops the new item itself when it is larger than maxBytes', () => {
      const queue = queueOf({ maxBytes: 10, overflow: 'drop-oldest' }, ['a', 3], ['b', 3])
      expect(queue.push('big', 11)).toEqual(['big'])
      expect(queue.bytes).toBe(6)
      expect(queue.drain()).toEqual(['a', 'b'])
    })
  })

  describe("'drop-newest'", () => {
    it('returns the new item and keeps the queue as it was', () => {
      const queue = queueOf({ maxMessages: 2, overflow: 'drop-newest' }, ['a', 1], ['b', 1])
      expect(queue.push('c', 1)).toEqual(['c'])
      expect(queue.length).toBe(2)
      expect(queue.bytes).toBe(2)
      expect(queue.drain()).toEqual(['a', 'b'])
    })

    it('drops the new item when it would pass maxBytes', () => {
      const queue = queueOf({ maxBytes: 10, overflow: 'drop-newest' }, ['a', 6])
      expect(queue.push('b', 5)).toEqual(['b'])
      expect(queue.push('c', 4)).toEqual([])
      expect(queue.drain()).toEqual(['a', 'c'])
    })

    it('drops an item larger than maxBytes, even when empty', () => {
      const queue = queueOf({ maxBytes: 10, overflow: 'drop-newest' })
      expect(queue.push('big', 11)).toEqual(['big'])
      expect(queue.length).toBe(0)
    })
  })
})

describe('SendQueue.drain', () => {
  it('returns every item oldest first and empties the queue', () => {
    const queue = queueOf({}, ['a', 1], ['b', 2], ['c', 3])
    queue.shift()
    queue.push('d', 4)
    expect(queue.drain()).toEqual(['b', 'c', 'd'])
    expect(queue.length).toBe(0)
    expect(queue.bytes).toBe(0)
    expect(queue.peek()).toBeUndefined()
    expect(queue.drain()).toEqual([])
  })

  it('leaves a queue that can be filled to its bounds again', () => {
    const queue = queueOf({ maxMessages: 2, maxBytes: 4, overflow: 'error' }, ['a', 2], ['b', 2])
    queue.drain()
    expect(queue.push('c', 2)).toEqual([])
    expect(queue.push('d', 2)).toEqual([])
    expect(queue.drain()).toEqual(['c', 'd'])
  })
})

describe('SendQueue after a large burst', () => {
  const burst = 100_000

  it('works again once emptied, by shift or by drain', () => {
    const queue = new SendQueue<number>({ ...unbounded, maxMessages: burst })
    for (let i = 0; i < burst; i++) queue.push(i, 2)
    expect(queue.length).toBe(burst)
    expect(queue.bytes).toBe(2 * burst)
    expect(
      isLifelineError(
        thrownBy(() => queue.push(burst, 1)),
        'QUEUE_FULL',
      ),
    ).toBe(true)
    const shifted: (number | undefined)[] = []
    for (let i = 0; i < burst; i++) shifted.push(queue.shift())
    expect(shifted).toEqual(Array.from({ length: burst }, (_, i) => i))
    expect(queue.length).toBe(0)
    expect(queue.bytes).toBe(0)
    expect(queue.shift()).toBeUndefined()

    // Small again: wraps and growths from a fresh buffer keep order.
    let pushed = 0
    let next = 0
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 5; i++) queue.push(pushed++, 1)
      for (let i = 0; i < 3; i++) expect(queue.shift()).toBe(next++)
    }
    expect(queue.bytes).toBe(pushed - next)
    expect(queue.drain()).toEqual(Array.from({ length: pushed - next }, (_, i) => next + i))

    for (let i = 0; i < burst; i++) queue.push(i, 1)
    expect(queue.drain()).toHaveLength(burst)
    expect(queue.push(-1, 1)).toEqual([])
    expect(queue.peek()).toBe(-1)
    expect(queue.bytes).toBe(1)
  })
})

describe('SendQueue with room for nothing', () => {
  it.each(['drop-oldest', 'drop-newest'] as const)('drops the new item under %s', (overflow) => {
    const queue = new SendQueue<string>({ maxMessages: 0, maxBytes: 100, overflow })
    expect(queue.push('a', 1)).toEqual(['a'])
    expect(queue.length).toBe(0)
  })
})
