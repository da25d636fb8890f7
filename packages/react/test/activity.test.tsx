import { act, cleanup, render } from '@testing-library/react'
import { Activity } from 'react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LifelineProvider, useConnectionState } from '../src/index.js'
import { createFakeClient, FakeWebSocket, ManualClock, welcome } from './fake.js'

// `<Activity>` is React 19's: this file is left out of the React 18 project.

let clock: ManualClock

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000)
})
afterEach(cleanup)

/** Waits out a provider's deferred close (closeDelayMs 20 here). */
const afterCloseDelay = () => act(() => new Promise((resolve) => setTimeout(resolve, 40)))

function Status() {
  return <p>{useConnectionState((state) => state.status)}</p>
}

describe('LifelineProvider in an Activity', () => {
  it('connects only while its Activity is visible, and releases the client when it is hidden', async () => {
    const client = createFakeClient(clock)
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
})
