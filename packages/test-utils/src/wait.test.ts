import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TimeoutError, expectNoEvent, once, waitFor, withTimeout } from './wait.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let calls = 0
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), {
      message: 'three calls',
      intervalMs: 1,
    })
    expect(value).toEqual({ calls: 3 })
  })

  it('awaits async predicates', async () => {
    let calls = 0
    expect(await waitFor(async () => ++calls === 2, { message: 'two', intervalMs: 1 })).toBe(true)
  })

  it('rejects with the message, and the last error as cause', async () => {
    const error: unknown = await waitFor(
      () => {
        throw new Error('not yet')
      },
      { message: 'the flag', timeoutMs: 30 },
    ).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({
      message: 'Timed out after 30 ms waiting for the flag',
      cause: new Error('not yet'),
    })
  })

  it('bounds an async predicate that never settles', async () => {
    const never = () => new Promise<boolean>(() => {})
    await expect(waitFor(never, { message: 'never', timeoutMs: 30 })).rejects.toThrow(
      'Timed out after 30 ms waiting for never',
    )
  })

  it('keeps real time while the test fakes timers', async () => {
    vi.useFakeTimers()
    let ready = false
    setTimeout(() => (ready = true), 0)
    const waiting = waitFor(() => ready, { message: 'ready', timeoutMs: 200 })
    vi.advanceTimersByTime(1)
    expect(await waiting).toBe(true)
    await expect(waitFor(() => false, { message: 'nothing', timeoutMs: 20 })).rejects.toThrow(
      TimeoutError,
    )
  })
})

describe('withTimeout', () => {
  it('settles like the promise or rejects after the timeout', async () => {
    expect(await withTimeout(Promise.resolve(1), 50, 'one')).toBe(1)
    await expect(withTimeout(Promise.reject(new Error('no')), 50, 'x')).rejects.toThrow('no')
    await expect(withTimeout(new Promise(() => {}), 10, 'never')).rejects.toThrow(
      'Timed out after 10 ms waiting for never',
    )
  })
})

describe('once', () => {
  it('resolves with the arguments of an emitter and removes its listener', async () => {
    const emitter = new EventEmitter()
    const waiting = once(emitter, 'close')
    emitter.emit('close', 1006, 'gone')
    expect(await waiting).toEqual([1006, 'gone'])
    expect(emitter.listenerCount('close')).toBe(0)
  })

  it('resolves with the event of an EventTarget', async () => {
    const target = new EventTarget()
    const waiting = once(target, 'open')
    target.dispatchEvent(new Event('open'))
    expect((await waiting).type).toBe('open')
  })

  it('rejects on timeout and removes its listener', async () => {
    const emitter = new EventEmitter()
    await expect(once(emitter, 'open', 10)).rejects.toThrow(
      "Timed out after 10 ms waiting for event 'open'",
    )
    expect(emitter.listenerCount('open')).toBe(0)
  })
})

describe('expectNoEvent', () => {
  it('resolves when the window passes quietly, and rejects when the event fires', async () => {
    const emitter = new EventEmitter()
    await expectNoEvent(emitter, 'message', 10)
    const watching = expectNoEvent(emitter, 'message', 1_000)
    emitter.emit('message', 'surprise')
    await expect(watching).rejects.toThrow("Expected no 'message' event within 1000 ms")
    expect(emitter.listenerCount('message')).toBe(0)
  })
})
