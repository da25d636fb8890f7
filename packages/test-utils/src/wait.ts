import { delay, realTime } from './realTime.js'

export const waitDefaults = {
  /**
   * Below vitest's 5 s test timeout, so a stuck wait fails with its own message (what it was
   * waiting for) rather than with a bare "test timed out".
   */
  timeoutMs: 2_000,
  intervalMs: 10,
}

/** Raised when a bounded wait runs out; the message says what was awaited. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError'
  readonly timeoutMs: number

  constructor(what: string, timeoutMs: number, options?: ErrorOptions) {
    super(`Timed out after ${timeoutMs} ms waiting for ${what}`, options)
    this.timeoutMs = timeoutMs
  }
}

export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>

export interface WaitForOptions {
  /**
   * What is awaited, in words; the error reads "Timed out after N ms waiting for <message>".
   * Required because a timeout without it says nothing about what went wrong. A function is
   * called at the timeout, so the message can report the state the wait ended in.
   */
  message: string | (() => string)
  /** @default 2000 */
  timeoutMs?: number
  /** Pause between two evaluations of the predicate. @default 10 */
  intervalMs?: number
}

/**
 * Polls `predicate` until it returns a truthy value, and resolves with that value.
 *
 * A predicate that throws counts as "not yet", so assertions can be polled
 * (`() => { expect(x).toBe(1); return true }`); the last error thrown becomes the timeout's
 * `cause`. An async predicate is bounded by the same deadline.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? waitDefaults.timeoutMs
  const intervalMs = options.intervalMs ?? waitDefaults.intervalMs
  const deadline = realTime.now() + timeoutMs
  let lastError: { error: unknown } | undefined
  for (;;) {
    let outcome: { result: T } | typeof DEADLINE | undefined
    try {
      const result = predicate()
      outcome = result instanceof Promise ? await settleBefore(result, deadline) : { result }
      lastError = undefined
    } catch (error) {
      lastError = { error }
    }
    if (outcome === DEADLINE) throw timeoutFor(options.message, timeoutMs, lastError)
    if (outcome?.result) return outcome.result as Truthy<T>
    const remainingMs = deadline - realTime.now()
    if (remainingMs <= 0) throw timeoutFor(options.message, timeoutMs, lastError)
    await delay(Math.min(intervalMs, remainingMs))
  }
}

const DEADLINE = Symbol('deadline')

/** Settles like `promise`, or resolves with `DEADLINE` if `deadline` comes first. */
function settleBefore<T>(
  promise: Promise<T>,
  deadline: number,
): Promise<{ result: T } | typeof DEADLINE> {
  return new Promise((resolve, reject) => {
    const timer = realTime.setTimeout(
      () => resolve(DEADLINE),
      Math.max(0, deadline - realTime.now()),
    )
    promise.then(
      (result) => {
        realTime.clearTimeout(timer)
        resolve({ result })
      },
      (error: unknown) => {
        realTime.clearTimeout(timer)
        reject(error)
      },
    )
  })
}

function timeoutFor(
  message: string | (() => string),
  timeoutMs: number,
  lastError: { error: unknown } | undefined,
): TimeoutError {
  const what = typeof message === 'string' ? message : message()
  return new TimeoutError(what, timeoutMs, lastError ? { cause: lastError.error } : undefined)
}

/**
 * Settles like `promise`, or rejects with a `TimeoutError` after `timeoutMs`. The timer is
 * cleared either way, so nothing is left to keep the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = realTime.setTimeout(() => {
      reject(new TimeoutError(what, timeoutMs))
    }, timeoutMs)
    promise.then(
      (value) => {
        realTime.clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        realTime.clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** Node's `EventEmitter` and anything shaped like it, `ws` sockets and servers included. */
export interface EventEmitterLike {
  on(event: string, listener: (...args: unknown[]) => void): unknown
  off(event: string, listener: (...args: unknown[]) => void): unknown
}

/** The DOM's `EventTarget`: browser `WebSocket`, `AbortSignal`, fakes built on `EventTarget`. */
export interface EventTargetLike {
  addEventListener(type: string, listener: (event: Event) => void): void
  removeEventListener(type: string, listener: (event: Event) => void): void
}

/**
 * Resolves on the next `event` from `target`: with the listener's arguments for an emitter
 * (`const [code, reason] = await once(ws, 'close')`), with the `Event` for an `EventTarget`.
 * Rejects with a `TimeoutError` after `timeoutMs`. The listener and the timer are removed in both
 * cases. An `'error'` event does not reject a wait for another event: waiting for `'close'` after
 * a reset is the common case, and that close always follows the error.
 *
 * An object that is both (a `ws` socket) is treated as an emitter.
 */
export function once(
  target: EventEmitterLike,
  event: string,
  timeoutMs?: number,
): Promise<unknown[]>
export function once(target: EventTargetLike, event: string, timeoutMs?: number): Promise<Event>
export function once(
  target: EventEmitterLike | EventTargetLike,
  event: string,
  timeoutMs: number = waitDefaults.timeoutMs,
): Promise<unknown[] | Event> {
  return new Promise((resolve, reject) => {
    const unsubscribe = subscribe(target, event, (value) => {
      realTime.clearTimeout(timer)
      unsubscribe()
      resolve(value)
    })
    const timer = realTime.setTimeout(() => {
      unsubscribe()
      reject(new TimeoutError(`event '${event}'`, timeoutMs))
    }, timeoutMs)
  })
}

/**
 * Resolves if `target` emits no `event` during `windowMs`; rejects as soon as it does.
 *
 * This is the one wait that has to run its full time, since absence can only be observed over a
 * window: keep the window short (≤ 200 ms) and use it only to prove that something does NOT
 * happen (a black-holed message is not delivered), never to let something finish.
 */
export function expectNoEvent(
  target: EventEmitterLike | EventTargetLike,
  event: string,
  windowMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const unsubscribe = subscribe(target, event, () => {
      realTime.clearTimeout(timer)
      unsubscribe()
      reject(new Error(`Expected no '${event}' event within ${windowMs} ms, but one fired`))
    })
    const timer = realTime.setTimeout(() => {
      unsubscribe()
      resolve()
    }, windowMs)
  })
}

function subscribe(
  target: EventEmitterLike | EventTargetLike,
  event: string,
  callback: (value: unknown[] | Event) => void,
): () => void {
  if (isEmitter(target)) {
    const listener = (...args: unknown[]): void => callback(args)
    target.on(event, listener)
    return () => {
      target.off(event, listener)
    }
  }
  const listener = (value: Event): void => callback(value)
  target.addEventListener(event, listener)
  return () => {
    target.removeEventListener(event, listener)
  }
}

function isEmitter(target: EventEmitterLike | EventTargetLike): target is EventEmitterLike {
  return (
    typeof (target as Partial<EventEmitterLike>).on === 'function' &&
    typeof (target as Partial<EventEmitterLike>).off === 'function'
  )
}
