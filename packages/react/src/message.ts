import {
  useCallback,
  useEffect,
  useImperativeHandle,
  useInsertionEffect,
  useRef,
  useSyncExternalStore,
} from 'react'
import { LifelineError } from '@lifeline/core'
import type { AnySchema, Client, Schema, ServerMessages, UserKeys } from '@lifeline/core'
import { useClient } from './context.js'

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
 * Calls `listener` with the messages of `type` from the commit that gives the component its
 * client and type, not from the passive effects, which React runs in a later task for an update
 * that is not discrete: a message that came meanwhile was lost. The passive effects stop it and
 * start it again too: React 18 runs no insertion effect's cleanup in a tree it deletes while a
 * Suspense fallback hides it, and the listener stayed in the client for good. Their cleanup and
 * setup run in one turn (StrictMode's, a new type's), so none is lost between them; a hidden
 * `<Activity>` stops it until it is shown, and `stopped` is called once a turn ends stopped.
 */
function useListener(
  client: Client,
  type: string,
  listener: (data: unknown) => void,
  stopped?: () => void,
): void {
  const off = useRef<() => void>(undefined)
  const listen = () => {
    off.current ??= client.on(type, listener)
    return () => {
      off.current?.()
      off.current = undefined
      // Not started again in this turn: hidden, or unmounted.
      queueMicrotask(() => off.current || stopped?.())
    }
  }
  useInsertionEffect(listen, [client, type])
  useEffect(listen, [client, type])
}

/**
 * Calls `handler` for every server message of `type` while the component is mounted. The
 * handler is kept in a ref, so a new function on every render is fine: it never subscribes
 * again, and the latest one is called. Never re-renders the component by itself. Throws
 * `INVALID_ARGUMENT` for a handler that is no function.
 */
export function useMessage<
  S extends Schema = AnySchema,
  K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string = keyof UserKeys<
    ServerMessages<S>
  > &
    keyof ServerMessages<S> &
    string,
>(type: K, handler: (data: ServerMessages<S>[K]) => void): void {
  const client = useClient<S>()
  // Refused as `client.on` refuses it, which never sees it (it is given a function of this hook's
  // own): a handler that is no function would fail at every message of its type, each one lost.
  if (typeof handler !== 'function') {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      `useMessage('${String(type)}') needs a handler function`,
    )
  }
  const latest = useRef(handler)
  // Whether the component's layout or passive effects are mounted: called from its commit,
  // before the passive effects, which React runs in a later task for an update that is not
  // discrete; and while a Suspense fallback hides it, which unmounts the layout effects only. A
  // hidden `<Activity>` unmounts both (and one mounted hidden mounts neither) but keeps the
  // insertion effects, and a hidden component is not called, as an unmounted one is not.
  // `useImperativeHandle` is a layout effect that React runs on no server and warns of nowhere
  // (React 18 does for `useLayoutEffect` on a server).
  const laidOut = useRef<boolean>(null)
  const live = useRef(false)
  useImperativeHandle(laidOut, () => true, [])
  useEffect(() => {
    live.current = true
    return () => {
      live.current = false
    }
  }, [])
  // Before any effect of this commit (and so before a message can arrive to one), and only for
  // a committed render: a render React throws away never swaps the handler.
  useInsertionEffect(() => {
    latest.current = handler
  })
  // Subscribed with the commit of a new type or client, as its handler is swapped: one of the old
  // type that came before the passive effects was the old subscription's, with the new handler.
  useListener(client, type, (data) => {
    if (laidOut.current || live.current) latest.current(data as never)
  })
}

/**
 * The last payload of server messages of `type` received since the component mounted (or since
 * `type` or the client last changed, or a hidden `<Activity>` was shown again: what came before
 * was not listened to since), or what
 * `selector` picks of it; `undefined` until the first. Re-renders only when that value changes
 * (compared with `Object.is`): a selector that picks one field re-renders on that field only.
 */
export function useLatest<
  S extends Schema = AnySchema,
  K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string = keyof UserKeys<
    ServerMessages<S>
  > &
    keyof ServerMessages<S> &
    string,
>(type: K): ServerMessages<S>[K] | undefined
export function useLatest<
  S extends Schema = AnySchema,
  K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string = keyof UserKeys<
    ServerMessages<S>
  > &
    keyof ServerMessages<S> &
    string,
  T = unknown,
>(type: K, selector: (data: ServerMessages<S>[K]) => T): T | undefined
export function useLatest<
  S extends Schema,
  K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string,
  T,
>(type: K, selector?: (data: ServerMessages<S>[K]) => T): T | undefined {
  const client = useClient<S>()
  const store = useRef<Latest<ServerMessages<S>[K], T>>({})
  // React's subscriber, told of a new payload once the passive effects subscribed it; a payload
  // that came before, after the commit, is seen by React's check of the snapshot as it subscribes.
  const changed = useRef<() => void>(undefined)
  const subscribe = useCallback(
    function subscribe(onChange: () => void) {
      changed.current = onChange
      return () => {
        if (changed.current === onChange) changed.current = undefined
      }
    },
    // One per client and type, though it reads neither: what the last one received is not the
    // latest of the new one.
    [client, type],
  )
  useListener(
    client,
    type,
    (data) => {
      store.current = { from: subscribe, latest: { data: data as never } }
      changed.current?.()
    },
    // What came before a hidden `<Activity>` stopped it is not the latest once it is shown.
    () => (store.current = {}),
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
