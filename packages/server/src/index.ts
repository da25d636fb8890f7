export { createServer, LifelineServer } from './server.js'
export type { MethodHandler } from './server.js'
export type { BroadcastOptions, RoomTarget } from './broadcast.js'
export { serverDefaults } from './options.js'
export type {
  Authenticate,
  OriginPredicate,
  ServerHeartbeatOptions,
  ServerOptions,
} from './options.js'
export type {
  MessageHandler,
  MessageInfo,
  RequestInfo,
  MethodName,
  Peer,
  RequestOptions,
  SendOptions,
} from './peer.js'
export type {
  ConnectionInfo,
  DisconnectInfo,
  ResetReason,
  ServerEvents,
  SessionEndReason,
} from './events.js'
export { authUnavailable, forbidden, unauthenticated } from './auth.js'
export { RpcError } from '@lifeline/core/protocol'
export type { ErrorPayload } from '@lifeline/core/protocol'
export { createMemorySessionStore, memorySessionStoreDefaults } from './memorySessionStore.js'
export type { MemorySessionStore, MemorySessionStoreOptions } from './memorySessionStore.js'
export type { SessionRecord, SessionStore, StoredEnvelope } from './sessionStore.js'
export type {
  ClaimedSession,
  Cluster,
  ClusterHost,
  ClusterMember,
  CommitResult,
  JournaledEnvelope,
  SessionChange,
  SessionCommit,
  SharedSessionStore,
} from './cluster.js'
export { broadcastRoom } from './cluster.js'
export { checkRoom } from './session.js'
export { closeOnSignals } from './signals.js'
export type { ServerStats } from './stats.js'
export { defaultLogger, withoutCommand } from './logger.js'
export type { LogDetails, Logger } from './logger.js'
export { LifelineError, isLifelineError } from '@lifeline/codec'
export type { LifelineErrorCode } from '@lifeline/codec'
export type { AnySchema, RpcMethod, Schema } from '@lifeline/core/protocol'
