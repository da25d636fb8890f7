import { isLifelineError, LifelineError } from '@lifeline/codec'
import type { Clock, TimerHandle } from '@lifeline/core'
import { protocolError } from '@lifeline/core/protocol'

/**
 * An error for an RPC handler to throw when the caller should see a specific code: the client's
 * request rejects with `REMOTE_ERROR`, `remoteCode` = `code` and this message.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The `e` of a failed `$res`. */
export interface ErrorPayload {
  code: string
  message: string
}

/**
 * What a thrown error tells the caller. An error with a string `code` is deliberate: its code and
 * message go to the client. Anything else is a bug or an internal failure whose message may hold
 * internals: the client gets `INTERNAL` and a fixed message, and the server reports the error.
 */
export function errorPayload(error: unknown): { payload: ErrorPayload; deliberate: boolean } {
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && code !== '') {
      return {
        payload: { code, message: typeof message === 'string' ? message : code },
        deliberate: true,
      }
    }
  }
  return { payload: { code: 'INTERNAL', message: 'internal error' }, deliberate: false }
}

/** A `$req` payload, checked. */
export interface InboundRequest {
  id: string | number
  method: string
  data: unknown
}

function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value))
}

export function parseRequest(d: unknown): InboundRequest {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    throw protocolError('$req needs a payload { id, m, d }')
  }
  const { id, m, d: data } = d as { id?: unknown; m?: unknown; d?: unknown }
  if (!isRequestId(id)) throw protocolError('$req needs an `id` (string or integer)')
  if (typeof m !== 'string') throw protocolError('$req needs a string method `m`')
  return { id, method: m, data }
}

interface Pending {
  resolve(value: unknown): void
  reject(error: LifelineError): void
  timer: TimerHandle
  release(): void
}

/**
 * The server's requests to its client that wait for a response, by id. Ids are the `s` of the
 * `$req` envelope: unique per session and direction, and stored with the session, so a response
 * to a request of an earlier process is never mistaken for one of this process.
 */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>()

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size
  }

  /** Waits for the response to `id`. Call `send` inside, so a throw rejects at once. */
  add(
    id: number,
    method: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void =>
        this.settle(id, () => reject(new LifelineError('ABORTED', `request ${method} was aborted`)))
      const timer = this.clock.setTimeout(
        () =>
          this.settle(id, () =>
            reject(
              new LifelineError(
                'REQUEST_TIMEOUT',
                `request ${method} got no response in ${timeoutMs} ms`,
              ),
            ),
          ),
        timeoutMs,
      )
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, {
        resolve,
        reject,
        timer,
        release: () => {
          this.clock.clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        },
      })
    })
  }

  /** A `$res` arrived: settles its request; a response to nothing pending is ignored (late). */
  respond(d: unknown): void {
    if (typeof d !== 'object' || d === null || Array.isArray(d)) {
      throw protocolError('$res needs a payload { id, d } or { id, e }')
    }
    const { id, d: data, e } = d as { id?: unknown; d?: unknown; e?: unknown }
    if (!isRequestId(id)) throw protocolError('$res needs an `id`')
    if (e !== undefined) {
      const { code, message } = (typeof e === 'object' && e !== null ? e : {}) as {
        code?: unknown
        message?: unknown
      }
      if (typeof code !== 'string' || typeof message !== 'string') {
        throw protocolError('$res error `e` needs a string code and message')
      }
      if (typeof id !== 'number') return
      this.settle(id, (entry) =>
        entry.reject(new LifelineError('REMOTE_ERROR', message, { remoteCode: code })),
      )
      return
    }
    if (typeof id !== 'number') return
    this.settle(id, (entry) => entry.resolve(data))
  }

  /** Rejects every pending request (the session ended or the server closes). */
  rejectAll(message: string): void {
    for (const id of [...this.pending.keys()]) {
      this.settle(id, (entry) => entry.reject(new LifelineError('CLOSED', message)))
    }
  }

  private settle(id: number, action: (entry: Pending) => void): void {
    const entry = this.pending.get(id)
    if (entry === undefined) return
    this.pending.delete(id)
    entry.release()
    action(entry)
  }
}

/** The code of an RPC handler's or listener's failure, for a log line. */
export function codeOf(error: unknown): string | undefined {
  return isLifelineError(error) ? error.code : undefined
}
