import { act, cleanup, render } from '@testing-library/react'
import { Suspense, useLayoutEffect, useState } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isLifelineError } from '@lifeline/core'
import { madeMaps } from '@lifeline/test-utils'
import type { Client, ClientState } from '@lifeline/core'
import {
  createLifelineHooks,
  LifelineProvider,
  useConnectionState,
  useMessage,
} from '../src/index.js'
import { catching } from './boundary.js'
import type { Chat } from './fake.js'
import {
  createFakeClient,
  deliver,
  FakeWebSocket,
  ManualClock,
  received,
  serverSender,
  strict,
  welcome,
} from './fake.js'

const hooks = createLifelineHooks<Chat>()

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

/** Renders `node` under a provider of `client` in StrictMode, welcomed; counts nothing itself. */
function mount(node: React.ReactNode) {
  const view = render(strict(<LifelineProvider client={client}>{node}</LifelineProvider>))
  act(() => welcome())
  return view
}

const said = (n: number, room = 'lobby') => ({ text: `m${n}`, room, n })

describe('useConnectionState', () => {
  it('re-renders on a change of state, never on messages; with a selector, only when its value changes', () => {
    const renders = { full: 0, status: 0 }
    const states: ClientState[] = []
    function Full() {
      renders.full++
      const state = useConnectionState()
      states.push(state)
      return null
    }
    function Status() {
      renders.status++
      return <p>{useConnectionState((state) => (state.status === 'open' ? 'up' : 'down'))}</p>
    }
    const view = mount(
      <>
        <Full />
        <Status />
      </>,
    )
    expect(view.container.textContent).toBe('up')
    const before = { ...renders }
    const send = serverSender()
    act(() => {
      for (let n = 1; n <= 100; n++) send('said', said(n))
    })
    expect(renders).toEqual(before)

    // A failed attempt: connecting, then reconnecting again; the selected value stays 'down'.
    act(() => FakeWebSocket.last.serverClose(1006, '', false))
    expect(view.container.textContent).toBe('down')
    const reconnecting = { ...renders }
    const first = client.state
    act(() => clock.advance(250))
    act(() => FakeWebSocket.last.fail())
    expect(client.state).not.toBe(first)
    expect(client.state).toMatchObject({ status: 'reconnecting' })
    expect(renders.status).toBe(reconnecting.status)
    // StrictMode renders twice per update: two changes of state, four renders.
    expect(renders.full).toBe(reconnecting.full + 4)
    expect(states.at(-1)).toBe(client.state)
  })
})

