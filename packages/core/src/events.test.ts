import { format, inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Listeners, reportListenerError } from './events.js'

interface TestEvents {
  ping: { readonly n: number }
  pong: { readonly n: number }
}

const ping = { n: 1 }

/** Whether `type` has any listener: a type's entries are let go with its last listener. */
const has = (listeners: Listeners<TestEvents>, type: keyof TestEvents) =>
  listeners.entries(type) !== undefined

/** A listener that records `name` in `log` each time it is called. */
const logger = (log: string[], name: string) => () => {
  log.push(name)
}

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
})

describe('Listeners', () => {
  it('calls listeners in registration order with the event itself', () => {
    const listeners = new Listeners<TestEvents>()
    const seen: [string, unknown][] = []
    listeners.add('ping', (event) => seen.push(['a', event]))
    listeners.add('ping', (event) => seen.push(['b', event]))
    listeners.add('ping', (event) => seen.push(['c', event]))
    listeners.dispatch('ping', ping)
    expect(seen).toEqual([
      ['a', ping],
      ['b', ping],
      ['c', ping],
    ])
    expect(seen.every(([, event]) => event === ping)).toBe(true)
  })

  it('keeps types apart', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.add('ping', logger(log, 'ping'))
    listeners.add('pong', logger(log, 'pong'))
    listeners.dispatch('pong', { n: 2 })
    expect(log).toEqual(['pong'])
  })

  it('ignores a listener added twice for the same type, whatever the options', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const listener = logger(log, 'a')
    listeners.add('ping', listener)
    listeners.add('ping', logger(log, 'b'))
    listeners.add('ping', listener)
    listeners.add('ping', listener, { once: true })
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'b', 'a', 'b'])
  })

  it('takes the same listener for another type', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    listeners.add('ping', listener)
    listeners.add('pong', listener)
    listeners.dispatch('ping', ping)
    listeners.dispatch('pong', { n: 2 })
    expect(listener).toHaveBeenCalledTimes(2)
  })

  it('removes a listener, and takes it again at the end afterwards', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const a = logger(log, 'a')
    listeners.add('ping', a)
    listeners.add('ping', logger(log, 'b'))
    listeners.remove('ping', a)
    listeners.dispatch('ping', ping)
    listeners.add('ping', a)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['b', 'b', 'a'])
  })

  it('ignores null and unknown listeners', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    listeners.add('ping', null)
    listeners.remove('ping', listener)
    listeners.remove('ping', null)
    expect(has(listeners, 'ping')).toBe(false)
    listeners.add('ping', listener)
    listeners.remove('ping', null)
    listeners.remove('ping', () => {})
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('tells whether a type has any listener', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    expect(has(listeners, 'ping')).toBe(false)
    listeners.add('ping', listener)
    expect(has(listeners, 'ping')).toBe(true)
    expect(has(listeners, 'pong')).toBe(false)
    listeners.remove('ping', listener)
    expect(has(listeners, 'ping')).toBe(false)
    listeners.setHandler('ping', listener)
    expect(has(listeners, 'ping')).toBe(true)
    listeners.setHandler('ping', null)
    expect(has(listeners, 'ping')).toBe(false)
  })

  it('dispatches to no one without failing', () => {
    const listeners = new Listeners<TestEvents>()
    expect(() => listeners.dispatch('ping', ping)).not.toThrow()
  })
})

describe('Listeners once', () => {
  it('calls a once listener on the first dispatch only', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.add('ping', logger(log, 'once'), { once: true })
    listeners.add('ping', logger(log, 'always'))
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['once', 'always', 'always'])
  })

  it('works as new once every listener of every type is gone', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const pong = logger(log, 'pong')
    listeners.add('ping', logger(log, 'once'), { once: true })
    listeners.add('pong', pong)
    listeners.setHandler('ping', logger(log, 'handler'))
    listeners.setHandler('ping', null)
    listeners.remove('pong', pong)
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['once'])
    expect(has(listeners, 'ping') || has(listeners, 'pong')).toBe(false)
    listeners.add('pong', pong)
    listeners.setHandler('ping', logger(log, 'handler'))
    listeners.dispatch('pong', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['once', 'pong', 'handler'])
    expect(listeners.getHandler('ping')).toBeTypeOf('function')
  })

  it('removes a once listener before calling it, so a nested dispatch does not call it again', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn(() => listeners.dispatch('ping', { n: 2 }))
    listeners.add('ping', listener, { once: true })
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(has(listeners, 'ping')).toBe(false)
  })

  it('removes a once listener that throws', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    vi.stubGlobal('reportError', undefined)
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn(() => {
      throw new Error('boom')
    })
    listeners.add('ping', listener, { once: true })
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('treats `true` as capture, not once', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    listeners.add('ping', listener, true)
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(2)
  })
})

