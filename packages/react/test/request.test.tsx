import { act, cleanup, render } from '@testing-library/react'
import { useLayoutEffect, useState } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Client } from '@lifeline/core'
import { createLifelineHooks, LifelineProvider } from '../src/index.js'
import type { RequestResult } from '../src/index.js'
import type { Chat } from './fake.js'
import {
  createFakeClient,
  deliver,
  FakeWebSocket,
  ManualClock,
  received,
  strict,
  welcome,
} from './fake.js'

const { useRequest } = createLifelineHooks<Chat>()

let clock: ManualClock
let client: Client<Chat>

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
  client = createFakeClient(clock)
})
afterEach(() => {
  cleanup()
  client.close()
})

/** The `$req`s the client sent: `[id, method, data]`. */
const requests = () =>
  received()
    .filter((envelope) => envelope.t === '$req')
    .map((envelope) => envelope.d as { id: number; m: string; d: unknown })

/** Lets the request's microtask and the response's promise callbacks run. */
const settle = () => act(() => new Promise((resolve) => setTimeout(resolve, 0)))

const respond = (
  id: number,
  body: { d: unknown } | { e: { code: string; message: string } },
  s: number,
) => act(() => deliver({ t: '$res', d: { id, ...body }, s }))

let result: RequestResult<number>
let setNumbers: (numbers: { a: number; b: number; enabled: boolean }) => void

function Sum() {
  const [numbers, set] = useState({ a: 1, b: 2, enabled: true })
  setNumbers = set
  const { a, b, enabled } = numbers
  result = useRequest('add', { a, b }, { enabled, deps: [a, b] })
  return <p>{result.status}</p>
}

function mount() {
  const view = render(
    strict(
      <LifelineProvider client={client}>
        <Sum />
      </LifelineProvider>,
    ),
  )
  act(() => welcome())
  return view
}

describe('useRequest', () => {
  it('calls the method once under StrictMode, and shows loading, then the data', async () => {
    const view = mount()
    expect(result.status).toBe('loading')
    await settle()
    expect(requests()).toEqual([{ id: 1, m: 'add', d: { a: 1, b: 2 } }])
    await respond(1, { d: 3 }, 1)
    await settle()
    expect(result).toMatchObject({ status: 'success', data: 3, error: undefined })
    expect(view.container.textContent).toBe('success')
  })

  it('shows the typed error, asks again on a change of deps and on refetch, keeping the last data meanwhile', async () => {
    mount()
    await settle()
    await respond(1, { e: { code: 'BAD', message: 'no' } }, 1)
    await settle()
    expect(result.status).toBe('error')
    expect(result.error).toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'BAD' })
    act(() => result.refetch())
    await settle()
    await respond(2, { d: 3 }, 2)
    await settle()
    expect(result).toMatchObject({ status: 'success', data: 3, error: undefined })
    act(() => setNumbers({ a: 2, b: 2, enabled: true }))
    expect(result).toMatchObject({ status: 'loading', data: 3 })
    await settle()
    expect(requests().at(-1)).toEqual({ id: 3, m: 'add', d: { a: 2, b: 2 } })
    await respond(3, { d: 4 }, 3)
    await settle()
    expect(result).toMatchObject({ status: 'success', data: 4 })
  })

  it('aborts on unmount and when a newer request starts: a late response lands nowhere', async () => {
    const view = mount()
    await settle()
    act(() => setNumbers({ a: 5, b: 5, enabled: true }))
    await settle()
    expect(requests().map((request) => request.id)).toEqual([1, 2])
    // The first one's response comes late: the newer request's state stays.
    await respond(1, { d: 3 }, 1)
    await settle()
    expect(result.status).toBe('loading')
    view.unmount()
    await respond(2, { d: 10 }, 2)
    await settle()
    expect(result.status).toBe('loading')
  })

  it('never shows the last response as the success of new deps: the render with them is loading', async () => {
    const seen: string[] = []
    function Labelled() {
      const [numbers, set] = useState({ a: 1, b: 2 })
      setNumbers = (next) => set(next)
      const { a, b } = numbers
      const sum = useRequest('add', { a, b }, { deps: [a, b] })
      // What each commit shows.
      useLayoutEffect(() => void seen.push(`${a}+${b}: ${sum.status} ${String(sum.data)}`))
      return null
    }
    render(
      <LifelineProvider client={client}>
        <Labelled />
      </LifelineProvider>,
    )
    act(() => welcome())
    await settle()
    await respond(1, { d: 3 }, 1)
    await settle()
    seen.length = 0
    act(() => setNumbers({ a: 2, b: 2, enabled: true }))
    // The sum of 1 + 2 is kept while loading, never labelled the success of 2 + 2.
    expect(seen).not.toContain('2+2: success 3')
    expect(seen.at(-1)).toBe('2+2: loading 3')
  })

  it('asks again when deps grow or shrink, rather than stay loading with nothing asked', async () => {
    let setIds: (ids: number[]) => void = () => undefined
    function Total() {
      const [ids, set] = useState([1])
      setIds = set
      // A list as deps: React warns in development that their size changed.
      result = useRequest('add', { a: ids.length, b: 0 }, { deps: ids })
      return null
    }
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    render(
      <LifelineProvider client={client}>
        <Total />
      </LifelineProvider>,
    )
    act(() => welcome())
    await settle()
    await respond(1, { d: 1 }, 1)
    await settle()
    act(() => setIds([1, 2]))
    await settle()
    expect(requests().map((request) => request.d)).toEqual([
      { a: 1, b: 0 },
      { a: 2, b: 0 },
    ])
    await respond(2, { d: 2 }, 2)
    await settle()
    expect(result).toMatchObject({ status: 'success', data: 2 })
    // Shorter with the same first one: only their number tells that the deps changed.
    act(() => setIds([1]))
    await settle()
    expect(requests().map((request) => request.d)).toEqual([
      { a: 1, b: 0 },
      { a: 2, b: 0 },
      { a: 1, b: 0 },
    ])
    await respond(3, { d: 1 }, 3)
    await settle()
    expect(result).toMatchObject({ status: 'success', data: 1 })
    error.mockRestore()
  })

  it("sends nothing while not enabled, and is 'idle'", async () => {
    mount()
    act(() => setNumbers({ a: 1, b: 2, enabled: false }))
    await settle()
    expect(result.status).toBe('idle')
    // The first request was aborted before it was sent.
    expect(requests()).toEqual([])
    act(() => setNumbers({ a: 1, b: 2, enabled: true }))
    await settle()
    expect(requests()).toHaveLength(1)
  })
})
