/**
 * What the Node side (`globalSetup.ts`, `commands.ts`) and the page agree on. Types only, so
 * both sides can import it.
 */
import type { RpcMethod } from '@lifeline/core'

/** The typed messages of every test: numbered per run, echoed back by the server. */
export interface LabSchema {
  client: { say: { readonly run: string; readonly n: number } }
  server: { said: { readonly run: string; readonly n: number } }
  rpc: { ping: RpcMethod<null, 'pong'> }
}

/** Ports on 127.0.0.1 of what `globalSetup.ts` started, each bound to port 0. */
export interface ChromiumTestServers {
  /** A fault proxy in front of the Lifeline server: clients connect here. */
  readonly lifelinePort: number
  /** Sends every frame back as it came: text as text, binary as binary. */
  readonly echoPort: number
  /** Serves `/lab.html` (the preset and `lab.ts`, bundled) and `/away.html`. */
  readonly pagesPort: number
  /** The control link: JSON requests and replies, one `ControlRequest` per text frame. */
  readonly controlPort: number
}

export type ControlRequest =
  /** Graceful restart: the server closes its clients with 1012, a new one starts on its store. */
  | { readonly op: 'restart' }
  /** As if the server process died: links cut (1006) and connections refused until `revive`. */
  | { readonly op: 'kill' }
  | { readonly op: 'revive' }
  /** Stalls every link (half-open) or lets new ones through again. */
  | { readonly op: 'blackhole'; readonly on: boolean }
  /** The numbers the server received for `run`, in the order its handler saw them. */
  | { readonly op: 'received'; readonly run: string }
  /** Links the proxy has accepted so far. */
  | { readonly op: 'accepted' }

export interface ControlResults {
  restart: null
  kill: null
  revive: null
  blackhole: null
  received: readonly number[]
  accepted: number
}

declare module 'vitest' {
  interface ProvidedContext {
    chromiumServers: ChromiumTestServers
  }
}
