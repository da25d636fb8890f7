import { LifelineError } from '@lifeline/codec'
import { maxTimerMs, ranLate } from '../clock.js'
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
 * internals: the client gets `INTERNAL` and a fixed message, and the server reports the error. A
 * system error (`syscall`: a file, a socket, a name lookup) has a code too, but its message names
 * paths and hosts (`ENOENT: … open '/srv/keys/key.pem'`): internal. So is one of Node's own
 * (`TypeError [ERR_INVALID_ARG_TYPE]`, …): a bug in the handler, whose message quotes what it
 * was given.
 */
export function errorPayload(error: unknown): { payload: ErrorPayload; deliberate: boolean } {
  let code: unknown
  let message: unknown
  try {
    let syscall: unknown
    let name: unknown
    ;({ code, message, syscall, name } = ((typeof error === 'object' && error) || {}) as {
      code?: unknown
      message?: unknown
      syscall?: unknown
      name?: unknown
    })
    // Node's own errors are told by how they print (`TypeError [ERR_…]: …`, their prototype's
    // `toString`; their stack may be rewritten by a source-map handler), not by the form of
    // the code: an application's or another library's `ERR_…` is deliberate. (A symbol, or a
    // `toString` that throws, throws here and is caught below.)
    if (syscall !== undefined || `${error as string}`.startsWith(`${name} [${code}]`)) {
      code = undefined
    }
  } catch {
    // Fields that throw when read (a getter, a proxy): nothing deliberate, and the caller still
    // gets its answer.
    code = undefined
  }
  return typeof code === 'string' && code !== ''
    ? { payload: { code, message: typeof message === 'string' ? message : code }, deliberate: true }
    : { payload: { code: 'INTERNAL', message: 'internal error' }, deliberate: false }
}

/**
 * The rejection of a request whose `AbortSignal` aborted, with the signal's `reason` as its
 * `cause`: how a caller tells its own abort from `AbortSignal.timeout()`'s `TimeoutError`.
 */
function abortedError(method: string, signal: AbortSignal): LifelineError {
  return new LifelineError('ABORTED', `request ${method} was aborted`, { cause: signal.reason })
}

/**
 * Checks a request before anything is sent, on either side: `INVALID_ARGUMENT` for a method that
 * is not a string, a timeout that is not a positive number (with one timer for all requests, a
 * `NaN` deadline would never come) or a signal that is no `AbortSignal` (nor `null`), `ABORTED`
 * for a signal that has already aborted.
 */
export function checkRequest(
  method: unknown,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): asserts method is string {
  if (typeof method !== 'string') {
    throw new LifelineError('INVALID_ARGUMENT', 'a request needs a method name (a string)')
  }
  // A number, not what compares as one: a string was added to the clock as text (a deadline
  // already past, while the callee ran the method), a BigInt threw once the request was out.
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `timeoutMs must be a positive number, got ${String(timeoutMs)}`,
    )
  }
  // Checked here, before the caller sends: a signal that cannot be listened to failed only once
  // the request was out, so the callee ran a method its caller was told had failed. `null` is no
  // signal, as for `fetch`: plain JavaScript passes it, and it always meant none.
  if (signal != null && typeof (signal as Partial<AbortSignal>).addEventListener != 'function') {
    throw new LifelineError('INVALID_ARGUMENT', 'signal is no AbortSignal')
  }
  if (signal?.aborted) throw abortedError(method, signal)
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

/** A request waiting for its response. */
interface Waiting {
  resolve(value: unknown): void
  reject(error: LifelineError): void
  method: string
  timeoutMs: number
  /** `clock.now()` past which it fails with `REQUEST_TIMEOUT`. */
  deadline: number
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * Requests that wait for their response, by id: each ends exactly once, by its response, its
 * timeout, its AbortSignal or `rejectAll`, and never hangs past its timeout. The caller picks
 * ids unique per session and direction (the server uses the `$req`'s own `s`, the client a
 * counter that survives session resets).
 *
 * One timer serves every request, armed for the earliest deadline: a timer of its own per
 * request cost more CPU than the rest of a round trip's bookkeeping (in Node each one made and
 * dropped a timer list, since no other timer has the same duration). A response leaves the timer
 * alone; when it fires it fails what is due and re-arms for the next deadline, or stops when
 * nothing waits. `rejectAll` and `stopIfIdle` stop it, so a closed client holds no timer.
 */
export class PendingRequests {
  readonly #pending = new Map<number, Waiting>()
  readonly #clock: Clock
  readonly #gaveUp: ((ids: ReadonlySet<number>) => void) | undefined
  /** Requests given up and not yet told to `gaveUp` (see `#giveUp`). */
  readonly #given = new Set<number>()
  #timer: TimerHandle | undefined
  /** The deadline the timer is armed for; Infinity when it is not. */
  #timerAt = Infinity
  /** The timer ran late, and runs again to confirm what it found due (see `ranLate`). */
  #confirming = false