describe('useMessage', () => {
  it('calls the latest handler, never subscribes again for a new one, and never re-renders by itself', () => {
    let renders = 0
    const calls: string[] = []
    let subscriptions = 0
    const on = client.on.bind(client)
    client.on = ((type: 'said', handler: (data: Chat['server']['said']) => void) => {
      subscriptions++
      return on(type, handler)
    }) as typeof client.on
    let rename: (name: string) => void = () => undefined
    function Listener() {
      renders++
      const [name, setName] = useState('first')
      rename = setName
      hooks.useMessage('said', (data) => calls.push(`${name}:${data.n}`))
      return null
    }
    mount(<Listener />)
    const subscribed = subscriptions
    const send = serverSender()
    act(() => send('said', said(1)))
    const rendered = renders
    act(() => {
      for (let n = 2; n <= 50; n++) send('said', said(n))
    })
    expect(renders).toBe(rendered)
    act(() => rename('second'))
    act(() => send('said', said(51)))
    expect(subscriptions).toBe(subscribed)
    expect(calls.slice(0, 2)).toEqual(['first:1', 'first:2'])
    expect(calls.at(-1)).toBe('second:51')
    expect(calls).toHaveLength(51)
  })

  /**
   * A listener of `said` switched to `tick`, with `inWindow` run when the switch is committed,
   * before the passive effects (React runs those of an update that is not discrete, a response,
   * a timer, a transition, in a task after its commit, and a socket message may come in
   * between; a layout effect runs in that window); then a `tick` of 2. What the handler got.
   */
  function switchedToTick(send: ReturnType<typeof serverSender>, inWindow: () => void) {
    const calls: string[] = []
    let listen: (type: 'said' | 'tick') => void = () => undefined
    function Arrivals({ type }: { type: string }) {
      useLayoutEffect(() => {
        if (type === 'tick') inWindow()
      }, [type])
      return null
    }
    function Listener() {
      const [type, setType] = useState<'said' | 'tick'>('said')
      listen = setType
      hooks.useMessage(type, (data) => calls.push(`${type}: ${JSON.stringify(data)}`))
      return <Arrivals type={type} />
    }
    mount(<Listener />)
    act(() => listen('tick'))
    act(() => send('tick', 2))
    return calls
  }

  it('never gives the handler of a new type a message of the old one before it subscribes again', () => {
    const send = serverSender()
    expect(switchedToTick(send, () => send('said', said(1)))).toEqual(['tick: 2'])
  })

  it('gives the handler of a new type the messages of that type that come before the passive effects', () => {
    const send = serverSender()
    expect(switchedToTick(send, () => send('tick', 1))).toEqual(['tick: 1', 'tick: 2'])
  })

  it('calls the handler with a message that comes after the commit that mounted it', () => {
    const send = serverSender()
    const calls: number[] = []
    let show: () => void = () => undefined
    let sent = false
    // After the listener in the tree, so after its commit: a socket message between the commit
    // and the passive effects, which React runs in a later task for an update that is not discrete.
    function Arrivals() {
      useLayoutEffect(() => {
        if (!sent) {
          sent = true
          send('tick', 1)
        }
      }, [])
      return null
    }
    function Listener() {
      hooks.useMessage('tick', (n) => calls.push(n))
      return null
    }
    function Later() {
      const [shown, setShown] = useState(false)
      show = () => setShown(true)
      return shown ? (
        <>
          <Listener />
          <Arrivals />
        </>
      ) : null
    }
    mount(<Later />)
    act(() => show())
    act(() => send('tick', 2))
    expect(calls).toEqual([1, 2])
  })

  it('calls the handler while a Suspense fallback hides it, mounted still', async () => {
    const send = serverSender()
    const calls: number[] = []
    const loading = new Promise<void>(() => undefined)
    // A sibling that suspends on an update: React unmounts the layout effects of the tree it
    // hides, and keeps the rest.
    function Panel({ open }: { open: boolean }) {
      if (open) throw loading
      return null
    }
    function Listener() {
      hooks.useMessage('tick', (n) => calls.push(n))
      return null
    }
    const tree = (open: boolean) =>
      strict(
        <LifelineProvider client={client}>
          <Suspense fallback={<p>wait</p>}>
            <Listener />
            <Panel open={open} />
          </Suspense>
        </LifelineProvider>,
      )
    const view = render(tree(false))
    act(() => welcome())
    act(() => send('tick', 1))
    view.rerender(tree(true))
    expect(view.container.textContent).toBe('wait')
    act(() => send('tick', 2))
    expect(calls).toEqual([1, 2])
  })

  it('leaves nothing in the client when it unmounts while a Suspense fallback hides it', () => {
    // React 18 runs no insertion effect's cleanup in a tree deleted while a fallback hides it:
    // a listener left there stayed in the client for good, one for every such unmount.
    client.close()
    const { made, maps } = madeMaps(() => createFakeClient(clock))
    client = made
    const loading = new Promise<void>(() => undefined)
    function Panel({ open }: { open: boolean }) {
      if (open) throw loading
      return null
    }
    function Room() {
      useMessage('room:a' as 'tick', () => {})
      hooks.useLatest('room:b' as 'tick')
      return null
    }
    const tree = (shown: 'room' | 'fallback' | 'none') =>
      strict(
        <LifelineProvider client={client}>
          {shown !== 'none' && (
            <Suspense fallback={<p>wait</p>}>
              <Room />
              <Panel open={shown === 'fallback'} />
            </Suspense>
          )}
        </LifelineProvider>,
      )
    const view = render(tree('room'))
    act(() => welcome())
    view.rerender(tree('fallback'))
    expect(view.container.textContent).toBe('wait')
    view.rerender(tree('none'))
    const keys = maps.flatMap((table) => [...table.keys()])
    expect(keys.filter((key) => String(key).startsWith('room:'))).toEqual([])
  })

  it('refuses a handler that is no function with INVALID_ARGUMENT, as client.on does', () => {
    const { Boundary, seen } = catching()
    // A handler left out by a condition (`enabled ? handler : undefined`), in plain JavaScript.
    function Listener() {
      useMessage('tick', undefined as never)
      return null
    }
    // React reports an error a boundary caught on the console; the assertion is on the error.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      mount(
        <Boundary>
          <Listener />
        </Boundary>,
      )
    } finally {
      quiet.mockRestore()
    }
    expect(isLifelineError(seen.error, 'INVALID_ARGUMENT')).toBe(true)
  })

  it('unsubscribes on unmount', () => {
    const calls: number[] = []
    function Listener() {
      useMessage('tick', (n) => calls.push(n as number))
      return null
    }
    const view = mount(<Listener />)
    const send = serverSender()
    act(() => send('tick', 1))
    view.rerender(strict(<LifelineProvider client={client}>{null}</LifelineProvider>))
    act(() => send('tick', 2))
    expect(calls).toEqual([1])
  })
  it('leaves nothing in the client for the types it listened to, mounted and unmounted by the thousand', () => {
    // The client's tables (the Maps it made): a component per room, of a name of its own,
    // mounted and unmounted in StrictMode (its effects twice).
    client.close()
    const { made, maps } = madeMaps(() => createFakeClient(clock))
    client = made
    function Room({ name }: { name: string }) {
      useMessage(name as 'tick', () => {})
      hooks.useLatest(name as 'tick')
      return null
    }
    const view = mount(null)
    for (let i = 0; i < 1_000; i++) {
      const rooms = strict(
        <LifelineProvider client={client}>
          <Room name={`room:${i}`} />
        </LifelineProvider>,
      )
      view.rerender(rooms)
      view.rerender(strict(<LifelineProvider client={client}>{null}</LifelineProvider>))
    }
    const keys = maps.flatMap((table) => [...table.keys()])
    expect(keys.filter((key) => String(key).startsWith('room:'))).toEqual([])
  })
})

