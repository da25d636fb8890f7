import { createClient } from '@lifeline/core'
import type { Client, ClientOptions, RpcMethod } from '@lifeline/core'
import { createFaultProxy } from '@lifeline/test-utils'
import type { FaultProxy, FixtureScope } from '@lifeline/test-utils'
import { createMemorySessionStore, createServer } from '../../src/index.js'
import type { LifelineServer, MemorySessionStore, Peer, ServerOptions } from '../../src/index.js'

/** The schema every end-to-end test speaks. */
export interface Counted {
  client: { up: { n: number } }
  server: { down: { n: number } }
  rpc: { echo: RpcMethod<{ n: number; delayMs?: number }, { n: number }> }
}

export type CountedServer = LifelineServer<Counted>
export type CountedPeer = Peer<Counted>
export type CountedClient = Client<Counted>

/** Seeded PRNG (mulberry32): a failing chaos run can be replayed from its printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A Lifeline server behind a fault proxy, restartable on the same port with the same session
 * store (sessions survive, as they would with a shared store), and clients through the proxy.
 */
export class Rig {
  server!: CountedServer
  proxy!: FaultProxy
  readonly store: MemorySessionStore
  private port = 0
  private readonly setups: ((server: CountedServer) => void)[] = []

  constructor(
    private readonly fx: FixtureScope,
    private readonly serverOptions: Partial<ServerOptions> = {},
  ) {
    this.store = createMemorySessionStore()
  }

  async start(): Promise<this> {
    await this.listen()
    this.proxy = this.fx.add(await createFaultProxy({ targetPort: this.port }))
    return this
  }

  /** Runs `setup` on this server and on every restarted one. */
  onServer(setup: (server: CountedServer) => void): void {
    this.setups.push(setup)
    setup(this.server)
  }

  /** Closes the listener (clients are told 1012) and listens again with the same store. */
  async restart(): Promise<void> {
    await this.server.close()
    await this.listen()
  }

  client(options: Partial<ClientOptions> = {}): CountedClient {
    const client = createClient<Counted>({
      url: this.proxy.url('/'),
      ...options,
      socket: { initialDelayMs: 10, maxDelayMs: 100, ...options.socket },
    })
    this.fx.add(() => client.close())
    return client
  }

  private async listen(): Promise<void> {
    const server = createServer<Counted>({
      port: this.port,
      store: this.store,
      ...this.serverOptions,
    })
    this.fx.add(server)
    await server.ready
    this.port = server.port
    this.server = server
    for (const setup of this.setups) setup(server)
  }
}