describe('Listeners with handleEvent objects', () => {
  it('calls handleEvent with the object as `this`, and removes by the object', () => {
    const listeners = new Listeners<TestEvents>()
    const calls: [unknown, unknown][] = []
    const object = {
      handleEvent(event: { readonly n: number }) {
        calls.push([this, event])
      },
    }
    listeners.add('ping', object)
    listeners.add('ping', object)
    listeners.dispatch('ping', ping)
    expect(calls).toEqual([[object, ping]])
    expect(calls[0]?.[0]).toBe(object)
    listeners.remove('ping', object)
    listeners.dispatch('ping', ping)
    expect(calls).toHaveLength(1)
  })

  it('orders objects and functions together', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.add('ping', logger(log, 'a'))
    listeners.add('ping', { handleEvent: logger(log, 'b') })
    listeners.add('ping', logger(log, 'c'))
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'b', 'c'])
  })
})

describe('Listeners changed during a dispatch', () => {
  it('skips a listener removed by an earlier one in the same dispatch', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const b = logger(log, 'b')
    listeners.add('ping', () => {
      log.push('a')
      listeners.remove('ping', b)
    })
    listeners.add('ping', b)
    listeners.add('ping', logger(log, 'c'))
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'c'])
  })

  it('skips a handleEvent object removed by an earlier one in the same dispatch', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const b = { handleEvent: logger(log, 'b') }
    listeners.add('ping', () => listeners.remove('ping', b))
    listeners.add('ping', b)
    listeners.dispatch('ping', ping)
    expect(log).toEqual([])
  })

  it('skips a once listener removed by an earlier one', () => {
    const listeners = new Listeners<TestEvents>()
    const later = vi.fn()
    listeners.add('ping', () => listeners.remove('ping', later))
    listeners.add('ping', later, { once: true })
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(later).not.toHaveBeenCalled()
  })

  it('skips an on<type> handler cleared by an earlier listener', () => {
    const listeners = new Listeners<TestEvents>()
    const handler = vi.fn()
    listeners.add('ping', () => listeners.setHandler('ping', null))
    listeners.setHandler('ping', handler)
    listeners.dispatch('ping', ping)
    expect(handler).not.toHaveBeenCalled()
  })

  it('calls the on<type> handler an earlier listener put in its place, as the standard reads it when its turn comes', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.add('ping', () => listeners.setHandler('ping', logger(log, 'new handler')))
    listeners.setHandler('ping', logger(log, 'old handler'))
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['new handler'])
  })

  it('still calls the listeners after one that removes an earlier listener or itself', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const a = logger(log, 'a')
    const b = () => {
      log.push('b')
      listeners.remove('ping', a)
      listeners.remove('ping', b)
    }
    listeners.add('ping', a)
    listeners.add('ping', b)
    listeners.add('ping', logger(log, 'c'))
    listeners.add('ping', logger(log, 'd'))
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'b', 'c', 'd', 'c', 'd'])
  })

  it('calls a listener added during a dispatch from the next dispatch on', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const added = logger(log, 'added')
    listeners.add('ping', () => {
      log.push('a')
      listeners.add('ping', added)
    })
    listeners.dispatch('ping', ping)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'a', 'added'])
  })

  it('dispatches to the entries taken before, skipping those removed since and not those added', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const b = logger(log, 'b')
    listeners.add('ping', logger(log, 'a'))
    listeners.add('ping', b)
    const entries = listeners.entries('ping')
    listeners.remove('ping', b)
    listeners.add('ping', logger(log, 'c'))
    listeners.dispatchTo('ping', entries, ping)
    expect(log).toEqual(['a'])
    expect(listeners.entries('pong')).toBeUndefined()
  })

  it('does not call a listener removed and added again in the same dispatch', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const b = logger(log, 'b')
    listeners.add('ping', () => {
      log.push('a')
      listeners.remove('ping', b)
      listeners.add('ping', b)
    })
    listeners.add('ping', b)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a'])
  })
})

