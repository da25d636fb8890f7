import { reportListenerError } from '../events.js'

/** Event names mapped to their listeners' arguments, e.g. `{ reset: [event: ResetEvent] }`. */
export type EventMap<Events> = { [K in keyof Events]: unknown[] }

type AnyListener = (...args: never) => void
/** `fired`: a once listener already called, by this emit or one nested in it. */
type Entry = [listener: AnyListener, once: boolean, fired?: true]

/**
 * A small typed event emitter: `on`, `once`, `off`, `emit`, with eventemitter3's signatures for
 * those four. A listener that throws is reported (`reportError` or `console.error`) and the
 * others still run, so a faulty listener cannot break the client that emits. Lists are copied
 * on write: an emit in progress calls the listeners it started with.
 */
export class Emitter<Events extends EventMap<Events>> {
  #listeners = new Map<keyof Events, readonly Entry[]>()

  /** Calls `listener` on every `event`. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    return this.#add(event, [listener, false])
  }

  /** Calls `listener` on the next `event` only. */
  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    return this.#add(event, [listener, true])
  }

  /** Removes `listener` from `event`; every listener of `event` without one; all without both. */
  off<K extends keyof Events>(event?: K, listener?: (...args: Events[K]) => void): this {
    if (event === undefined) this.#listeners.clear()
    else if (listener) this.#set(event, ([l]) => l !== listener)
    else this.#listeners.delete(event)
    return this
  }

  /** Calls the listeners of `event` in the order they were added; false when there were none. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const entries = this.#of(event)
    for (const entry of entries) {
      if (entry[1]) {
        // A listener of this emit may emit the same event again: the nested emit calls a once
        // listener first, and this one, which started with it, must not call it a second time.
        if (entry[2]) continue
        entry[2] = true
        this.#set(event, (e) => e !== entry)
      }
      try {
        entry[0](...(args as never))
      } catch (error) {
        reportListenerError(error)
      }
    }
    return entries.length > 0
  }

  #of(event: keyof Events): readonly Entry[] {
    return this.#listeners.get(event) ?? []
  }

  #add(event: keyof Events, entry: Entry): this {
    this.#listeners.set(event, [...this.#of(event), entry])
    return this
  }

  /**
   * Keeps the listeners of `event` that pass `keep`, in a new list; none, no entry: a client
   * that listens to types of its own making (a room's, a request's) and lets them go would
   * otherwise keep one per type for good.
   */
  #set(event: keyof Events, keep: (entry: Entry) => boolean): void {
    const kept = this.#of(event).filter(keep)
    if (kept[0]) this.#listeners.set(event, kept)
    else this.#listeners.delete(event)
  }
}
