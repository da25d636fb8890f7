/**
 * What the Node side (`globalSetup.ts`) and the page (`control.ts`) agree on: the ports it
 * provides, and the requests of the control link (`@lifeline/test-utils/page`). Types only, so
 * both sides can import it.
 */

/** Ports on 127.0.0.1 of what `globalSetup.ts` started, each bound to port 0. */
export interface BrowserTestServers {
  /** Sends every frame back as it came: text as text, binary as binary. */
  readonly echoPort: number
  /**
   * Records every message; its listener is stopped (clients get 1012) and restarted over the
   * control link. Only `restart.browser.test.ts` uses it, since a stop hits every client.
   */
  readonly restartablePort: number
  /**
   * A fault proxy in front of the echo server, black-holed over the control link. Only
   * `heartbeat.browser.test.ts` uses it, since a black hole stalls every link through it.
   */
  readonly proxyPort: number
  /** The control link: JSON requests and replies, one `ControlRequest` per text frame. */
  readonly controlPort: number
}

export type ControlRequest =
  /** Stops the restartable server's listener, closing its clients with 1012. */
  | { readonly op: 'stop' }
  /** Listens again on the same port. */
  | { readonly op: 'restart' }
  /** What the restartable server received on connections whose request URL is `path`. */
  | { readonly op: 'received'; readonly path: string }
  /** Black-holes the proxy's links (`on`), or lets new links through again. */
  | { readonly op: 'blackhole'; readonly on: boolean }
  /** The proxy's counters. */
  | { readonly op: 'proxyCounters' }

export interface ControlResults {
  stop: null
  restart: null
  received: {
    /** Text of every message, in arrival order, across all connections to `path`. */
    readonly messages: readonly string[]
    /** Connections made to `path` so far. */
    readonly connections: number
  }
  blackhole: null
  proxyCounters: {
    /** Links accepted so far, black-holed ones included. */
    readonly accepted: number
    /** Links live now. */
    readonly live: number
    /** Bytes written back towards clients so far. */
    readonly bytesToClient: number
  }
}

declare module 'vitest' {
  interface ProvidedContext {
    lifelineServers: BrowserTestServers
  }
}