describe('Listeners on<type> handlers', () => {
  it('gets and sets the handler', () => {
    const listeners = new Listeners<TestEvents>()
    const handler = vi.fn()
    expect(listeners.getHandler('ping')).toBeNull()
    listeners.setHandler('ping', handler)
    expect(listeners.getHandler('ping')).toBe(handler)
    expect(listeners.getHandler('pong')).toBeNull()
    listeners.setHandler('ping', null)
    expect(listeners.getHandler('ping')).toBeNull()
    listeners.dispatch('ping', ping)
    expect(handler).not.toHaveBeenCalled()
  })

  it('keeps the position where it was first set when replaced', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.add('ping', logger(log, 'a'))
    listeners.setHandler('ping', logger(log, 'first handler'))
    listeners.add('ping', logger(log, 'b'))
    listeners.setHandler('ping', logger(log, 'second handler'))
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'second handler', 'b'])
  })

  it('goes to the end when set again after being cleared', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    listeners.setHandler('ping', logger(log, 'first handler'))
    listeners.add('ping', logger(log, 'a'))
    listeners.setHandler('ping', null)
    listeners.setHandler('ping', logger(log, 'second handler'))
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['a', 'second handler'])
  })

  it('is independent of the same function added with add()', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    listeners.add('ping', listener)
    listeners.setHandler('ping', listener)
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(2)

    listeners.remove('ping', listener)
    expect(listeners.getHandler('ping')).toBe(listener)
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(3)

    listeners.add('ping', listener)
    listeners.setHandler('ping', null)
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(4)
  })

  it('is not a duplicate of the same function added after it, nor removed with it', () => {
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const listener = logger(log, 'x')
    listeners.setHandler('ping', listener)
    listeners.add('ping', logger(log, 'b'))
    listeners.add('ping', listener)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['x', 'b', 'x'])

    log.length = 0
    listeners.remove('ping', listener)
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['x', 'b'])
    expect(listeners.getHandler('ping')).toBe(listener)
  })

  it('treats a non-function value as null', () => {
    const listeners = new Listeners<TestEvents>()
    const handler = vi.fn()
    listeners.setHandler('ping', handler)
    listeners.setHandler('ping', 'not a function' as unknown as null)
    expect(listeners.getHandler('ping')).toBeNull()
    listeners.dispatch('ping', ping)
    expect(handler).not.toHaveBeenCalled()
  })
})