describe('useLatest', () => {
  it('shows the last payload and re-renders only when the selected value changes', () => {
    const renders = { room: 0, whole: 0 }
    function Room() {
      renders.room++
      return <i>{hooks.useLatest('said', (data) => data.room) ?? 'none'}</i>
    }
    function Whole() {
      renders.whole++
      const latest = hooks.useLatest('said')
      return <b>{latest ? latest.text : 'none'}</b>
    }
    const view = mount(
      <>
        <Room />
        <Whole />
      </>,
    )
    expect(view.container.textContent).toBe('nonenone')
    const initial = { ...renders }
    const send = serverSender()
    act(() => send('said', said(1, 'lobby')))
    expect(view.container.textContent).toBe('lobbym1')
    act(() => {
      for (let n = 2; n <= 20; n++) send('said', said(n, 'lobby'))
    })
    expect(view.container.textContent).toBe('lobbym20')
    // The room changed once (none -> lobby): one update, rendered twice in StrictMode.
    expect(renders.room).toBe(initial.room + 2)
    act(() => send('said', said(21, 'garden')))
    expect(renders.room).toBe(initial.room + 4)
    expect(renders.whole).toBeGreaterThan(initial.whole + 2)
  })

  /** `useLatest` of a type the test changes with `show`, starting with `'said'`. */
  function mountLatestOfType() {
    const control = { show: (type: 'said' | 'tick'): void => void type }
    function Latest() {
      const [type, setType] = useState<'said' | 'tick'>('said')
      control.show = setType
      return <i>{JSON.stringify(hooks.useLatest(type) ?? 'none')}</i>
    }
    const view = mount(<Latest />)
    return { view, show: (type: 'said' | 'tick') => control.show(type) }
  }

  it('forgets the last payload when its type changes, rather than show it as the new type', () => {
    const { view, show } = mountLatestOfType()
    const send = serverSender()
    act(() => send('said', said(1)))
    expect(view.container.textContent).toBe(JSON.stringify(said(1)))
    act(() => show('tick'))
    expect(view.container.textContent).toBe('"none"')
    act(() => send('tick', 7))
    expect(view.container.textContent).toBe('7')
  })

  it('never shows a payload from before a change of type as the latest when the type comes back', () => {
    const { view, show } = mountLatestOfType()
    const send = serverSender()
    act(() => send('said', said(1)))
    act(() => show('tick'))
    // Not listened to meanwhile: the hook cannot know it, and must not show m1 as the latest.
    act(() => send('said', said(2)))
    act(() => show('said'))
    expect(view.container.textContent).toBe('"none"')
    act(() => send('said', said(3)))
    expect(view.container.textContent).toBe(JSON.stringify(said(3)))
  })
})

