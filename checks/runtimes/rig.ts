import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import type { RpcMethod } from '@lifeline/core'
import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer, MemorySessionStore } from '@lifeline/server'
import { createFaultProxy } from '@lifeline/test-utils'
import type { FaultProxy, FixtureScope } from '@lifeline/test-utils'

/** The schema the protocol scenarios speak (the agent's client sends `up`, gets `down`). */
export interface Counted {
  client: { up: { n: number } }
  server: { down: { n: number } }
  rpc: { echo: RpcMethod<{ n: number }, { n: number }> }
}

/**
 * A Lifeline server (JSON and MessagePack) behind a fault proxy, restartable on the same port
 * with the same session store, as a process restarted over a shared store would be.
 */
export class LifelineRig {
  server!: LifelineServer<Counted>
  proxy!: FaultProxy
  readonly store: MemorySessionStore = createMemorySessionStore()
  #port = 0
  readonly #setups: ((server: LifelineServer<Counted>) => void)[] = []

  constructor(private readonly fx: FixtureScope) {}

  async start(): Promise<this> {
    await this.#listen()
    this.proxy = this.fx.add(await createFaultProxy({ targetPort: this.#port }))
    return this
  }

  /** Runs `setup` on this server and on every restarted one. */
  onServer(setup: (server: LifelineServer<Counted>) => void): void {
    this.#setups.push(setup)
    setup(this.server)
  }

  /** Closes the server (clients are told 1012) and listens again with the same store. */
  async restart(): Promise<void> {
    await this.server.close()
    await this.#listen()
  }

  async #listen(): Promise<void> {
    const server = this.fx.add(
      createServer<Counted>({ port: this.#port, store: this.store, codecs: [json(), msgpack()] }),
    )
    await server.ready
    this.#port = server.port
    this.server = server
    for (const setup of this.#setups) setup(server)
  }
}