describe('Listeners with an AbortSignal', () => {
  it('removes the listener when the signal aborts', () => {
    const listeners = new Listeners<TestEvents>()
    const controller = new AbortController()
    const listener = vi.fn()
    listeners.add('ping', listener, { signal: controller.signal })
    listeners.dispatch('ping', ping)
    controller.abort()
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(1)
    expect(has(listeners, 'ping')).toBe(false)
  })

  it('never adds a listener whose signal is already aborted', () => {
    const listeners = new Listeners<TestEvents>()
    const listener = vi.fn()
    listeners.add('ping', listener, { signal: AbortSignal.abort() })
    listeners.dispatch('ping', ping)
    expect(listener).not.toHaveBeenCalled()
    expect(has(listeners, 'ping')).toBe(false)
  })

  it('removes only that type’s listener, and leaves an on<type> handler of the same function', () => {
    const listeners = new Listeners<TestEvents>()
    const controller = new AbortController()
    const listener = vi.fn()
    listeners.add('ping', listener, { signal: controller.signal })
    listeners.add('pong', listener)
    listeners.setHandler('ping', listener)
    controller.abort()
    listeners.dispatch('ping', ping)
    listeners.dispatch('pong', { n: 2 })
    expect(listener).toHaveBeenCalledTimes(2)
    expect(listeners.getHandler('ping')).toBe(listener)
  })

  it('aborting after a once listener ran does nothing more', () => {
    const listeners = new Listeners<TestEvents>()
    const controller = new AbortController()
    const log: string[] = []
    listeners.add('ping', logger(log, 'once'), { once: true, signal: controller.signal })
    listeners.add('ping', logger(log, 'other'))
    listeners.dispatch('ping', ping)
    controller.abort()
    listeners.dispatch('ping', ping)
    expect(log).toEqual(['once', 'other', 'other'])
  })

  it('lets go of its abort listener when the listener is removed, or ran once', () => {
    const listeners = new Listeners<TestEvents>()
    const controller = new AbortController()
    const { signal } = controller
    // The abort listeners the signal holds: a long-lived signal (a page's, a service's) sees
    // thousands of listeners come and go.
    let held = 0
    const add = signal.addEventListener.bind(signal)
    const remove = signal.removeEventListener.bind(signal)
    vi.spyOn(signal, 'addEventListener').mockImplementation((...args) => {
      held++
      add(...args)
    })
    vi.spyOn(signal, 'removeEventListener').mockImplementation((...args) => {
      held--
      remove(...args)
    })
    for (let i = 0; i < 2_000; i++) {
      const listener = vi.fn()
      listeners.add('ping', listener, { signal })
      listeners.remove('ping', listener)
      listeners.add('ping', listener, { once: true, signal })
      listeners.dispatch('ping', ping)
    }
    expect(has(listeners, 'ping')).toBe(false)
    expect(held).toBe(0)
  })

  it('leaves a listener added again after its removal to its new signal', () => {
    const listeners = new Listeners<TestEvents>()
    const first = new AbortController()
    const listener = vi.fn()
    listeners.add('ping', listener, { signal: first.signal })
    listeners.remove('ping', listener)
    listeners.add('ping', listener)
    first.abort()
    listeners.dispatch('ping', ping)
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('skips a listener aborted by an earlier one in the same dispatch', () => {
    const listeners = new Listeners<TestEvents>()
    const controller = new AbortController()
    const later = vi.fn()
    listeners.add('ping', () => controller.abort())
    listeners.add('ping', later, { signal: controller.signal })
    listeners.dispatch('ping', ping)
    expect(later).not.toHaveBeenCalled()
  })
})

describe('Listeners and a listener that throws', () => {
  it('calls the others and reports the error with console.error when there is no reportError', () => {
    vi.stubGlobal('reportError', undefined)
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const listeners = new Listeners<TestEvents>()
    const log: string[] = []
    const failure = new Error('listener failed')
    listeners.add('ping', logger(log, 'a'))
    listeners.add('ping', () => {
      throw failure
    })
    listeners.add('ping', {
      handleEvent() {
        throw new Error('handleEvent failed')
      },
    })
    listeners.setHandler('ping', () => {
      throw new Error('handler failed')
    })
    listeners.add('ping', logger(log, 'b'))

    expect(() => listeners.dispatch('ping', ping)).not.toThrow()
    expect(log).toEqual(['a', 'b'])
    expect(consoleError).toHaveBeenCalledTimes(3)
    expect(consoleError.mock.calls.map((call) => call.at(-1))).toEqual([
      failure,
      new Error('handleEvent failed'),
      new Error('handler failed'),
    ])
  })

  // Node's console prints an error by its `stack` and an object by its custom inspect: a value
  // whose inspect throws itself threw out of the report, into the socket's code (a `statechange`
  // listener's broke the handshake), or went unhandled and ended the process.
  it("reports a value that cannot be printed as a listener's throw, and throws nothing", () => {
    vi.stubGlobal('reportError', undefined)
    const printed: string[] = []
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      printed.push(format(...args))
    })
    const unprintable: object = {
      [inspect.custom]() {
        throw unprintable
      },
    }
    const stackless = new Error('stackless')
    Object.defineProperty(stackless, 'stack', {
      get() {
        throw stackless
      },
    })
    const listeners = new Listeners<TestEvents>()
    const after = vi.fn()
    listeners.add('ping', () => {
      throw unprintable
    })
    listeners.add('ping', () => {
      throw stackless
    })
    listeners.add('ping', after)
    expect(() => listeners.dispatch('ping', ping)).not.toThrow()
    expect(after).toHaveBeenCalledOnce()
    expect(printed).toEqual(['lifeline: listener threw', 'lifeline: listener threw'])
  })

  it('reports a handleEvent object without handleEvent as a TypeError', () => {
    vi.stubGlobal('reportError', undefined)
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const listeners = new Listeners<TestEvents>()
    const after = vi.fn()
    listeners.add('ping', {} as { handleEvent(): void })
    listeners.add('ping', after)
    listeners.dispatch('ping', ping)
    expect(after).toHaveBeenCalledOnce()
    expect(consoleError.mock.calls[0]?.at(-1)).toBeInstanceOf(TypeError)
  })

  it('reports through reportError where the platform has it', () => {
    const reportError = vi.fn()
    vi.stubGlobal('reportError', reportError)
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const failure = new Error('boom')
    reportListenerError(failure)
    expect(reportError).toHaveBeenCalledWith(failure)
    expect(consoleError).not.toHaveBeenCalled()
  })

  // There, an error reported and handled by no global `error` listener ends the process.
  it.each(['Deno', 'Bun'])(
    'reports with console.error under %s, whose reportError is fatal',
    (runtime) => {
      const reportError = vi.fn()
      vi.stubGlobal('reportError', reportError)
      vi.stubGlobal(runtime, {})
      const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
      const failure = new Error('boom')
      reportListenerError(failure)
      expect(reportError).not.toHaveBeenCalled()
      expect(consoleError).toHaveBeenCalledWith('lifeline: listener threw', failure)
    },
  )
})