describe('useLatest, between the commit and the passive effects', () => {
  /** Sends `tick` 7 from a layout effect, once, as it mounts or when `type` becomes `'tick'`. */
  function arrivals() {
    const send = serverSender()
    let sent = false
    return function Arrivals({ type = 'tick' }: { type?: string }) {
      useLayoutEffect(() => {
        if (type === 'tick' && !sent) {
          sent = true
          send('tick', 7)
        }
      }, [type])
      return null
    }
  }

  it('shows a payload that came after the commit that mounted it', () => {
    const Arrivals = arrivals()
    let show: () => void = () => undefined
    function Latest() {
      return <i>{JSON.stringify(hooks.useLatest('tick') ?? 'none')}</i>
    }
    function Later() {
      const [shown, setShown] = useState(false)
      show = () => setShown(true)
      return shown ? (
        <>
          <Latest />
          <Arrivals />
        </>
      ) : null
    }
    const view = mount(<Later />)
    act(() => show())
    expect(view.container.textContent).toBe('7')
  })

  it('shows a payload of its new type that came after the commit of that type', () => {
    const Arrivals = arrivals()
    let show: (type: 'said' | 'tick') => void = () => undefined
    function Latest() {
      const [type, setType] = useState<'said' | 'tick'>('said')
      show = setType
      return (
        <>
          <i>{JSON.stringify(hooks.useLatest(type) ?? 'none')}</i>
          <Arrivals type={type} />
        </>
      )
    }
    const view = mount(<Latest />)
    act(() => show('tick'))
    expect(view.container.textContent).toBe('7')
  })
})

describe('useSend', () => {
  it('is one function for the life of the client and returns the receipt', async () => {
    let send: ReturnType<typeof hooks.useSend> = () => 0
    let rerender: () => void = () => undefined
    function Sender() {
      const [, setTick] = useState(0)
      rerender = () => setTick((n) => n + 1)
      send = hooks.useSend()
      return null
    }
    mount(<Sender />)
    const mounted = send
    act(() => rerender())
    act(() => rerender())
    expect(send).toBe(mounted)
    const receipt = send('say', { text: 'hi' })
    expect(received().at(-1)).toMatchObject({ t: 'say', d: { text: 'hi' }, s: receipt })
    const delivered = client.delivered(receipt)
    deliver({ t: '$ack', a: receipt })
    await expect(delivered).resolves.toBeUndefined()
  })
})
