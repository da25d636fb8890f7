import { LifelineError } from '@lifeline/codec'
import type { Clock, TimerHandle } from '../clock.js'

interface Pending {
  readonly method: string
  resolve(value: unknown): void
  reject(error: LifelineError): void
  readonly timer: TimerHandle
  readonly detach: () => void
}

/** The failure half of a `$res`. */
export interface RemoteFailure {
  readonly code: string
  readonly message: string
}

/**
 * Requests waiting for their response: each ends exactly once, by its response, its timeout,
 * its AbortSignal or the client's close, and never hangs past its timeout.
 */
export class PendingRequests {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size
  }

  /** Registers a request; `start(id)` sends it (and may throw, which rejects the promise). */
  create(
    method: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    start: (id: number) => void,
  ): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(aborted(method))
    const id = this.nextId++
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => this.fail(id, aborted(method))
      signal?.addEventListener('abort', onAbort, { once: true })
      const timer = this.clock.setTimeout(
        () =>
          this.fail(
            id,
            new LifelineError(
              'REQUEST_TIMEOUT',
              `request '${method}' got no response within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
      this.pending.set(id, {
        method,
        resolve,
        reject,
        timer,
        detach: () => signal?.removeEventListener('abort', onAbort),
      })
      try {
        start(id)
      } catch (error) {
        this.fail(
          id,
          error instanceof LifelineError
            ? error
            : new LifelineError('INVALID_ARGUMENT', String(error)),
        )
      }
    })
  }

  /** A response arrived; one for a request that already ended is ignored. */
  settle(id: number, data: unknown, failure: RemoteFailure | undefined): void {
    const entry = this.take(id)
    if (entry === undefined) return
    if (failure === undefined) entry.resolve(data)
    else {
      entry.reject(
        new LifelineError('REMOTE_ERROR', `request '${entry.method}' failed: ${failure.message}`, {
          remoteCode: failure.code,
        }),
      )
    }
  }

  /** Ends every request with `error` (the client closed). */
  failAll(error: LifelineError): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error)
  }

  private fail(id: number, error: LifelineError): void {
    this.take(id)?.reject(error)
  }

  private take(id: number): Pending | undefined {
    const entry = this.pending.get(id)
    if (entry === undefined) return undefined
    this.pending.delete(id)
    this.clock.clearTimeout(entry.timer)
    entry.detach()
    return entry
  }
}

function aborted(method: string): LifelineError {
  return new LifelineError('ABORTED', `request '${method}' was aborted`)
}