  /**
   * @param gaveUp Told of the requests whose callers gave up on them (their timeout, their
   *   signal) or that `rejectAll` failed: the client takes back those no link has carried yet.
   */
  constructor(clock: Clock, gaveUp?: (ids: ReadonlySet<number>) => void) {
    this.#clock = clock
    this.#gaveUp = gaveUp
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
      const deadline = this.#clock.now() + timeoutMs
      const onAbort = signal && (() => this.#giveUp(id, abortedError(method, signal)))
      if (onAbort) signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, { resolve, reject, method, timeoutMs, deadline, signal, onAbort })
      if (deadline < this.#timerAt) this.#arm(deadline)
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
    this.#end(
      id as number,
      e === undefined
        ? undefined
        : new LifelineError('REMOTE_ERROR', message as string, { remoteCode: code as string }),
      data,
    )
  }

  /** Rejects one pending request, if it still waits. */
  fail(id: number, error: LifelineError): void {
    this.#end(id, error)
  }

  /**
   * Rejects every pending request (the session ended or the server closes) with `CLOSED` and
   * `reason`, or with `reason` itself when it is an error; or every one `keep` does not name (the
   * timer then stays for those, and stops when it finds none).
   */
  rejectAll(reason: string | LifelineError, keep?: (id: number) => boolean): void {
    if (!keep) this.#disarm()
    // Each one deletes itself, which a Map's iteration allows. Given up as a timeout is: its
    // caller was told it failed, and one no link carried would otherwise run on the server
    // after `connect()`, its answer ignored (a caller that tried again had it run twice).
    for (const id of this.#pending.keys()) {
      if (!keep?.(id)) {
        this.#giveUp(id, typeof reason === 'string' ? new LifelineError('CLOSED', reason) : reason)
      }
    }
  }

  /**
   * Stops the timer when nothing waits. Called when the link goes down: a timer left armed by
   * answered requests would otherwise keep a Node process alive until it fires.
   */
  stopIfIdle(): void {
    if (this.#pending.size === 0) this.#disarm()
  }

  /** Ends a request, if it still waits: forgets it and settles its promise. */
  #end(id: number, error: LifelineError | undefined, value?: unknown): void {
    const waiting = this.#pending.get(id)
    if (waiting === undefined) return
    this.#pending.delete(id)
    if (waiting.onAbort) waiting.signal?.removeEventListener('abort', waiting.onAbort)
    if (error === undefined) waiting.resolve(value)
    else waiting.reject(error)
  }

  /**
   * Its caller stops waiting (timeout, signal, or `rejectAll`): rejects it and says so a
   * microtask later, with every other one given up meanwhile. A signal shared by many requests, or a burst made
   * offline that times out at once, is so taken back in one pass over the outbox: one at a time,
   * each renumbering what followed it, cost time in the square of their number.
   */
  #giveUp(id: number, error: LifelineError): void {
    this.#end(id, error)
    const given = this.#given
    if (given.add(id).size === 1) {
      queueMicrotask(() => {
        this.#gaveUp?.(given)
        given.clear()
      })
    }
  }

  #arm(deadline: number): void {
    this.#disarm()
    this.#timerAt = deadline
    // A deadline further than a timer can wait is checked when that much has passed, and the
    // timer armed again.
    const delayMs = Math.min(maxTimerMs, Math.max(0, deadline - this.#clock.now()))
    this.#timer = this.#clock.setTimeout(this.#onTimer, delayMs)
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
    this.#confirming = false
  }

  /** Fails every request that is due, then waits for the earliest deadline left. */
  readonly #onTimer = (): void => {
    // Late, the responses that came in time may be waiting unread: they settle their requests
    // before the check, a turn later.
    if (!this.#confirming && ranLate(this.#clock, this.#timerAt)) {
      this.#arm(this.#clock.now() + 1)
      this.#confirming = true
      return
    }
    this.#timer = undefined
    this.#timerAt = Infinity
    this.#confirming = false
    const now = this.#clock.now()
    let next = Infinity
    for (const [id, { method, timeoutMs, deadline }] of this.#pending) {
      if (deadline <= now) {
        this.#giveUp(
          id,
          new LifelineError(
            'REQUEST_TIMEOUT',
            `request ${method} got no response in ${timeoutMs} ms`,
          ),
        )
      } else if (deadline < next) next = deadline
    }
    if (next !== Infinity) this.#arm(next)
  }
}
