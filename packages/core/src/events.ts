/** A listener function or an object with `handleEvent`, as `addEventListener` takes. */
export type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void }

export interface ListenerOptions {
  once?: boolean | undefined
  signal?: AbortSignal | undefined
}

/** What a dispatch reads of an event: its target is `this` of the listener functions. */
interface Target {
  readonly target?: unknown
}

/** A registered listener; `Listeners.entries` hands out arrays of them for `dispatchTo`. */
export interface ListenerEntry<E> {
  /** Changed only for an `on<type>` handler, which keeps its entry when it is replaced. */
  listener: Listener<E>
  /** Absent for an `on<type>` handler, which is never `once`. */
  readonly once?: boolean
  /** The entry of an `on<type>` property. */
  readonly handler?: true
  /** Set on removal, so a dispatch already under way skips it, as the standard says. */
  removed?: true
  /** The signal that removes it, and the abort listener it holds until then. */
  readonly signal?: AbortSignal | undefined
  readonly onAbort?: () => void
}

/**
 * Where a listener's exception goes: the platform's `reportError` where reporting is all it
 * does (browsers and their workers), else `console.error`. Deno and Bun have a `reportError`
 * too, but there an error no global `error` listener handles ends the process, as an uncaught
 * exception would, and one faulty listener would take every socket of the process with it.
 * Never rethrown into the socket's own code, so a faulty listener cannot break reconnecting, and
 * never swallowed (a value that cannot be printed is said to be so).
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === 'function' && !('Deno' in globalThis || 'Bun' in globalThis)) {
    report(error)
  } else {
    try {
      console.error('lifeline: listener threw', error)
    } catch {
      // Node prints an error by its `stack` and an object by its custom inspect, either of which
      // may throw (itself, again and again): said without it, never thrown into the socket.
      console.error('lifeline: listener threw')
    }
  }
}

/**
 * A small EventTarget: listeners per type in registration order, `once`, `signal`, and
 * `on<type>` handler properties that keep the position where they were first set, as the
 * standard does. Events are plain objects, dispatched without cloning. Arrays are copied on
 * write, so a dispatch in progress keeps iterating the array it started with.
 */
type ByType<Events> = { [K in keyof Events]?: ListenerEntry<Events[K]>[] | undefined }

export class Listeners<Events> {
  /** Made on the first listener and let go with the last: an idle socket holds nothing here. */
  #byType: ByType<Events> | undefined

  add<K extends keyof Events>(
    type: K,
    listener: Listener<Events[K]> | null,
    options?: boolean | ListenerOptions,
  ): void {
    const { once = false, signal } = typeof options === 'object' ? options : {}
    if (listener === null || signal?.aborted || this.#find(type, listener)) return
    // The abort removes this entry, not the function: added again after a removal, it is a new
    // listener, which an old signal does not remove. The abort listener goes with the entry: a
    // long-lived signal (a page's, a service's) would hold one, and the socket, per listener
    // ever added with it.
    const entry: ListenerEntry<Events[K]> = {
      listener,
      once,
      signal,
      onAbort: () => this.#drop(type, entry),
    }
    this.#table()[type] = [...this.#of(type), entry]
    signal?.addEventListener('abort', entry.onAbort as () => void, { once: true })
  }

  remove<K extends keyof Events>(type: K, listener: Listener<Events[K]> | null): void {
    this.#drop(type, this.#find(type, listener))
  }

  /** The `on<type>` property's current value. */
  getHandler<K extends keyof Events>(type: K): ((event: Events[K]) => void) | null {
    return (this.#handler(type)?.listener as (event: Events[K]) => void) ?? null
  }

  /** Sets the `on<type>` property; replacing keeps its place among the listeners. */
  setHandler<K extends keyof Events>(type: K, handler: ((event: Events[K]) => void) | null): void {
    const previous = this.#handler(type)
    if (typeof handler !== 'function') return this.#drop(type, previous)
    // Replaced in its entry: the standard's handler is one listener that reads the property when
    // its turn comes, so a dispatch under way calls the value an earlier listener put there.
    if (previous) previous.listener = handler
    else this.#table()[type] = [...this.#of(type), { listener: handler, handler: true }]
  }

  /**
   * The listeners of `type` now, or `undefined` when there are none: the array is copied on
   * write, never changed, so it is the list a dispatch started now would call (`dispatchTo`).
   */
  entries<K extends keyof Events>(type: K): readonly ListenerEntry<Events[K]>[] | undefined {
    return this.#byType?.[type]
  }

  dispatch<K extends keyof Events>(type: K, event: Events[K]): void {
    this.dispatchTo(type, this.#byType?.[type], event)
  }

  /**
   * Dispatches `event` to `entries`, taken from `entries(type)` when the dispatch began: those
   * added since are not called, those removed since are skipped, as an EventTarget does.
   */
  dispatchTo<K extends keyof Events>(
    type: K,
    entries: readonly ListenerEntry<Events[K]>[] | undefined,
    event: Events[K],
  ): void {
    if (!entries) return
    for (const entry of entries) {
      if (entry.removed) continue
      if (entry.once) this.#drop(type, entry)
      try {
        const { listener } = entry
        // As the standard's: a function is called with the socket as `this` (old code writes
        // `socket.onmessage = function () { this.send(…) }`), an object's handleEvent with itself.
        if (typeof listener === 'function') listener.call((event as Target).target, event)
        else listener.handleEvent(event)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  #table(): ByType<Events> {
    return (this.#byType ??= {})
  }

  #of<K extends keyof Events>(type: K): ListenerEntry<Events[K]>[] {
    return this.#byType?.[type] ?? []
  }

  #find<K extends keyof Events>(type: K, listener: Listener<Events[K]> | null) {
    return this.#of(type).find((entry) => entry.listener === listener && !entry.handler)
  }

  #handler<K extends keyof Events>(type: K) {
    return this.#of(type).find((entry) => entry.handler)
  }

  #drop<K extends keyof Events>(type: K, removed: ListenerEntry<Events[K]> | undefined): void {
    if (!removed) return
    removed.removed = true
    removed.signal?.removeEventListener('abort', removed.onAbort as () => void)
    const byType = this.#byType
    if (!byType) return
    const rest = this.#of(type).filter((entry) => entry !== removed)
    // Nothing kept for no listeners: a `once` open listener would leave it in every socket.
    byType[type] = rest.length > 0 ? rest : undefined
    if (Object.values(byType).every((entries) => !entries)) this.#byType = undefined
  }
}
