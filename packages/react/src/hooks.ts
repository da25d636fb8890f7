import type { AnySchema, Client, Schema } from '@lifeline/core'
import { useConnectionState } from './connectionState.js'
import { useClient } from './context.js'
import { useLatest, useMessage } from './message.js'
import { useRequest } from './request.js'
import { useSend } from './send.js'

/** The hooks, typed with one schema; see `createLifelineHooks`. */
export interface LifelineHooks<S extends Schema> {
  useClient: () => Client<S>
  useConnectionState: typeof useConnectionState
  useMessage: <K extends Parameters<typeof useMessage<S>>[0]>(
    ...args: Parameters<typeof useMessage<S, K>>
  ) => void
  useLatest: {
    <K extends Parameters<typeof useMessage<S>>[0]>(type: K): ReturnType<typeof useLatest<S, K>>
    <K extends Parameters<typeof useMessage<S>>[0], T>(
      type: K,
      selector: (data: Parameters<Parameters<typeof useMessage<S, K>>[1]>[0]) => T,
    ): T | undefined
  }
  useRequest: <K extends Parameters<typeof useRequest<S>>[0]>(
    ...args: Parameters<typeof useRequest<S, K>>
  ) => ReturnType<typeof useRequest<S, K>>
  useSend: typeof useSend<S>
}

/**
 * The hooks typed with your schema, once, so that every call infers its message types and
 * payloads: `export const { useMessage, useSend } = createLifelineHooks<Chat>()`. They are the
 * package's own hooks (nothing is created): the schema is a type only.
 */
export function createLifelineHooks<S extends Schema = AnySchema>(): LifelineHooks<S> {
  return { useClient, useConnectionState, useMessage, useLatest, useRequest, useSend } as never
}
