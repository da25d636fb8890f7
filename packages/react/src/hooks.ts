import type {
  AnySchema,
  Client,
  UserKeys,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMessages,
  ServerMethods,
} from '@lifeline/core'
import { useConnectionState } from './connectionState.js'
import { useClient } from './context.js'
import { useLatest, useMessage } from './message.js'
import { useRequest } from './request.js'
import type { RequestResult, UseRequestOptions } from './request.js'
import { useSend } from './send.js'
import type { SendFunction } from './send.js'

/** The hooks, typed with one schema; see `createLifelineHooks`. */
export interface LifelineHooks<S extends Schema> {
  useClient: () => Client<S>
  useConnectionState: typeof useConnectionState
  useMessage: <K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    handler: (data: ServerMessages<S>[K]) => void,
  ) => void
  useLatest: {
    <K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
      type: K,
    ): ServerMessages<S>[K] | undefined
    <K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string, T>(
      type: K,
      selector: (data: ServerMessages<S>[K]) => T,
    ): T | undefined
  }
  useRequest: <K extends keyof UserKeys<ServerMethods<S>> & keyof ServerMethods<S> & string>(
    method: K,
    ...args: PayloadArgs<RequestOf<ServerMethods<S>, K>, [options?: UseRequestOptions | undefined]>
  ) => RequestResult<ResponseOf<ServerMethods<S>, K>>
  useSend: () => SendFunction<S>
}

/**
 * The hooks typed with your schema, once, so that every call infers its message types and
 * payloads: `export const { useMessage, useSend } = createLifelineHooks<Chat>()`. They are the
 * package's own hooks (nothing is created): the schema is a type only.
 */
export function createLifelineHooks<S extends Schema = AnySchema>(): LifelineHooks<S> {
  return { useClient, useConnectionState, useMessage, useLatest, useRequest, useSend } as never
}
