export {
  checkControlFrame,
  compareRoomIds,
  controlTypes,
  isControlType,
  isKnownControlType,
  isRoomId,
  isRoomName,
  maxControlFrameBytes,
  maxCursorAckBytes,
  maxRoomNameBytes,
  parseEnvelope,
  protocolCloseCodes,
  protocolError,
  protocolVersion,
} from './envelope.js'
export type { ControlType, Envelope, RoomRef } from './envelope.js'
export { maxRoomCursorBytes, maxRoomCursors } from './roomCursors.js'
export { ReliableStream, reliableStreamDefaults } from './reliableStream.js'
export { PendingRequests, RpcError, checkRequest, errorPayload, parseRequest } from './rpc.js'
export type { ErrorPayload, InboundRequest } from './rpc.js'
export type {
  Arrival,
  KeptEnvelope,
  ReliableStreamOptions,
  ReliableStreamState,
} from './reliableStream.js'
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
} from './schema.js'
// Not wire protocol, but shared with `@lifeline/server` and `@lifeline/node` like the rest of
// this entry point.
export { HeartbeatMonitor } from '../heartbeat.js'
export { maxTimerMs, setDeadline } from '../clock.js'
export { isPromise, parseWebSocketUrl } from '../url.js'
export type { HeartbeatHooks } from '../heartbeat.js'
