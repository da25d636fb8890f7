import { useCallback } from 'react'
import type {
  AnySchema,
  ClientMessages,
  UserKeys,
  PayloadArgs,
  Schema,
  SendOptions,
} from '@lifeline/core'
import { useClient } from './context.js'

/** `client.send`, typed and stable: `(type, data, options?) => receipt`. */
export type SendFunction<S extends Schema = AnySchema> = <
  K extends keyof UserKeys<ClientMessages<S>> & keyof ClientMessages<S> & string,
>(
  type: K,
  ...args: PayloadArgs<ClientMessages<S>[K], [options?: SendOptions | undefined]>
) => number

/**
 * A stable function that sends through the provider's client: the same function for as long as
 * the client is the same, so it can go into dependency lists and memoised children. It returns
 * the message's receipt (`client.delivered(receipt)` settles on the server's acknowledgement).
 */
export function useSend<S extends Schema = AnySchema>(): SendFunction<S> {
  // Untyped inside: `SendFunction<S>` types the callers, and the client's own `send` checks
  // nothing more at run time.
  const client = useClient()
  return useCallback(
    (type: string, data?: unknown, options?: SendOptions) => client.send(type, data, options),
    [client],
  )
}
