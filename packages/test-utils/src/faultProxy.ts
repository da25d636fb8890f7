import { listenOnLoopback, loopbackUrl } from './loopback.js'
import { createServer } from 'node:net'
import { createProxyLink, directionsOf } from './proxyLink.js'
import type { BlackholeDirection, Direction, LinkTarget, ProxyLink } from './proxyLink.js'
import { afterClosePhase } from './realTime.js'
import { waitDefaults, waitFor } from './wait.js'

export interface FaultProxyOptions {
  /** Port of the server the proxy forwards to (typically a fixture's `port`). */
  targetPort: number
  /** @default '127.0.0.1' */
  targetHost?: string
}

/** Running totals since the proxy started. Bytes count what was actually written onward. */
export interface FaultProxyCounters {
  /** Connections accepted and linked (forwarded or black-holed), refused ones excluded. */
  accepted: number
  /** Connections reset on arrival by `refuse()`. */
  refused: number
  /** Bytes written towards the target. */
  bytesToTarget: number
  /** Bytes written back towards clients. */
  bytesToClient: number
  /** Bytes read and thrown away by black-holed links. */
  bytesDropped: number
}

export interface FaultProxy {
  /** The proxy's own port on 127.0.0.1: point clients here instead of at the target. */
  readonly port: number
  /** `ws://127.0.0.1:<port><path>`. */
  url(path?: string): string
  /**
   * Live links: accepted and not yet fully closed on both sides. A black-holed link stays live
   * while either side is still open, since the other side cannot know its peer is gone.
   */
  readonly connections: number
  /** A snapshot of the counters. */
  readonly counters: Readonly<FaultProxyCounters>
  /**
   * Kills every current link: TCP RST to the client (a `ws` client sees an ECONNRESET error
   * and close 1006), plain destroy towards the target. New connections are still accepted.
   */
  cut(): void
  /**
   * `on`: every current link and every link accepted from now on stalls in `direction`
   * (`'toTarget'`: client to target, `'toClient'`: target to client, `'both'` by default). The TCP
   * connections stay open at both ends but no byte and no FIN passes that way; bytes are read
   * and dropped (counted in `bytesDropped`), never buffered. The other direction, if any, keeps
   * forwarding. Black-holed both ways, new links do not even reach the target; one way, they
   * connect to it and stall in that direction.
   *
   * `off`: links accepted from now on forward again in `direction`. Links that were black-holed
   * stay dead for good, because the bytes they lost would leave a hole in the stream: use
   * `cut()` or let the endpoints' timeouts end them.
   */
  blackhole(on?: boolean, direction?: BlackholeDirection): void
  /**
   * `on`: connections arriving from now on are reset right after the TCP accept, so a client's
   * connect fails while the port stays reserved. Existing links are not touched.
   */
  refuse(on?: boolean): void
  /** Delays every chunk by `ms` in both directions, preserving order. Applies to live links. */
  setLatencyMs(ms: number): void
  /** Forwards connections accepted from now on to `port` (and `host`, if given). */
  setTarget(port: number, host?: string): void
  /** Resolves when exactly `n` links are live; rejects with a `TimeoutError` otherwise. */
  waitForConnections(n: number, timeoutMs?: number): Promise<void>
  /** Stops listening and destroys every link; resolves when all handles are released. */
  close(): Promise<void>
}

/** Starts a loopback TCP proxy on 127.0.0.1, port 0, in front of `targetPort`. */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  let target: LinkTarget = { port: options.targetPort, host: options.targetHost ?? '127.0.0.1' }
  let latencyMs = 0
  /** The directions in which links accepted from now on stall. */
  const blackholing = new Set<Direction>()
  let refusing = false
  let closing: Promise<void> | undefined
  const links = new Set<ProxyLink>()
  const allLinks = new Set<ProxyLink>()
  const counters: FaultProxyCounters = {
    accepted: 0,
    refused: 0,
    bytesToTarget: 0,
    bytesToClient: 0,
    bytesDropped: 0,
  }

  const context = {
    latencyMs: () => latencyMs,
    onDelivered(direction: Direction, bytes: number) {
      if (direction === 'toTarget') counters.bytesToTarget += bytes
      else counters.bytesToClient += bytes
    },
    onDropped(bytes: number) {
      counters.bytesDropped += bytes
    },
    onClosed(link: ProxyLink) {
      links.delete(link)
    },
  }

  // allowHalfOpen lets a FIN from one side travel through before the other side is closed, as
  // the WebSocket closing handshake needs; pauseOnConnect holds the client's first bytes until
  // the upstream connection exists.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (refusing || closing !== undefined) {
      counters.refused += 1
      socket.on('error', () => {})
      socket.resetAndDestroy()
      return
    }
    counters.accepted += 1
    const deadBothWays = blackholing.size === 2
    const link = createProxyLink(socket, deadBothWays ? undefined : { ...target }, context)
    for (const direction of blackholing) link.blackhole(direction)
    links.add(link)
    allLinks.add(link)
    void link.closed().then(() => allLinks.delete(link))
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
      return { ...counters }
    },
    cut() {
      for (const link of [...links]) link.cut()
    },
    blackhole(on = true, direction = 'both') {
      for (const way of directionsOf(direction)) {
        if (on) blackholing.add(way)
        else blackholing.delete(way)
      }
      if (on) for (const link of links) link.blackhole(direction)
    },
    refuse(on = true) {
      refusing = on
    },
    setLatencyMs(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be ≥ 0 ms, got ${ms}`)
      latencyMs = ms
    },
    setTarget(newPort, host) {
      target = { port: newPort, host: host ?? target.host }
    },
    waitForConnections(n, timeoutMs = waitDefaults.timeoutMs) {
      return waitFor(() => links.size === n, {
        timeoutMs,
        intervalMs: 5,
        message: () => `${n} live proxy connection(s), have ${links.size}`,
      }).then(() => undefined)
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const link of [...allLinks]) link.cut()
        await Promise.all([serverClosed, ...[...allLinks].map((link) => link.closed())])
        await afterClosePhase()
      })()
      return closing
    },
  }
}
