import { useCallback, useEffect, useInsertionEffect, useRef, useSyncExternalStore } from 'react'
import { LifelineError } from '@lifeline/core'
import type { AnySchema, MessageType, Schema, ServerMessages } from '@lifeline/core'
import { useClient } from './context.js'

type Types<S extends Schema> = MessageType<ServerMessages<S>>

/** What `useLatest` keeps: the last payload (boxed: a payload may be `undefined`) and its selection. */
interface Latest<D, T> {
  /**
   * The subscription that received `latest`, one per client and type: a change of either must
   * not show the old one, nor a change back show what came before it, as the latest.
   */
  from?: unknown
  latest?: { data: D }
  cache?: { from: { data: D }; select: unknown; value: T }
}

/**
 * Calls `handler` for every server message of `type` while the component is mounted. The
 * handler is kept in a ref, so a new function on every render is fine: it never subscribes
 * again, and the latest one is called. Never re-renders the component by itself. Throws
 * `INVALID_ARGUMENT` for a handler that is no function.
 */
export function useMessage<S extends Schema = AnySchema, K extends Types<S> = Types<S>>(
  type: K,
  handler: (data: ServerMessages<S>[K]) => void,
): void {
  const client = useClient<S>()
  // Refused as `client.on` refuses it, which never sees it (it is given a function of this hook's
  // own): a handler that is no function would fail at every message of its type, each one lost.
  if (typeof handler !== 'function') {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `useMessage('${String(type)}') needs a handler function`,
    )
  }
  const latest = useRef({ client, type, handler })
  // Before any effect of this commit (and so before a message can arrive to one), and only for
  // a committed render: a render React throws away never swaps the handler.
  useInsertionEffect(() => {
    latest.current = { client, type, handler }
  })
  useEffect(
    () =>
      client.on(type, (data) => {
        // A new type or client is committed before this subscription is replaced, in the
        // passive effects, which React runs in a later task for an update that is not discrete:
        // the handler of the new type must not be given a message of the old one meanwhile.
        const current = latest.current
        if (current.type === type && current.client === client) current.handler(data)
      }),
    [client, type],
  )
}

/**
 * The last payload of server messages of `type` received since the component mounted (or since
 * `type` or the client last changed: what came before was not listened to since), or what
 * `selector` picks of it; `undefined` until the first. Re-renders only when that value changes
 * (compared with `Object.is`): a selector that picks one field re-renders on that field only.
 */
export function useLatest<S extends Schema = AnySchema, K extends Types<S> = Types<S>>(
  type: K,
): ServerMessages<S>[K] | undefined
export function useLatest<S extends Schema = AnySchema, K extends Types<S> = Types<S>, T = unknown>(
  type: K,
  selector: (data: ServerMessages<S>[K]) => T,
): T | undefined
export function useLatest<S extends Schema, K extends Types<S>, T>(
  type: K,
  selector?: (data: ServerMessages<S>[K]) => T,
): T | undefined {
  const client = useClient<S>()
  const store = useRef<Latest<ServerMessages<S>[K], T>>({})
  const subscribe = useCallback(
    function subscribe(onChange: () => void) {
      return client.on(type, (data) => {
        store.current = { from: subscribe, latest: { data } }
        onChange()
      })
    },
    [client, type],
  )
  const snapshot = (): T | undefined => {
    const { from, latest, cache } = store.current
    if (!latest || from !== subscribe) return undefined
    // One selection per payload and selector: React asks for the snapshot several times a render.
    if (cache?.from === latest && cache.select === selector) return cache.value
    const value = selector ? selector(latest.data) : (latest.data as unknown as T)
    store.current.cache = { from: latest, select: selector, value }
    return value
  }
  return useSyncExternalStore(subscribe, snapshot, () => undefined)
}
