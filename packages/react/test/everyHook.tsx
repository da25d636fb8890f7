import type { ClientOptions } from '@lifeline/core'
import { FakeWebSocket } from '@lifeline/core/testing'
import { createLifelineHooks } from '../src/index.js'
import type { Chat } from './fake.js'

const hooks = createLifelineHooks<Chat>()

/** Client options for the server-rendering tests: a fake socket, so nothing can be reached. */
export const ssrOptions: ClientOptions = {
  url: 'ws://test.local/',
  heartbeat: false,
  socket: { WebSocket: FakeWebSocket },
}

/** A component that uses every hook, and shows what each returns. */
export function EveryHook() {
  const client = hooks.useClient()
  const state = hooks.useConnectionState()
  const open = hooks.useConnectionState((s) => s.status === 'open')
  hooks.useMessage('tick', () => undefined)
  const latest = hooks.useLatest('said')
  const room = hooks.useLatest('said', (said) => said.room)
  const sum = hooks.useRequest('add', { a: 1, b: 2 })
  const disabled = hooks.useRequest('add', { a: 1, b: 2 }, { enabled: false })
  const send = hooks.useSend()
  const attempt = 'attempt' in state ? state.attempt : 0
  return (
    <p>
      {[
        state.status,
        attempt,
        String(open),
        latest?.text ?? 'none',
        room ?? 'none',
        sum.status,
        disabled.status,
        typeof send === 'function' && typeof client.send === 'function' ? 'send' : 'no send',
      ].join('|')}
    </p>
  )
}
