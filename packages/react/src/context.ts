import { createContext, useContext } from 'react'
import { LifelineError } from '@lifeline/core'
import type { AnySchema, Client, Schema } from '@lifeline/core'

/** The client of the nearest `LifelineProvider`. */
export const ClientContext = createContext<Client<never> | null>(null)

/**
 * The client of the nearest `LifelineProvider`, typed with your schema (`useClient<Chat>()`).
 * Throws `INVALID_ARGUMENT` outside a provider: a component that needs the connection and has
 * none is a mistake of the tree, better seen at once than as a hook that never updates.
 */
export function useClient<S extends Schema = AnySchema>(): Client<S> {
  const client = useContext(ClientContext)
  if (!client) {
    throw new LifelineError('INVALID_ARGUMENT', 'no <LifelineProvider> above this component')
  }
  return client as unknown as Client<S>
}
