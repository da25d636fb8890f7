/** A listener function or an object with `handleEvent`, as `addEventListener` takes. */
export type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void }

export interface ListenerOptions {
  once?: boolean
  signal?: AbortSignal
}

interface Entry<E> {
  readonly listener: Listener<E>
  readonly once: boolean
  /** Set on removal, so a dispatch already under way skips it, as the standard says. */
  removed?: boolean
}

/**
 * Where a listener's exception goes: the platform's `reportError` (browsers, Deno, Bun) or
 * `console.error`. Never rethrown into the socket's own code, so a faulty listener cannot break
 * reconnecting, and never swallowed.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === 'function') report(error)
  else console.error('lifeline: an event listener threw', error)
}

/**
 * A small EventTarget: listeners per type in registration order, `once`, `signal`, and
 * `on<type>` handler properties that keep the position where they were first set, as the
 * standard does. Events are plain objects, dispatched without cloning.
 */
export class Listeners<Events> {
  private readonly byType: { [K in keyof Events]?: Entry<Events[K]>[] } = {}
  private readonly handlers: { [K in keyof Events]?: Entry<Events[K]> } = {}

  add<K extends keyof Events>(
    type: K,
    listener: Listener<Events[K]> | null,
    options?: boolean | ListenerOptions,
  ): void {
    if (listener === null) return
    const { once = false, signal } = typeof options === 'object' ? options : {}
    if (signal?.aborted) return
    const entries = this.byType[type] ?? []
    if (entries.some((entry) => entry.listener === listener && !this.isHandler(type, entry))) return
    // Copy on write: a dispatch in progress keeps iterating the array it started with.
    this.byType[type] = [...entries, { listener, once }]
    signal?.addEventListener('abort', () => this.remove(type, listener), { once: true })
  }

  remove<K extends keyof Events>(type: K, listener: Listener<Events[K]> | null): void {
    const entries = this.byType[type]
    if (entries === undefined || listener === null) return
    const found = entries.find(
      (entry) => entry.listener === listener && !this.isHandler(type, entry),
    )
    if (found !== undefined) this.removeEntry(type, found)
  }

  private isHandler<K extends keyof Events>(type: K, entry: Entry<Events[K]>): boolean {
    return this.handlers[type] === entry
  }

  private removeEntry<K extends keyof Events>(type: K, removed: Entry<Events[K]>): void {
    removed.removed = true
    this.byType[type] = (this.byType[type] ?? []).filter((entry) => entry !== removed)
  }

  /** The `on<type>` property's current value. */
  getHandler<K extends keyof Events>(type: K): ((event: Events[K]) => void) | null {
    return (this.handlers[type]?.listener as ((event: Events[K]) => void) | undefined) ?? null
  }

  /** Sets the `on<type>` property; replacing keeps its place among the listeners. */
  setHandler<K extends keyof Events>(type: K, handler: ((event: Events[K]) => void) | null): void {
    const previous = this.handlers[type]
    const entries = this.byType[type] ?? []
    if (typeof handler !== 'function') {
      if (previous === undefined) return
      delete this.handlers[type]
      this.removeEntry(type, previous)
      return
    }
    const entry: Entry<Events[K]> = { listener: handler, once: false }
    if (previous !== undefined) previous.removed = true
    this.handlers[type] = entry
    this.byType[type] =
      previous === undefined
        ? [...entries, entry]
        : entries.map((existing) => (existing === previous ? entry : existing))
  }

  has<K extends keyof Events>(type: K): boolean {
    const entries = this.byType[type]
    return entries !== undefined && entries.length > 0
  }

  dispatch<K extends keyof Events>(type: K, event: Events[K]): void {
    const entries = this.byType[type]
    if (entries === undefined) return
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry<Events[K]>
      if (entry.removed === true) continue
      if (entry.once) this.removeEntry(type, entry)
      try {
        const { listener } = entry
        if (typeof listener === 'function') listener(event)
        else listener.handleEvent(event)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }
}
