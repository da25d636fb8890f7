import type { Listener, ListenerOptions } from './events.js'
import { Listeners } from './events.js'

/** The four events every WebSocket has. */
interface StandardEvents {
  open: object
  message: object
  close: object
  error: object
}

type Handler<Events, K extends keyof Events> = ((event: Events[K]) => void) | null

/**
 * The WebSocket event surface: `on<type>` properties and `add/removeEventListener`, over a
 * `Listeners` registry that subclasses dispatch to.
 */
export abstract class SocketEventTarget<Events extends StandardEvents> {
  protected readonly listeners = new Listeners<Events>()

  get onopen(): Handler<Events, 'open'> {
    return this.listeners.getHandler('open')
  }
  set onopen(handler: Handler<Events, 'open'>) {
    this.listeners.setHandler('open', handler)
  }
  get onmessage(): Handler<Events, 'message'> {
    return this.listeners.getHandler('message')
  }
  set onmessage(handler: Handler<Events, 'message'>) {
    this.listeners.setHandler('message', handler)
  }
  get onclose(): Handler<Events, 'close'> {
    return this.listeners.getHandler('close')
  }
  set onclose(handler: Handler<Events, 'close'>) {
    this.listeners.setHandler('close', handler)
  }
  get onerror(): Handler<Events, 'error'> {
    return this.listeners.getHandler('error')
  }
  set onerror(handler: Handler<Events, 'error'>) {
    this.listeners.setHandler('error', handler)
  }

  addEventListener<K extends keyof Events>(
    type: K,
    listener: Listener<Events[K]> | null,
    options?: boolean | ListenerOptions,
  ): void {
    this.listeners.add(type, listener, options)
  }

  removeEventListener<K extends keyof Events>(type: K, listener: Listener<Events[K]> | null): void {
    this.listeners.remove(type, listener)
  }

  /**
   * Dispatches an event of the caller's to the listeners of its type and the `on<type>` handler,
   * with this socket as its `target`, as an EventTarget does; false when a listener cancelled it.
   */
  dispatchEvent(event: Event): boolean {
    Object.defineProperty(event, 'target', { value: this, configurable: true })
    this.listeners.dispatch(event.type as keyof Events, event as never)
    return !event.defaultPrevented
  }
}
