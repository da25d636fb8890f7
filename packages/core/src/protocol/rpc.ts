import { LifelineError } from '@lifeline/codec'
import type { Clock } from '../clock.js'
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
  const { code, message }: { code?: unknown; message?: unknown } =
    (typeof error === 'object' && error) || {}
  return typeof code === 'string' && code !== ''
    ? { payload: { code, message: typeof message === 'string' ? message : code }, deliberate: true }
    : { payload: { code: 'INTERNAL', message: 'internal error' }, deliberate: false }
}

/** The rejection of a request whose `AbortSignal` aborted. */
export function abortedError(method: string): LifelineError {
  return new LifelineError('ABORTED', `request ${method} was aborted`)
}

/** A `$req` payload, checked. */
export interface InboundRequest {
  id: string | number
  method: string
  data: unknown
}

function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || Number.isSafeInteger(value)
}

/** The fields of a `$req` or `$res` payload, unchecked; nothing for a payload that is no object. */
function fieldsOf(d: unknown): { id?: unknown; m?: unknown; d?: unknown; e?: unknown } {
  return typeof d === 'object' && d !== null && !Array.isArray(d) ? d : {}
}

export function parseRequest(d: unknown): InboundRequest {
  const { id, m, d: data } = fieldsOf(d)
  if (!isRequestId(id) || typeof m !== 'string') {
    throw protocolError('$req needs a payload { id, m, d }')
  }
  return { id, method: m, data }
}

/**
 * Requests that wait for their response, by id: each ends exactly once, by its response, its
 * timeout, its AbortSignal or `rejectAll`, and never hangs past its timeout. The caller picks
 * ids unique per session and direction (the server uses the `$req`'s own `s`, the client a
 * counter that survives session resets).
 */
export class PendingRequests {
  /** What ends each request: it forgets the request, stops its timer and settles its promise. */
  readonly #pending = new Map<number, (error: LifelineError | undefined, value?: unknown) => void>()
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get size(): number {
    return this.#pending.size
  }

  /** Waits for the response to `id` (sent by the caller). */
  add(
    id: number,
    method: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const end = (error: LifelineError | undefined, value?: unknown): void => {
        this.#pending.delete(id)
        this.#clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(value)
      }
      const onAbort = (): void => end(abortedError(method))
      const timer = this.#clock.setTimeout(
        () =>
          end(
            new LifelineError(
              'REQUEST_TIMEOUT',
              `request ${method} got no response in ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, end)
    })
  }

  /** A `$res` arrived: settles its request; a response to nothing pending is ignored (late). */
  respond(d: unknown): void {
    const { id, d: data, e } = fieldsOf(d)
    const { code, message } = fieldsOf(e) as { code?: unknown; message?: unknown }
    if (
      !isRequestId(id) ||
      (e !== undefined && (typeof code !== 'string' || typeof message !== 'string'))
    ) {
      throw protocolError('$res needs a payload { id, d } or { id, e: { code, message } }')
    }
    // A string id is never one of ours (the client numbers its requests): nothing to settle.
    this.#pending.get(id as number)?.(
      e === undefined
        ? undefined
        : new LifelineError('REMOTE_ERROR', message as string, { remoteCode: code as string }),
      data,
    )
  }

  /** Rejects every pending request (the session ended or the server closes). */
  rejectAll(message: string): void {
    // Each one deletes itself, which a Map's iteration allows.
    for (const end of this.#pending.values()) end(new LifelineError('CLOSED', message))
  }
}
