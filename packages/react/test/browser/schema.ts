import type { RpcMethod } from '@lifeline/core'

/** What the page and the server of the browser test speak. */
export interface Echo {
  client: { say: { text: string } }
  server: { said: { text: string; n: number } }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
}

/** What the setup hands the page. */
export interface BrowserServers {
  /** The Lifeline server's port (the same across restarts). */
  port: number
  /** A plain WebSocket on which `restart` restarts the server and answers once it listens. */
  controlPort: number
}

declare module 'vitest' {
  export interface ProvidedContext {
    reactServers: BrowserServers
  }
}
