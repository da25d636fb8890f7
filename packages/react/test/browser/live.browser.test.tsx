import { act, cleanup, render } from '@testing-library/react'
import { StrictMode } from 'react'
import { afterEach, expect, inject, it } from 'vitest'
import { createClient } from '@lifeline/core'
import type { Client } from '@lifeline/core'
import { createLifelineHooks, LifelineProvider } from '../../src/index.js'
import type { Echo } from './schema.js'

const { useConnectionState, useLatest, useRequest, useSend, useClient } =
  createLifelineHooks<Echo>()
const { port, controlPort } = inject('reactServers')

afterEach(cleanup)

/** Resolves when `predicate` holds; fails naming `what` after `timeoutMs`. */
async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await act(() => new Promise((resolve) => setTimeout(resolve, 10)))
  }
}

/** Restarts the server; resolves once it listens again. */
function restartServer(): Promise<void> {
  return new Promise((resolve, reject) => {
    const control = new WebSocket(`ws://127.0.0.1:${controlPort}/`)
    control.onopen = () => control.send('restart')
    control.onmessage = ({ data }) => {
      control.close()
      if (data === 'restarted') resolve()
      else reject(new Error(String(data)))
    }
    control.onerror = () => reject(new Error('no control link'))
  })
}

let client: Client<Echo> | undefined
const delivered: string[] = []

function Page() {
  client = useClient()
  const status = useConnectionState((state) => state.status)
  const last = useLatest('said', (said) => `${said.n}:${said.text}`)
  const sum = useRequest('add', { a: 2, b: 3 })
  const send = useSend()
  const say = (text: string) =>
    void client?.delivered(send('say', { text })).then(() => delivered.push(text))
  return (
    <main>
      <p data-testid="status">{status}</p>
      <p data-testid="last">{last ?? 'none'}</p>
      <p data-testid="sum">{sum.status === 'success' ? sum.data : sum.status}</p>
      <button onClick={() => say('hello')}>hello</button>
      <button onClick={() => say('again')}>again</button>
    </main>
  )
}

it('renders live state from a real server in Chromium, across a server restart, with one socket', async () => {
  const sockets: WebSocket[] = []
  let mostOpenAtOnce = 0
  class CountedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
      this.addEventListener('open', () => {
        const open = sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length
        mostOpenAtOnce = Math.max(mostOpenAtOnce, open)
      })
    }
  }
  const created = createClient<Echo>({
    url: `ws://127.0.0.1:${port}/`,
    startClosed: true,
    socket: { WebSocket: CountedWebSocket, initialDelayMs: 20, maxDelayMs: 100 },
  })
  const view = render(
    <StrictMode>
      <LifelineProvider client={created}>
        <Page />
      </LifelineProvider>
    </StrictMode>,
  )
  const text = (id: string) => view.getByTestId(id).textContent
  await until(() => text('status') === 'open', 'the client is open')
  await until(() => text('sum') === '5', 'the request answered')
  expect(sockets).toHaveLength(1)

  act(() => view.getByText('hello').click())
  await until(() => text('last') === '1:hello' && delivered.includes('hello'), 'hello echoed')

  const restarted = restartServer()
  await until(() => text('status') !== 'open', 'the page saw the restart')
  // Sent while the server restarts: delivered once it is back, the session resumed.
  act(() => view.getByText('again').click())
  await restarted
  await until(() => text('status') === 'open', 'open again')
  await until(() => text('last') === '2:again' && delivered.includes('again'), 'again echoed')
  expect(client?.state).toMatchObject({ status: 'open', resumed: true })
  // Never two links at once (the attempts refused during the restart were sockets too).
  expect(mostOpenAtOnce).toBe(1)
  view.unmount()
  created.close()
})
