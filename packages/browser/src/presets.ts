import {
  ReconnectingWebSocket as CoreWebSocket,
  createClient as createCoreClient,
} from '@lifeline/core'
import type {
  AnySchema,
  Client,
  ClientOptions,
  ProtocolsProvider,
  ReconnectingWebSocketOptions,
  Schema,
  UrlProvider,
} from '@lifeline/core'
import { follow, pageCanConnect } from './page.js'

/** What the preset adds to the options of core. */
export interface BrowserOptions {
  /**
   * Follow the page: `online`, visibility, freeze/resume and the back/forward cache (see the
   * README). `false` leaves only the global WebSocket, `binaryType` and `navigator.onLine` (no
   * attempt while offline, one at once on `online`).
   * @default true
   */
  followPage?: boolean | undefined
}

export type BrowserSocketOptions = ReconnectingWebSocketOptions & BrowserOptions
export type BrowserClientOptions = ClientOptions & BrowserOptions

/**
 * Core's socket options with the browser's defaults: the global `WebSocket`, and no attempt
 * while `navigator.onLine` is false or the page is in the back/forward cache (nor while the
 * application's own `canConnect` says no).
 */
export function browserSocketOptions<Options extends ReconnectingWebSocketOptions>(
  options: Options,
): Options {
  const { canConnect } = options
  return {
    ...options,
    WebSocket: options.WebSocket ?? globalThis.WebSocket,
    canConnect: () => pageCanConnect() && (canConnect?.() ?? true),
  }
}

/**
 * Core's `ReconnectingWebSocket` for the browser: the global WebSocket, binary frames as
 * `ArrayBuffer`, no attempts while offline, and the page's lifecycle followed (`followPage`).
 */
export class ReconnectingWebSocket extends CoreWebSocket {
  constructor(url: UrlProvider, protocols?: ProtocolsProvider, options: BrowserSocketOptions = {}) {
    const { followPage: lifecycle = true, ...rest } = options
    super(url, protocols, browserSocketOptions(rest))
    // Before any frame can arrive: the first attempt was made in `super`, but opens later.
    this.binaryType = 'arraybuffer'
    // Not following the page, it still waits while offline: the network is followed still.
    follow(this, globalThis.window, lifecycle)
  }
}

/** Core's `createClient` with the browser preset's socket (see `ReconnectingWebSocket`). */
export function createClient<S extends Schema = AnySchema>(
  options: BrowserClientOptions,
): Client<S> {
  const { followPage: lifecycle = true, ...rest } = options
  const client = createCoreClient<S>({ ...rest, socket: browserSocketOptions(rest.socket ?? {}) })
  follow(client.socket, globalThis.window, lifecycle)
  return client
}
