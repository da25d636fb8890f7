import { createElement, useInsertionEffect, useState } from 'react'
import type { ReactNode } from 'react'
import { createClient } from '@lifeline/core'
import type { AnySchema, Client, ClientOptions, Schema } from '@lifeline/core'
import { ClientContext } from './context.js'
import { hold } from './share.js'

interface CommonProps {
  /**
   * How long the connection stays open after the last provider holding its client unmounted;
   * a provider that mounts meanwhile keeps it. StrictMode and hot reload remount within the same
   * commit, well inside it.
   * @default 1000
   */
  closeDelayMs?: number
  children?: ReactNode
}

/** A provider of a client you created (`createClient`, or a preset's). */
export interface ClientProviderProps<S extends Schema = AnySchema> extends CommonProps {
  client: Client<S>
  options?: never
}

/**
 * A provider that creates its client from these options, once (later options are ignored), as
 * `startClosed`: it connects when the provider mounts, never while rendering on a server.
 */
export interface OptionsProviderProps extends CommonProps {
  options: ClientOptions
  client?: never
}

export type LifelineProviderProps<S extends Schema = AnySchema> =
  ClientProviderProps<S> | OptionsProviderProps

const defaultCloseDelayMs = 1_000

/**
 * Makes a client available to the hooks below it, and holds its connection while mounted:
 * connected on mount, closed `closeDelayMs` after the last provider of that client unmounted.
 * However many components and providers use one client, it has one socket.
 */
export function LifelineProvider<S extends Schema = AnySchema>(
  props: LifelineProviderProps<S>,
): ReactNode {
  const { client: given, options, closeDelayMs = defaultCloseDelayMs, children } = props
  const [created] = useState(() =>
    given ? undefined : createClient<S>({ ...(options as ClientOptions), startClosed: true }),
  )
  const client = (given ?? created) as Client<never>
  // Held before any effect of the children runs: React runs a passive effect of the provider
  // after theirs, and a child that sends as it mounts (a room joined in `useEffect`) would find
  // the client its last release closed, so `send` throws `CLOSED`. An insertion effect runs
  // before every layout and passive effect of the commit and, unlike a layout effect, without a
  // warning on a server (React 18), where it does not run at all.
  useInsertionEffect(() => hold(client, closeDelayMs), [client, closeDelayMs])
  return createElement(ClientContext.Provider, { value: client }, children)
}
