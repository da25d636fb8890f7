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

/** `SendQueueOptions` as given: a setting missing or `undefined` takes its default. */
export type SendQueueSettings = {
  [K in keyof SendQueueOptions]?: SendQueueOptions[K] | undefined
}

export const sendQueueDefaults: SendQueueOptions = {
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
  overflow: 'error',
}

const nothingDropped: readonly never[] = []

/**
 * A bounded FIFO. Items are appended to an array and read from a moving head; the consumed part
 * is cut off once it is most of the array, so shifting stays O(1) amortised where `Array.shift`
 * would make a 100k-message flush quadratic. Empty until the first push: most sockets never
 * queue, and thousands of idle ones should not each hold a buffer.
 */
export class SendQueue<T> {
  #items: (T | undefined)[] = []
  #sizes: number[] = []
  #head = 0
  #bytes = 0

  readonly #options: SendQueueSettings

  /** `options` as given: one that is missing or `undefined` takes its default. */
  constructor(options: SendQueueSettings = {}) {
    this.#options = options
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  /** Bytes held, as measured on push. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * Adds `item` of `size` bytes at the tail and returns what the overflow policy dropped to
   * keep the bounds (the item itself under `'drop-newest'`). Throws `QUEUE_FULL` under `'error'`.
   */
  push(item: T, size: number): readonly T[] {
    // Defaults filled in here, not spread under the options: a spread put an `undefined` the
    // caller passed over its default, and a bound of `undefined` fits nothing.
    const {
      maxMessages = sendQueueDefaults.maxMessages,
      maxBytes = sendQueueDefaults.maxBytes,
      overflow = sendQueueDefaults.overflow,
    } = this.#options
    const fits = () => this.length < maxMessages && this.#bytes + size <= maxBytes
    let dropped: T[] | undefined
    if (!fits()) {
      if (overflow === 'error') {
        throw new LifelineError(
          'QUEUE_FULL',
          `send queue full (${maxMessages} messages, ${maxBytes} bytes)`,
        )
      }
      // An item that could never fit is itself the one dropped, not everything before it.
      if (overflow === 'drop-newest' || size > maxBytes || maxMessages < 1) return [item]
      dropped = []
      while (!fits()) dropped.push(this.shift() as T)
    }
    this.#items.push(item)
    this.#sizes.push(size)
    this.#bytes += size
    return dropped ?? nothingDropped
  }

  /** The oldest item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head]
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    const items = this.#items
    const head = this.#head
    if (head === items.length) return undefined
    const item = items[head]
    items[head] = undefined
    this.#bytes -= this.#sizes[head] as number
    this.#head = head + 1
    if (this.#head === items.length) {
      // Empty: give back the memory a burst made the queue take.
      this.#items = []
      this.#sizes = []
      this.#head = this.#bytes = 0
    } else if (head >= 1023 && head * 2 >= items.length) {
      this.#items = items.slice(this.#head)
      this.#sizes = this.#sizes.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Removes every item and returns them oldest first. */
  drain(): T[] {
    const all: T[] = []
    while (this.length > 0) all.push(this.shift() as T)
    return all
  }
}
