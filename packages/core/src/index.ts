export { LifelineError, isLifelineError } from '@lifeline/codec'
export type { LifelineErrorCode, LifelineErrorOptions } from '@lifeline/codec'
export { backoffDefaults, computeBackoffDelay } from './backoff.js'
export { Client, clientDefaults, createClient, defaultFraming } from './client/index.js'
export type {
  ClientDropEvent,
  ClientEvents,
  ClientOptions,
  ClientState,
  ClientStatus,
  RawFraming,
  RequestOptions,
  ResetEvent,
  SendOptions,
} from './client/index.js'
export type { BackoffOptions } from './backoff.js'
export { systemClock, wallNow } from './clock.js'
export type { Clock, TimerHandle } from './clock.js'
export type { Listener, ListenerOptions } from './events.js'
export { heartbeatDefaults } from './heartbeat.js'
export type { HeartbeatOptions } from './heartbeat.js'
export { reconnectingWebSocketDefaults } from './options.js'
export type { DebugLogger, ReconnectingWebSocketOptions, RetryContext } from './options.js'
export { ReconnectingWebSocket } from './reconnectingWebSocket.js'
export type { LinkFailure } from './reconnectingWebSocket.js'
export { defaultShouldReconnect, fatalCloseCodes } from './closeCodes.js'
export { sendQueueDefaults } from './sendQueue.js'
export type { OverflowPolicy, SendQueueOptions, SendQueueSettings } from './sendQueue.js'
export type {
  ConnectingEvent,
  DropEvent,
  ReconnectingEvent,
  ReconnectingWebSocketEventMap,
  SocketCloseEvent,
  SocketErrorEvent,
  SocketMessageEvent,
  SocketOpenEvent,
  StateChangeEvent,
} from './socketEvents.js'
export type { ConnectionState, ConnectionStatus, DisconnectCause } from './state.js'
export type {
  AnySchema,
  ClientMessages,
  ClientMethods,
  MessageType,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  RpcMethod,
  Schema,
  ServerMessages,
  ServerMethods,
  UserKeys,
} from './protocol/schema.js'
export { redactUrl } from './url.js'
export type { ProtocolsProvider, Provider, UrlProvider } from './url.js'
export type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  WebSocketConstructor,
  WebSocketData,
  WebSocketLike,
} from './webSocketLike.js'
