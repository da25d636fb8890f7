import type { LifelineError } from '@lifeline/codec'

/** A promise `delivered()` handed out, and how to settle it. */
type Waiting = [promise: Promise<void>, resolve: () => void, reject: (error: LifelineError) => void]

/**
 * The delivery receipts of one client: the promises `delivered()` handed out, by message id
 * (the reliable stream's, in sending order), and the ids the outbox refused. The client makes
 * it on the first `delivered()` or refusal: a caller who never asks for a receipt pays for no
 * promise, closure or entry, per message or otherwise.
 */
export class Receipts {
  /**
   * Waiting, by id. An acknowledgement looks at each: they are the messages in flight whose
   * receipt was asked for, and acknowledgements come in batches (`ackEvery`, `ackDelayMs`).
   */
  readonly #waiting = new Map<number, Waiting>()
  /**
   * Ids taken out of the outbox as too large for the server, and why, for a receipt asked for
   * later. One per `drop` event the client emitted, each for a message of over 1 KiB the caller
   * sent: small beside what was sent, so it is not bounded further.
   */
  readonly #refused = new Map<number, LifelineError>()

  /** Why the message `id` was refused, if it was. */
  refusal(id: number): LifelineError | undefined {
    return this.#refused.get(id)
  }

  /** The promise for message `id`: the same one for every call while it waits. */
  wait(id: number): Promise<void> {
    let waiting = this.#waiting.get(id)
    if (!waiting) {
      let resolve!: Waiting[1]
      let reject!: Waiting[2]
      const promise = new Promise<void>((yes, no) => {
        resolve = yes
        reject = no
      })
      this.#waiting.set(id, (waiting = [promise, resolve, reject]))
    }
    return waiting[0]
  }

  /** Every message with an id below `firstUnackedId` was acknowledged: resolves their receipts. */
  settle(firstUnackedId: number): void {
    for (const [id, waiting] of this.#waiting) {
      if (id < firstUnackedId) {
        this.#waiting.delete(id)
        waiting[1]()
      }
    }
  }

  /** Message `id` will never be sent: its receipt rejects with `error`, now and when asked. */
  refuse(id: number, error: LifelineError): void {
    this.#refused.set(id, error)
    this.#waiting.get(id)?.[2](error)
    this.#waiting.delete(id)
  }

  /** The client ended with these messages unacknowledged: every waiting receipt rejects. */
  rejectAll(error: LifelineError): void {
    for (const waiting of this.#waiting.values()) waiting[2](error)
    this.#waiting.clear()
  }
}
