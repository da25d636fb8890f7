export { LifelineProvider } from './provider.js'
export type {
  ClientProviderProps,
  LifelineProviderProps,
  OptionsProviderProps,
} from './provider.js'
export { useClient } from './context.js'
export { serverConnectionState, useConnectionState } from './connectionState.js'
export { useLatest, useMessage } from './message.js'
export { useRequest } from './request.js'
export type { RequestResult, RequestStatus, UseRequestOptions } from './request.js'
export { useSend } from './send.js'
export type { SendFunction } from './send.js'
export { createLifelineHooks } from './hooks.js'
export type { LifelineHooks } from './hooks.js'
