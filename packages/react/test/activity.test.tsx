import { act, render } from '@testing-library/react'
import { Activity } from 'react'
import { describe, expect, it } from 'vitest'
import { LifelineProvider, useConnectionState, useLatest, useMessage } from '../src/index.js'
import {
  afterCloseDelay,
  createFakeClient,
  FakeWebSocket,
  freshFakes,
  serverSender,
  welcome,
} from './fake.js'

// `<Activity>` is React 19's: this file is left out of the React 18 project.

const fakes = freshFakes()

function Status() {
  return <p>{useConnectionState((state) => state.status)}</p>
}

describe('LifelineProvider in an Activity', () => {
  it('connects only while its Activity is visible, and releases the client when it is hidden', async () => {
    const client = createFakeClient(fakes.clock)
    const tree = (mode: 'hidden' | 'visible') => (
      <Activity mode={mode}>
        <LifelineProvider client={client} closeDelayMs={20}>
          <Status />
        </LifelineProvider>
      </Activity>
    )
    const view = render(tree('hidden'))
    await afterCloseDelay()
    expect(FakeWebSocket.instances).toHaveLength(0)
    view.rerender(tree('visible'))
    expect(FakeWebSocket.instances).toHaveLength(1)
    act(() => welcome())
    view.rerender(tree('hidden'))
    // Hidden is unmounted for its effects: closed after the delay, as by an unmount.
    expect(client.state.status).toBe('open')
    await afterCloseDelay()
    expect(client.state.status).toBe('closed')
    view.rerender(tree('visible'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    view.unmount()
  })

  it('calls no useMessage handler while its Activity is hidden, mounted hidden or hidden later', () => {
    const client = createFakeClient(fakes.clock)
    const send = serverSender()
    const calls: number[] = []
    function Listener() {
      useMessage('tick', (n) => calls.push(n as number))
      return null
    }
    const tree = (mode: 'hidden' | 'visible') => (
      <LifelineProvider client={client} closeDelayMs={20}>
        <Activity mode={mode}>
          <Listener />
        </Activity>
      </LifelineProvider>
    )
    const view = render(tree('hidden'))
    act(() => welcome())
    act(() => send('tick', 1))
    view.rerender(tree('visible'))
    act(() => send('tick', 2))
    view.rerender(tree('hidden'))
    act(() => send('tick', 3))
    view.rerender(tree('visible'))
    act(() => send('tick', 4))
    expect(calls).toEqual([2, 4])
    view.unmount()
    client.close()
  })

  it('shows no payload from before its Activity was hidden as the latest once it is shown again', async () => {
    const client = createFakeClient(fakes.clock)
    const send = serverSender()
    function Latest() {
      return <i>{String(useLatest('tick') ?? 'none')}</i>
    }
    const tree = (mode: 'hidden' | 'visible') => (
      <LifelineProvider client={client} closeDelayMs={20}>
        <Activity mode={mode}>
          <Latest />
        </Activity>
      </LifelineProvider>
    )
    const view = render(tree('visible'))
    act(() => welcome())
    act(() => send('tick', 1))
    expect(view.container.textContent).toBe('1')
    // Hidden is unmounted for its effects: shown again, it has heard nothing since.
    view.rerender(tree('hidden'))
    // The turn ends: stopped, and not started again in it.
    await act(() => Promise.resolve())
    act(() => send('tick', 2))
    view.rerender(tree('visible'))
    expect(view.container.textContent).toBe('none')
    act(() => send('tick', 3))
    expect(view.container.textContent).toBe('3')
    view.unmount()
    client.close()
  })
})
