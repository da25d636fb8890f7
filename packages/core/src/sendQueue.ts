import { LifelineError } from '@lifeline/codec'

/** What to do when a message does not fit in the send queue. */
export type OverflowPolicy = 'error' | 'drop-oldest' | 'drop-newest'

export interface SendQueueOptions {
  /**
   * Most messages held while the link is down.
   * @default 1000
   */
  maxMessages: number
  /**
   * Most bytes held while the link is down (UTF-8 bytes for strings).
   * @default 1048576 (1 MiB)
   */
  maxBytes: number
  /**
   * `'error'`: `send` throws `LifelineError` `QUEUE_FULL` and nothing is lost silently;
   * `'drop-oldest'`: the oldest messages make room; `'drop-newest'`: the new message is dropped.
   * Every drop is reported as a `drop` event.
   * @default 'error'
   */
  overflow: OverflowPolicy
}

export const sendQueueDefaults: SendQueueOptions = {
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
  overflow: 'error',
}

const initialCapacity = 16
const nothingDropped: readonly never[] = []

/**
 * A bounded FIFO on a growable ring buffer: O(1) push and shift, where `Array.shift` would move
 * every element and make a 100k-message flush quadratic.
 */
export class SendQueue<T> {
  // Empty until the first push: most sockets never queue anything, and thousands of idle ones
  // should not each hold a buffer.
  private items: (T | undefined)[] = []
  private sizes: number[] = []
  private head = 0
  private count = 0
  private byteCount = 0

  constructor(private readonly options: SendQueueOptions) {}

  get length(): number {
    return this.count
  }

  /** Bytes held, as measured on push. */
  get bytes(): number {
    return this.byteCount
  }

  /**
   * Adds `item` of `size` bytes at the tail and returns what the overflow policy dropped to
   * keep the bounds (the item itself under `'drop-newest'`). Throws `QUEUE_FULL` under `'error'`.
   */
  push(item: T, size: number): readonly T[] {
    const { maxMessages, maxBytes, overflow } = this.options
    const fits = () => this.count < maxMessages && this.byteCount + size <= maxBytes
    if (fits()) {
      this.append(item, size)
      return nothingDropped
    }
    if (overflow === 'error') {
      throw new LifelineError(
        'QUEUE_FULL',
        `send queue is full (${this.count}/${maxMessages} messages, ${this.byteCount}+${size}/${maxBytes} bytes)`,
      )
    }
    // An item that could never fit is itself the one dropped, not everything before it.
    if (overflow === 'drop-newest' || size > maxBytes || maxMessages === 0) return [item]
    const dropped: T[] = []
    while (!fits()) dropped.push(this.shift() as T)
    this.append(item, size)
    return dropped
  }

  /** The oldest item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const mask = this.items.length - 1
    const item = this.items[this.head]
    this.byteCount -= this.sizes[this.head] ?? 0
    this.items[this.head] = undefined
    this.head = (this.head + 1) & mask
    this.count--
    if (this.count === 0) this.reset()
    return item
  }

  /** Removes every item and returns them oldest first. */
  drain(): T[] {
    const all: T[] = []
    while (this.count > 0) all.push(this.shift() as T)
    return all
  }

  private append(item: T, size: number): void {
    if (this.count === this.items.length) this.grow()
    const tail = (this.head + this.count) & (this.items.length - 1)
    this.items[tail] = item
    this.sizes[tail] = size
    this.count++
    this.byteCount += size
  }

  /** Doubles the capacity (a power of two, so indices wrap with a mask). */
  private grow(): void {
    const capacity = this.items.length
    const next = capacity === 0 ? initialCapacity : capacity * 2
    const items = new Array<T | undefined>(next)
    const sizes = new Array<number>(next).fill(0)
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & (capacity - 1)
      items[i] = this.items[from]
      sizes[i] = this.sizes[from] ?? 0
    }
    this.items = items
    this.sizes = sizes
    this.head = 0
  }

  /** An empty queue gives back the memory a large burst made it take. */
  private reset(): void {
    this.head = 0
    this.byteCount = 0
    if (this.items.length > 1024) {
      this.items = []
      this.sizes = []
    }
  }
}
