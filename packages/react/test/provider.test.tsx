import { act, render } from '@testing-library/react'
import { Suspense, useEffect, useLayoutEffect, useSyncExternalStore } from 'react'
import { describe, expect, it, vi } from 'vitest'
import { isLifelineError } from '@lifeline/core'
import {
  LifelineProvider,
  useClient,
  useConnectionState,
  useRequest,
  useSend,
} from '../src/index.js'
import { catching } from './boundary.js'
import type { Chat } from './fake.js'
import {
  afterCloseDelay,
  createFakeClient,
  deliver,
  FakeWebSocket,
  freshFakes,
  received,
  strict,
  welcome,
} from './fake.js'

const fakes = freshFakes()

function Status() {
  return <p>{useConnectionState((state) => state.status)}</p>
}

describe('LifelineProvider', () => {
  it('opens one socket for a client however many components and providers use it, under StrictMode', async () => {
    const client = createFakeClient(fakes.clock)
    const view = render(
      strict(
        <>
          <LifelineProvider client={client} closeDelayMs={20}>
            <Status />
            <Status />
          </LifelineProvider>
          <LifelineProvider client={client} closeDelayMs={20}>
            <Status />
          </LifelineProvider>
        </>,
      ),
    )
    expect(FakeWebSocket.instances).toHaveLength(1)
    act(() => welcome())
    expect(view.container.textContent).toBe('openopenopen')
    await afterCloseDelay()
    // StrictMode's unmount and remount closed nothing.
    expect(client.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(1)
    view.unmount()
    expect(client.state.status).toBe('open')
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
  })

  it('keeps the socket across a remount within closeDelayMs (a hot reload, a key change)', async () => {
    const client = createFakeClient(fakes.clock)
    const tree = (key: string) => (
      <LifelineProvider key={key} client={client} closeDelayMs={20}>
        <Status />
      </LifelineProvider>
    )
    const view = render(tree('a'))
    act(() => welcome())
    view.rerender(tree('b'))
    await afterCloseDelay()
    expect(client.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(1)
    // Unmounted for longer than the delay, then mounted again: closed, then connected again.
    view.unmount()
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
    render(tree('c'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(client.state.status).toBe('connecting')
  })

  it('keeps the socket after the last provider unmounted when closeDelayMs is Infinity', async () => {
    const client = createFakeClient(fakes.clock)
    const view = render(
      <LifelineProvider client={client} closeDelayMs={Infinity}>
        <Status />
      </LifelineProvider>,
    )
    act(() => welcome())
    view.unmount()
    await afterCloseDelay()
    expect(client.state.status).toBe('open')
    // For good, not for the longest a timer waits (some 24.8 days).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const again = render(
        <LifelineProvider client={client} closeDelayMs={Infinity}>
          <Status />
        </LifelineProvider>,
      )
      again.unmount()
      vi.advanceTimersByTime(2 ** 31)
      expect(client.state.status).toBe('open')
    } finally {
      vi.useRealTimers()
    }
    client.close()
  })

  it('creates its client from options once, connects it on mount, and never twice under StrictMode', async () => {
    const options = () => ({
      url: 'ws://test.local/',
      heartbeat: false as const,
      socket: { WebSocket: FakeWebSocket, clock: fakes.clock },
    })
    const seen = new Set<unknown>()
    function Spy() {
      seen.add(useClient())
      return null
    }
    const tree = () => (
      <LifelineProvider options={options()} closeDelayMs={20}>
        <Spy />
        <Status />
      </LifelineProvider>
    )
    const view = render(strict(tree()))
    view.rerender(strict(tree()))
    expect(seen.size).toBe(1)
    expect(FakeWebSocket.instances).toHaveLength(1)
    act(() => welcome())
    expect(view.container.textContent).toBe('open')
    view.unmount()
    await afterCloseDelay()
    expect(FakeWebSocket.last.readyState).toBe(FakeWebSocket.CLOSED)
  })

  it("connects a client from options with a relative URL to the page's URL as it mounts", () => {
    const view = render(
      <LifelineProvider
        options={{
          url: '/live',
          heartbeat: false,
          socket: { WebSocket: FakeWebSocket, clock: fakes.clock },
        }}
      >
        <Status />
      </LifelineProvider>,
    )
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeWebSocket.last.url).toBe(
      new URL('/live', document.baseURI).href.replace(/^http/, 'ws'),
    )
    act(() => welcome())
    expect(view.container.textContent).toBe('open')
    view.unmount()
  })

  it('lets a child send as it mounts when its provider mounts again after closing the client', async () => {
    const client = createFakeClient(fakes.clock)
    let joins = 0
    function Joiner() {
      const send = useSend<Chat>()
      useEffect(() => void send('say', { text: `join ${++joins}` }), [send])
      return null
    }
    const tree = () =>
      strict(
        <LifelineProvider client={client} closeDelayMs={20}>
          <Joiner />
        </LifelineProvider>,
      )
    const view = render(tree())
    act(() => welcome())
    // StrictMode's second mount joined again: both acknowledged, so only new joins go next.
    act(() => deliver({ t: '$ack', a: 2 }))
    view.unmount()
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
    // A route that comes back: its join must not find the client still closed.
    render(tree())
    act(() => welcome())
    const joined = received().filter((envelope) => envelope.t === 'say')
    expect(joined.map((envelope) => envelope.d)).toEqual([{ text: 'join 3' }, { text: 'join 4' }])
    client.close()
  })

  it("connects outside React's insertion effects: the application's own subscriber of the client updates without a warning", () => {
    const client = createFakeClient(fakes.clock)
    const status = () => client.state.status
    // The application reads the client it created itself, above the provider, which mounts
    // later (a route that needs the connection).
    function App({ live }: { live: boolean }) {
      const outside = useSyncExternalStore(client.subscribe.bind(client), status, status)
      return live ? (
        <LifelineProvider client={client} closeDelayMs={20}>
          <p>{outside}</p>
        </LifelineProvider>
      ) : (
        <p>{outside}</p>
      )
    }
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      const view = render(strict(<App live={false} />))
      expect(view.container.textContent).toBe('closed')
      view.rerender(strict(<App live />))
      expect(view.container.textContent).toBe('connecting')
      act(() => welcome())
      expect(view.container.textContent).toBe('open')
      expect(errors).not.toHaveBeenCalled()
    } finally {
      errors.mockRestore()
    }
    client.close()
  })

  it("takes client.subscribe as it is in the application's own useSyncExternalStore, unbound", () => {
    const client = createFakeClient(fakes.clock)
    const status = () => client.state.status
    // As this README and core's show it: the method itself, not bound to its client.
    function App() {
      const outside = useSyncExternalStore(client.subscribe, status, status)
      return (
        <LifelineProvider client={client} closeDelayMs={20}>
          <p>{outside}</p>
        </LifelineProvider>
      )
    }
    const view = render(strict(<App />))
    act(() => welcome())
    expect(view.container.textContent).toBe('open')
    view.unmount()
    client.close()
  })

  it('lets a child send from a layout effect as it mounts again after the close delay', async () => {
    const client = createFakeClient(fakes.clock)
    function Joiner() {
      const send = useSend<Chat>()
      useLayoutEffect(() => void send('say', { text: 'join' }), [send])
      return null
    }
    const tree = () => (
      <LifelineProvider client={client} closeDelayMs={20}>
        <Joiner />
      </LifelineProvider>
    )
    render(tree()).unmount()
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
    render(tree())
    act(() => welcome())
    expect(received().filter((envelope) => envelope.t === 'say')).toHaveLength(2)
    client.close()
  })

  it('does not connect again a client the application closed when closeDelayMs changes', async () => {
    const client = createFakeClient(fakes.clock)
    const tree = (closeDelayMs: number) => (
      <LifelineProvider client={client} closeDelayMs={closeDelayMs}>
        <Status />
      </LifelineProvider>
    )
    const view = render(tree(20))
    act(() => welcome())
    act(() => client.close())
    view.rerender(tree(30))
    await afterCloseDelay(30)
    expect(client.state.status).toBe('closed')
    expect(FakeWebSocket.instances).toHaveLength(1)
    // The delay in force when the provider unmounts is the one its release waits.
    act(() => client.connect())
    view.rerender(tree(0))
    view.unmount()
    await afterCloseDelay(0)
    expect(client.state.status).toBe('closed')
  })

  it('keeps its client while a Suspense fallback hides it: a request in flight is answered after', async () => {
    const client = createFakeClient(fakes.clock)
    let loaded = false
    let load!: () => void
    const loading = new Promise<void>((resolve) => (load = resolve)).then(() => {
      loaded = true
    })
    // A sibling that suspends on an update (a tab whose code loads): React shows the fallback
    // and unmounts the layout effects of the tree it hides, but the tree stays mounted.
    function Panel({ open }: { open: boolean }) {
      if (open && !loaded) throw loading
      return null
    }
    function Sum() {
      const sum = useRequest<Chat, 'add'>('add', { a: 1, b: 2 })
      return <p>{sum.status === 'error' ? sum.error?.code : sum.status}</p>
    }
    const tree = (open: boolean) => (
      <Suspense fallback={<p>wait</p>}>
        <LifelineProvider client={client} closeDelayMs={20}>
          <Sum />
          <Panel open={open} />
        </LifelineProvider>
      </Suspense>
    )
    const view = render(tree(false))
    act(() => welcome())
    await act(async () => {})
    const request = received().find((envelope) => envelope.t === '$req')
    expect(request).toBeDefined()
    view.rerender(tree(true))
    expect(view.container.textContent).toContain('wait')
    // Longer than closeDelayMs: the provider is hidden, not unmounted, and keeps the socket.
    await afterCloseDelay()
    expect(client.state.status).toBe('open')
    await act(async () => {
      load()
      await loading
    })
    const { id } = request?.d as { id: number }
    await act(async () => deliver({ t: '$res', d: { id, d: 3 }, s: 1 }))
    expect(view.container.textContent).toBe('success')
    expect(FakeWebSocket.instances).toHaveLength(1)
    view.unmount()
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
  })

  it('provides a client through a switch from client to options and back', async () => {
    const given = createFakeClient(fakes.clock)
    const options = {
      url: 'ws://test.local/',
      heartbeat: false as const,
      socket: { WebSocket: FakeWebSocket, clock: fakes.clock },
    }
    const seen: unknown[] = []
    function Spy() {
      seen.push(useClient())
      return <Status />
    }
    const view = render(
      <LifelineProvider client={given} closeDelayMs={20}>
        <Spy />
      </LifelineProvider>,
    )
    view.rerender(
      <LifelineProvider options={options} closeDelayMs={20}>
        <Spy />
      </LifelineProvider>,
    )
    const created = seen.at(-1)
    expect(created).not.toBe(given)
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(FakeWebSocket.last.url).toBe('ws://test.local/')
    await afterCloseDelay()
    // Released by its only provider: closed after the delay, as by an unmount.
    expect(given.state.status).toBe('closed')
    view.rerender(
      <LifelineProvider client={given} closeDelayMs={20}>
        <Spy />
      </LifelineProvider>,
    )
    expect(seen.at(-1)).toBe(given)
    view.rerender(
      <LifelineProvider options={options} closeDelayMs={20}>
        <Spy />
      </LifelineProvider>,
    )
    // Created once for the provider's life.
    expect(seen.at(-1)).toBe(created)
    view.unmount()
    await afterCloseDelay()
    expect(given.state.status).toBe('closed')
  })

  it('useClient() outside a provider throws INVALID_ARGUMENT', () => {
    function Orphan() {
      useClient()
      return null
    }
    const { Boundary, seen } = catching()
    // React reports an error a boundary caught on the console; the assertion is on the error.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    render(
      <Boundary>
        <Orphan />
      </Boundary>,
    )
    quiet.mockRestore()
    expect(isLifelineError(seen.error, 'INVALID_ARGUMENT')).toBe(true)
  })
})
