import { listenOnLoopback, loopbackUrl } from './loopback.js'
import { connect, createServer } from 'node:net'
import type { Socket } from 'node:net'
import { createProxyLink } from './proxyLink.js'
import type { Direction, LinkTarget, ProxyLink } from './proxyLink.js'
import { afterClosePhase } from './realTime.js'
import { waitDefaults, waitFor } from './wait.js'

/** A backend: a port on 127.0.0.1, or a port and host. */
export type BalancerBackend = number | { port: number; host?: string }

export interface BalancerOptions {
  /** Where connections go, in round-robin order. May be empty, and changed by `setBackends()`. */
  backends: readonly BalancerBackend[]
}

/** Running totals since the balancer started. */
export interface BalancerCounters {
  /** Connections piped to a backend. */
  accepted: number
  /** Connections reset because every backend refused them (or there was none). */
  unserved: number
  /** Connection attempts a backend refused, after which the next backend was tried. */
  skipped: number
  /** Connections piped to each backend, keyed `host:port`. */
  perBackend: Record<string, number>
  /** Bytes written towards backends. */
  bytesToBackends: number
  /** Bytes written back towards clients. */
  bytesToClients: number
}

export interface Balancer {
  /** The balancer's own port on 127.0.0.1: point clients here. */
  readonly port: number
  /** `ws://127.0.0.1:<port><path>`. */
  url(path?: string): string
  /** Live piped connections. */
  readonly connections: number
  /** A snapshot of the counters. */
  readonly counters: Readonly<BalancerCounters>
  /**
   * Connections accepted from now on are spread over `backends`; live connections keep the
   * backend they have. The round-robin goes on from where it was.
   */
  setBackends(backends: readonly BalancerBackend[]): void
  /** Kills every live connection: RST to the client, destroy towards the backend. */
  cut(): void
  /** Resolves when exactly `n` connections are live; rejects with a `TimeoutError` otherwise. */
  waitForConnections(n: number, timeoutMs?: number): Promise<void>
  /** Stops listening and ends every connection; resolves when all handles are released. */
  close(): Promise<void>
}

/**
 * Starts a loopback TCP balancer on 127.0.0.1, port 0, that spreads each new connection over
 * `backends` with no stickiness: round-robin, a backend that refuses the connection skipped for
 * the next one. What a reconnecting client meets behind a load balancer without session affinity.
 */
export async function startBalancer(options: BalancerOptions): Promise<Balancer> {
  let backends = options.backends.map(toTarget)
  /** Index of the backend the next connection tries first. */
  let cursor = 0
  let closing: Promise<void> | undefined
  const links = new Set<ProxyLink>()
  const allLinks = new Set<ProxyLink>()
  /** Clients whose upstream connection is still being attempted. */
  const pending = new Set<Socket>()
  const counters: BalancerCounters = {
    accepted: 0,
    unserved: 0,
    skipped: 0,
    perBackend: {},
    bytesToBackends: 0,
    bytesToClients: 0,
  }

  const context = {
    latencyMs: () => 0,
    onDelivered(direction: Direction, bytes: number) {
      if (direction === 'toTarget') counters.bytesToBackends += bytes
      else counters.bytesToClients += bytes
    },
    onDropped() {},
    onClosed(link: ProxyLink) {
      links.delete(link)
    },
  }

  const refuse = (client: Socket): void => {
    counters.unserved += 1
    if (!client.destroyed) client.resetAndDestroy()
  }

  /** Tries the backends in turn from the cursor; pipes `client` to the first that accepts. */
  const serve = (client: Socket): void => {
    const candidates = [...backends.slice(cursor), ...backends.slice(0, cursor)]
    cursor = backends.length === 0 ? 0 : (cursor + 1) % backends.length
    pending.add(client)
    client.on('error', () => {})
    const tryNext = (index: number): void => {
      const target = candidates[index]
      if (closing !== undefined || client.destroyed || target === undefined) {
        pending.delete(client)
        refuse(client)
        return
      }
      const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true })
      const abandon = (): void => {
        pending.delete(client)
        upstream.destroy()
      }
      // A client that gives up while the backend is being tried takes the attempt with it.
      client.once('close', abandon)
      upstream.once('error', () => {
        client.off('close', abandon)
        counters.skipped += 1
        tryNext(index + 1)
      })
      upstream.once('connect', () => {
        client.off('close', abandon)
        upstream.removeAllListeners('error')
        pending.delete(client)
        if (closing !== undefined || client.destroyed) {
          upstream.destroy()
          refuse(client)
          return
        }
        counters.accepted += 1
        const key = `${target.host}:${target.port}`
        counters.perBackend[key] = (counters.perBackend[key] ?? 0) + 1
        const link = createProxyLink(client, upstream, context)
        links.add(link)
        allLinks.add(link)
        void link.closed().then(() => allLinks.delete(link))
      })
    }
    tryNext(0)
  }

  // The same socket options as the fault proxy: half-open for the WebSocket closing handshake,
  // paused until the backend is connected so no client byte is lost.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    if (closing !== undefined) {
      client.on('error', () => {})
      refuse(client)
      return
    }
    serve(client)
  })

  const port = await listenOnLoopback(server)

  return {
    port,
    url(path = '/') {
      return loopbackUrl(port, path)
    },
    get connections() {
      return links.size
    },
    get counters() {
      return { ...counters, perBackend: { ...counters.perBackend } }
    },
    setBackends(next) {
      backends = next.map(toTarget)
      cursor = backends.length === 0 ? 0 : cursor % backends.length
    },
    cut() {
      for (const link of [...links]) link.cut()
    },
    waitForConnections(n, timeoutMs = waitDefaults.timeoutMs) {
      return waitFor(() => links.size === n, {
        timeoutMs,
        intervalMs: 5,
        message: () => `${n} live balanced connection(s), have ${links.size}`,
      }).then(() => undefined)
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const client of [...pending]) client.destroy()
        for (const link of [...allLinks]) link.cut()
        await Promise.all([serverClosed, ...[...allLinks].map((link) => link.closed())])
        await afterClosePhase()
      })()
      return closing
    },
  }
}

function toTarget(backend: BalancerBackend): LinkTarget {
  if (typeof backend === 'number') return { port: backend, host: '127.0.0.1' }
  return { port: backend.port, host: backend.host ?? '127.0.0.1' }
}
