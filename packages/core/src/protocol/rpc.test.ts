import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/index.js'
import { PendingRequests, checkRequest } from './rpc.js'

/** Pending requests on a manual clock, with a log of how each settles: 'id:value' or 'id:CODE'. */
function setup() {
  const clock = new ManualClock()
  /** What each call of `gaveUp` was told. */
  const gaveUp: number[][] = []
  const requests = new PendingRequests(clock, (ids) => void gaveUp.push([...ids]))
  const log: string[] = []
  const add = (id: number, timeoutMs: number, signal?: AbortSignal) =>
    requests.add(id, `m${id}`, timeoutMs, signal).then(
      (value) => void log.push(`${id}:${String(value)}`),
      (error: { code: string }) => void log.push(`${id}:${error.code}`),
    )
  return { clock, requests, log, add, gaveUp }
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe('PendingRequests', () => {
  it('serves every request with one timer and fails each at its own deadline', async () => {
    const { clock, requests, log, add } = setup()
    void add(1, 1000)
    clock.advance(100)
    void add(2, 1000)
    // A later request with a shorter timeout moves the one timer earlier.
    void add(3, 300)
    expect(clock.pending).toBe(1)
    clock.advance(299)
    await settle()
    expect(log).toEqual([])
    clock.advance(1)
    await settle()
    expect(log).toEqual(['3:REQUEST_TIMEOUT'])
    clock.advance(599)
    await settle()
    expect(log).toEqual(['3:REQUEST_TIMEOUT'])
    clock.advance(1)
    await settle()
    expect(log).toEqual(['3:REQUEST_TIMEOUT', '1:REQUEST_TIMEOUT'])
    clock.advance(100)
    await settle()
    expect(log).toEqual(['3:REQUEST_TIMEOUT', '1:REQUEST_TIMEOUT', '2:REQUEST_TIMEOUT'])
    expect(requests.size).toBe(0)
    expect(clock.pending).toBe(0)
  })

  it('reads a response that waited out a stall with its timer before the verdict, once', async () => {
    const { clock, requests, log, add } = setup()
    void add(1, 1000)
    void add(2, 1000)
    // The event loop stalls past the deadline; the timer, overdue, runs before the responses.
    clock.jump(5000)
    clock.advance(0)
    requests.respond({ id: 1, d: 'one' })
    await settle()
    expect(log).toEqual(['1:one'])
    // Throttled as in a hidden page, the confirming timer runs late too: it still decides.
    clock.jump(1000)
    clock.advance(0)
    await settle()
    expect(log).toEqual(['1:one', '2:REQUEST_TIMEOUT'])
    expect(clock.pending).toBe(0)
  })

  it('leaves the timer to a response, and stops it once it finds nothing waiting', async () => {
    const { clock, requests, log, add } = setup()
    void add(1, 1000)
    requests.respond({ id: 1, d: 'one' })
    void add(2, 1000)
    clock.advance(500)
    requests.respond({ id: 2, d: 'two' })
    await settle()
    expect(log).toEqual(['1:one', '2:two'])
    expect(clock.pending).toBe(1)
    // The timer fires for the first deadline, finds nothing due, and is not armed again.
    clock.advance(500)
    expect(clock.pending).toBe(0)
    // A late response is ignored; a new request arms the timer again.
    requests.respond({ id: 1, d: 'late' })
    void add(3, 50)
    clock.advance(50)
    await settle()
    expect(log).toEqual(['1:one', '2:two', '3:REQUEST_TIMEOUT'])
  })

  it('re-arms for a request still waiting after the earlier one was answered', async () => {
    const { clock, requests, log, add } = setup()
    void add(1, 100)
    clock.advance(50)
    void add(2, 100)
    requests.respond({ id: 1, d: 'one' })
    clock.advance(50)
    expect(clock.pending).toBe(1)
    clock.advance(49)
    await settle()
    expect(log).toEqual(['1:one'])
    clock.advance(1)
    await settle()
    expect(log).toEqual(['1:one', '2:REQUEST_TIMEOUT'])
  })

  it('waits past the longest timer delay in steps, and never times out with an infinite timeout', async () => {
    const { clock, requests, log, add } = setup()
    const maxTimerMs = 2 ** 31 - 1
    void add(1, 3 * maxTimerMs)
    void add(2, Infinity)
    expect(clock.nextDelay()).toBe(maxTimerMs)
    clock.advance(2 * maxTimerMs)
    await settle()
    expect(log).toEqual([])
    expect(clock.pending).toBe(1)
    clock.advance(maxTimerMs)
    await settle()
    expect(log).toEqual(['1:REQUEST_TIMEOUT'])
    // What is left never times out: no timer is armed for it.
    expect(clock.pending).toBe(0)
    expect(requests.size).toBe(1)
    requests.respond({ id: 2, d: 'two' })
    await settle()
    expect(log).toEqual(['1:REQUEST_TIMEOUT', '2:two'])
  })

  it('ends a request once: by its signal, by rejectAll, never twice', async () => {
    const { clock, requests, log, add } = setup()
    const controller = new AbortController()
    void add(1, 1000, controller.signal)
    void add(2, 1000)
    controller.abort()
    requests.respond({ id: 1, d: 'after abort' })
    requests.rejectAll('closed')
    expect(clock.pending).toBe(0)
    clock.advance(1000)
    await settle()
    expect(log).toEqual(['1:ABORTED', '2:CLOSED'])
    expect(requests.size).toBe(0)
  })

  it('tells of the requests given up in one turn together, a microtask later, those rejectAll ended included, and of none answered', async () => {
    const { clock, requests, log, add, gaveUp } = setup()
    const shared = new AbortController()
    for (let id = 1; id <= 4; id++) void add(id, 1000)
    for (let id = 5; id <= 7; id++) void add(id, 2000, shared.signal)
    void add(8, 2000)
    void add(9, 3000)
    requests.respond({ id: 2, d: 'answered' })
    clock.advance(1000)
    shared.abort()
    expect(gaveUp).toEqual([])
    await Promise.resolve()
    expect(gaveUp).toEqual([[1, 3, 4, 5, 6, 7]])
    // Their callers were told they failed: the client takes back those no link carried.
    requests.rejectAll('closed', (id) => id === 9)
    await Promise.resolve()
    expect(gaveUp).toEqual([[1, 3, 4, 5, 6, 7], [8]])
    clock.advance(2000)
    await settle()
    expect(gaveUp).toEqual([[1, 3, 4, 5, 6, 7], [8], [9]])
    expect(log.sort()).toEqual([
      '1:REQUEST_TIMEOUT',
      '2:answered',
      '3:REQUEST_TIMEOUT',
      '4:REQUEST_TIMEOUT',
      '5:ABORTED',
      '6:ABORTED',
      '7:ABORTED',
      '8:CLOSED',
      '9:REQUEST_TIMEOUT',
    ])
  })
})

describe('checkRequest', () => {
  it('passes a method name, a positive timeout and a live signal', () => {
    expect(() => checkRequest('m', 1, new AbortController().signal)).not.toThrow()
    expect(() => checkRequest('m', Number.POSITIVE_INFINITY, undefined)).not.toThrow()
  })

  it.each([0, -5, Number.NaN])('throws INVALID_ARGUMENT for timeoutMs %s', (timeoutMs) => {
    expect(() => checkRequest('m', timeoutMs, undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('throws INVALID_ARGUMENT for a method that is not a string', () => {
    expect(() => checkRequest(7, 1000, undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('throws ABORTED for a signal that has already aborted', () => {
    const controller = new AbortController()
    controller.abort()
    expect(() => checkRequest('m', 1000, controller.signal)).toThrow(
      expect.objectContaining({ code: 'ABORTED', message: 'request m was aborted' }),
    )
  })
})
