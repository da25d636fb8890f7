import { useCallback, useEffect, useInsertionEffect, useRef, useState } from 'react'
import type {
  AnySchema,
  LifelineError,
  UserKeys,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMethods,
} from '@lifeline/core'
import { useClient } from './context.js'

// Each option takes `undefined` as "not given", as `client.request`'s do: a component passes on
// what its own props left out, also under `exactOptionalPropertyTypes`.
export interface UseRequestOptions {
  /**
   * `false` makes no request (status `'idle'`) until it turns `true`.
   * @default true
   */
  enabled?: boolean | undefined
  /**
   * The request is made again when one of these changes (compared as `useEffect` does), as it
   * is when the method or `enabled` changes, or their number, which React warns of in
   * development (give a list as one value: `ids.join()`). `data` is not compared: name here
   * what it depends on.
   * @default []
   */
  deps?: readonly unknown[] | undefined
  /** Milliseconds before `REQUEST_TIMEOUT`. @default the client's `requestTimeoutMs` (30000) */
  timeoutMs?: number | undefined
}

export type RequestStatus = 'idle' | 'loading' | 'success' | 'error'

export interface RequestResult<R> {
  /** The last response, kept while a new request is loading and after it fails. */
  data: R | undefined
  /** The last request's `LifelineError` (`REQUEST_TIMEOUT`, `REMOTE_ERROR`, `CLOSED`, …). */
  error: LifelineError | undefined
  status: RequestStatus
  /** Makes the request again now (the one in flight, if any, is aborted). */
  refetch: () => void
}

interface State<R> {
  data: R | undefined
  error: LifelineError | undefined
  status: RequestStatus
}

/**
 * Calls server method `method` with `data` when the component mounts (and again on a change
 * of `deps`, `method` or `enabled`), and aborts it when the component unmounts or a newer one
 * starts: a late response never lands in an unmounted or newer state. The request starts after
 * the effect's turn, so StrictMode's mount–unmount–mount sends it once. On a server, and during
 * hydration, the status is `'loading'` (`'idle'` when not enabled) and nothing is sent.
 */
export function useRequest<
  S extends Schema = AnySchema,
  K extends keyof UserKeys<ServerMethods<S>> & keyof ServerMethods<S> & string = keyof UserKeys<
    ServerMethods<S>
  > &
    keyof ServerMethods<S> &
    string,
>(
  method: K,
  ...args: PayloadArgs<RequestOf<ServerMethods<S>, K>, [options?: UseRequestOptions | undefined]>
): RequestResult<ResponseOf<ServerMethods<S>, K>>
export function useRequest(
  method: string,
  data?: unknown,
  options: UseRequestOptions = {},
): RequestResult<unknown> {
  const { enabled = true, deps = [], timeoutMs } = options
  const client = useClient()
  // The status of the request this render asks for (or does not), until it is answered.
  const status = enabled ? 'loading' : 'idle'
  const [state, setState] = useState<State<unknown>>(() => ({
    data: undefined,
    error: undefined,
    status,
  }))
  // The latest arguments, read when a request starts rather than when it was scheduled.
  const args = useRef({ data, timeoutMs })
  useInsertionEffect(() => {
    args.current = { data, timeoutMs }
  })
  const [run, setRun] = useState(0)
  const refetch = useCallback(() => setRun((n) => n + 1), [])
  // What the effect below depends on, and what it had when it last ran. A render that changes
  // it shows the request the effect is about to make: that render is committed, and may be
  // painted, before the effect runs, and would label the last response the success of the new
  // `deps`. Derived, not set in render: a dependency that is new on every render would loop.
  // Their number too: React compares only as many as both lists have, so a longer or shorter
  // `deps` made no request while this render read it as new, and showed `loading` for good.
  const key = [client, method, enabled, run, deps.length, ...deps]
  const started = useRef<unknown[]>(undefined)
  const ran = started.current
  const stale =
    ran !== undefined &&
    (ran.length !== key.length || key.some((value, i) => !Object.is(value, ran[i])))

  useEffect(() => {
    started.current = key
    setState((s) => (s.status === status ? s : { ...s, status }))
    if (!enabled) return
    const controller = new AbortController()
    const { signal } = controller
    queueMicrotask(() => {
      if (signal.aborted) return
      const { data: payload, timeoutMs: ms } = args.current
      // `undefined` is the client's own timeout, as `client.request` takes it.
      client.request(method, payload, { signal, timeoutMs: ms }).then(
        (response) => {
          if (!signal.aborted) setState({ data: response, error: undefined, status: 'success' })
        },
        (error: LifelineError) => {
          if (!signal.aborted) setState((s) => ({ data: s.data, error, status: 'error' }))
        },
      )
    })
    return () => controller.abort()
    // `deps` stand for `data`, as documented.
  }, key)

  return { ...state, ...(stale && { status }), refetch }
}
