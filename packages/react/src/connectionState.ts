import { useRef, useSyncExternalStore } from 'react'
import type { ClientState } from '@lifeline/core'
import { useClient } from './context.js'
import { isHeld } from './share.js'

/**
 * What every client is while rendering on a server, during hydration, and before its provider
 * has connected it: the state a client starts in. The same object every time, so the server's HTML and the hydration agree.
 */
export const serverConnectionState: ClientState = Object.freeze({
  status: 'connecting',
  attempt: 1,
})

const identity = <T>(value: T): T => value

/**
 * The client's lifecycle state (`connecting`, `open`, `reconnecting` with its delay, `closing`,
 * `closed`), or what `selector` picks of it. Re-renders on a change of state only, never on
 * messages; with a selector, only when the value it picks changes (compared with `Object.is`:
 * pick a primitive, or a value that is the same object while unchanged).
 */
export function useConnectionState(): ClientState
export function useConnectionState<T>(selector: (state: ClientState) => T): T
export function useConnectionState<T>(selector?: (state: ClientState) => T): T {
  const client = useClient()
  const select = (selector ?? identity) as (state: ClientState) => T
  // One selection per state and selector: React asks for the snapshot several times a render.
  const last = useRef<{ state: ClientState; select: typeof select; value: T }>(undefined)
  const snapshotOf = (state: ClientState): T => {
    const cached = last.current
    if (cached?.state === state && cached.select === select) return cached.value
    const value = select(state)
    last.current = { state, select, value }
    return value
  }
  // `client.subscribe` is bound to its client, and the same function for its life.
  return useSyncExternalStore(
    client.subscribe,
    () => {
      // Rendered before its provider's effect connects it (the first render in a browser): the
      // client is about to connect, and reads as it will, not as `closed` for a frame.
      const { state } = client
      return snapshotOf(
        state.status === 'closed' && !isHeld(client) ? serverConnectionState : state,
      )
    },
    () => snapshotOf(serverConnectionState),
  )
}
