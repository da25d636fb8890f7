import { LifelineError } from '@lifeline/codec'
import type { Clock, TimerHandle } from '../clock.js'
import { protocolError } from './envelope.js'

/**
 * An error for an RPC handler to throw when the caller should see a specific code: the caller's
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
 * Requests that wait for their response, by id: each ends exactly once, by its response, its
 * timeout, its AbortSignal or `rejectAll`, and never hangs past its timeout. The caller picks
 * ids unique per session and direction (the server uses the `$req`'s own `s`, the client a
 * counter that survives session resets).
 */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>()

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size
  }

  /** Waits for the response to `id` (sent by the caller). */
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
