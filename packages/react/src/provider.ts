import { Component, createElement, useEffect, useInsertionEffect, useRef, useState } from 'react'
import type { ReactNode } from 'react'
import { createClient } from '@lifeline/core'
import type { AnySchema, Client, ClientOptions, Schema } from '@lifeline/core'
import { ClientContext } from './context.js'
import { hold } from './share.js'

interface CommonProps {
  /**
   * How long the connection stays open after the last provider holding its client unmounted;
   * a provider that mounts meanwhile keeps it. StrictMode and hot reload remount within the same
   * commit, well inside it. `undefined` is "not given", for a component that passes its own
   * optional prop on.
   * @default 1000
   */
  closeDelayMs?: number | undefined
  children?: ReactNode
}

/** A provider of a client you created (`createClient`, or a preset's). */
export interface ClientProviderProps<S extends Schema = AnySchema> extends CommonProps {
  client: Client<S>
  options?: never
}

/**
 * A provider that creates its client from these options, once (later options are ignored), as
 * `startClosed`: it connects when the provider mounts, never while rendering on a server. A
 * provider given `client` first creates it on its first render with `options`.
 */
export interface OptionsProviderProps extends CommonProps {
  options: ClientOptions
  client?: never
}

export type LifelineProviderProps<S extends Schema = AnySchema> =
  ClientProviderProps<S> | OptionsProviderProps

const defaultCloseDelayMs = 1_000

interface HoldProps {
  client: Client<never>
  closeDelayMs: number
}

/**
 * Holds the provider's client while mounted, and connects it if it is not. A component of its
 * own, rendered before the children: React runs the layout effects of a commit in tree order,
 * each sibling's subtree before the next, and all of them before any passive effect, so the
 * client is held before any effect of the children runs (a child that sends as it mounts again
 * after the close delay would find the client its last release closed, and `send` throw
 * `CLOSED`). A class, as its lifecycle runs with layout effects but warns of nothing on a
 * server (React 18 does for `useLayoutEffect`), where it does not run at all. Not an insertion
 * effect: connecting notifies the client's subscribers, which React must not be asked to update
 * from one, and a hidden `<Activity>` keeps insertion effects but unmounts layout effects, as
 * it should release the connection.
 */
class Hold extends Component<HoldProps> {
  declare release: (closeDelayMs: number) => void

  override componentDidMount(): void {
    this.release = hold(this.props.client)
  }

  // Only a new client is held anew: a new closeDelayMs is read by the release, and holding
  // again would connect a client the application closed while the provider was mounted.
  override componentDidUpdate(previous: HoldProps): void {
    if (previous.client !== this.props.client) {
      this.componentWillUnmount()
      this.componentDidMount()
    }
  }

  override componentWillUnmount(): void {
    this.release(this.props.closeDelayMs)
  }

  override render(): null {
    return null
  }
}

/**
 * Holds the client too from a passive effect, beside `Hold`. A Suspense boundary that shows its
 * fallback again (a child that suspends on an update) unmounts the layout effects of the tree it
 * hides, and so releases `Hold`, but keeps its passive effects and its state: the provider is
 * still mounted, its children's requests and subscriptions still wait on the client, and closing
 * it would fail them with `CLOSED`. A hidden `<Activity>` unmounts both kinds, and releases it.
 */
function HoldWhileSuspended({ client, closeDelayMs }: HoldProps): null {
  // The delay in force when it is released, as `Hold` reads it from its props.
  const delay = useRef(closeDelayMs)
  useInsertionEffect(() => {
    delay.current = closeDelayMs
  })
  useEffect(() => {
    const release = hold(client)
    return () => release(delay.current)
  }, [client])
  return null
}

/**
 * Makes a client available to the hooks below it, and holds its connection while mounted:
 * connected on mount, closed `closeDelayMs` after the last provider of that client unmounted
 * (or was hidden in an `<Activity>`). However many components and providers use one client, it
 * has one socket.
 */
export function LifelineProvider<S extends Schema = AnySchema>(
  props: LifelineProviderProps<S>,
): ReactNode {
  const { client: given, options, closeDelayMs = defaultCloseDelayMs, children } = props
  // Created on the first render with options, and kept for the provider's life: a provider that
  // goes from `client` to `options` (or back) provides either in turn, not nothing.
  const [created] = useState<{ client?: Client<never> }>({})
  const client = (given ??
    (created.client ??= createClient({
      ...(options as ClientOptions),
      startClosed: true,
    }))) as Client<never>
  const held = { client, closeDelayMs }
  return createElement(
    ClientContext.Provider,
    { value: client },
    createElement(Hold, held),
    createElement(HoldWhileSuspended, held),
    children,
  )
}
