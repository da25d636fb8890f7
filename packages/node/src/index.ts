import {
  ReconnectingWebSocket as CoreSocket,
  createClient as createCoreClient,
} from '@lifeline/core'
import type { AnySchema, Client, ClientOptions, ProtocolsProvider, Schema } from '@lifeline/core'
import type { UrlProvider } from '@lifeline/core'
import { createNodeLink, nodeSocketDefaults } from './link.js'
import type { NodeReconnectingWebSocketOptions } from './link.js'

/** Core's client options, with Node's in `socket`. */
export interface NodeClientOptions extends Omit<ClientOptions, 'socket'> {
  /** Socket options: core's (backoff, timeouts, `clock`, `debug`, …) and Node's. */
  socket?: Omit<NodeReconnectingWebSocketOptions, 'startClosed'> | undefined
}

/**
 * Core's `ReconnectingWebSocket` on `ws`, with a protocol-level ping heartbeat (on by default),
 * handshake `headers` evaluated per attempt, `agent` and TLS options, `maxPayload`, and the
 * writes of each turn sent together.
 */
export class ReconnectingWebSocket extends CoreSocket {
  constructor(
    url: UrlProvider,
    protocols?: ProtocolsProvider,
    options: NodeReconnectingWebSocketOptions = {},
  ) {
    const link = createNodeLink(url, options, true)
    super(link.url, protocols, link.core)
  }
}

/**
 * Core's `createClient` on `ws`, with Node's socket options. `maxPayload` defaults to the
 * largest `maxBytes` of the client's codecs; the ping heartbeat is on in raw mode (protocol
 * mode has its `$ping`).
 */
export function createClient<S extends Schema = AnySchema>(options: NodeClientOptions): Client<S> {
  const { socket = {}, ...rest } = options
  const maxBytes = rest.codecs?.map((codec) => codec.maxBytes ?? nodeSocketDefaults.maxPayload)
  const maxPayload = socket.maxPayload ?? (maxBytes?.length ? Math.max(...maxBytes) : undefined)
  const withPayload = maxPayload === undefined ? socket : { ...socket, maxPayload }
  const link = createNodeLink(rest.url, withPayload, rest.mode === 'raw')
  return createCoreClient<S>({ ...rest, url: link.url, socket: link.core })
}

export { nodeClock } from './clock.js'
// What a service needs of core's beside the two presets, so it can depend on this package alone.
export { LifelineError, isLifelineError } from '@lifeline/core'
export type {
  AnySchema,
  Client,
  ClientState,
  ConnectionState,
  LifelineErrorCode,
  RpcMethod,
  Schema,
} from '@lifeline/core'
export { nodeSocketDefaults } from './link.js'
export type {
  HandshakeHeaders,
  NodeReconnectingWebSocketOptions,
  NodeSocketOptions,
  TlsOptions,
} from './link.js'
export { holdWrites, maxBatchBytes } from './writeBatch.js'
export type { Corkable } from './writeBatch.js'
