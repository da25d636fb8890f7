import { Socket, connect } from 'node:net'
import { realTime } from './realTime.js'

export type Direction = 'toTarget' | 'toClient'

/** Which way a black hole swallows bytes: one direction, or both. */
export type BlackholeDirection = Direction | 'both'

/** The one-way directions a black hole of `direction` covers. */
export function directionsOf(direction: BlackholeDirection): readonly Direction[] {
  return direction === 'both' ? ['toTarget', 'toClient'] : [direction]
}

/** What a link needs from the proxy that owns it. */
export interface LinkContext {
  /** Read on every chunk, so a latency change applies to bytes already flowing. */
  latencyMs(): number
  onDelivered(direction: Direction, bytes: number): void
  onDropped(bytes: number): void
  /** Called once, when both sockets of the link have closed. */
  onClosed(link: ProxyLink): void
}

export interface LinkTarget {
  port: number
  host: string
}

/** One client connection and its upstream connection, joined by two delayed one-way pipes. */
export interface ProxyLink {
  /** False once both sockets have closed or the link was cut. */
  readonly live: boolean
  /**
   * Stalls the link in `direction` for good: from now on every byte and FIN going that way is
   * read and thrown away. The other direction keeps forwarding.
   */
  blackhole(direction?: BlackholeDirection): void
  /** RST to the client, destroy towards the target. */
  cut(): void
  /** Resolves when both sockets have released their handles. */
  closed(): Promise<void>
}

interface Pipe {
  readonly direction: Direction
  /** The socket the pipe reads. */
  readonly from: Socket
  push(chunk: Buffer | typeof END): void
  /** Drops whatever waits for its latency to pass; returns how many bytes that was. */
  clear(): number
}

const END = Symbol('end')

/**
 * Joins `client` (accepted by the proxy, paused) to a new connection towards `target`, or to
 * `target` itself when it is a socket already connected (a balancer that picked a backend that
 * answered), or, when there is no target (the proxy is black-holing both ways), to nothing: a
 * dead path never reaches the server.
 */
export function createProxyLink(
  client: Socket,
  target: LinkTarget | Socket | undefined,
  context: LinkContext,
): ProxyLink {
  const sockets: Socket[] = [client]
  const pipes: Pipe[] = []
  let live = true
  /** The directions that swallow bytes. */
  const blackholed = new Set<Direction>(target === undefined ? directionsOf('both') : [])
  let openSockets = 0

  const track = (socket: Socket): void => {
    openSockets += 1
    // Nagle would add up to 40 ms to small frames and blur latency measurements.
    socket.setNoDelay(true)
    // Errors (resets, refused upstream) are part of what the proxy simulates; they are handled
    // through 'close' below and must never surface as uncaught exceptions.
    socket.on('error', () => {})
  }

  const settle = (): void => {
    if (openSockets > 0) return
    // Nothing left to write to: delayed chunks would only keep their timer alive.
    for (const pipe of pipes) pipe.clear()
    if (live) {
      live = false
      context.onClosed(link)
    }
  }

  track(client)

  if (target === undefined) {
    client.on('data', (chunk: Buffer) => context.onDropped(chunk.length))
    client.on('close', () => {
      openSockets -= 1
      settle()
    })
    client.resume()
  } else {
    const upstream =
      target instanceof Socket
        ? target
        : connect({ port: target.port, host: target.host, allowHalfOpen: true })
    sockets.push(upstream)
    track(upstream)
    const toTarget = createPipe(client, upstream, 'toTarget')
    const toClient = createPipe(upstream, client, 'toClient')
    pipes.push(toTarget, toClient)

    if (upstream.connecting) upstream.on('connect', () => client.resume())
    else client.resume()
    client.on('data', (chunk: Buffer) => toTarget.push(chunk))
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk))
    client.on('end', () => toTarget.push(END))
    upstream.on('end', () => toClient.push(END))

    // A socket that closes on an error (peer reset, refused or failed upstream) resets the other
    // side, as a broken path would; a clean close has already sent its FIN through the pipe.
    client.on('close', (hadError) => {
      openSockets -= 1
      if (hadError && !blackholed.has('toTarget')) reset(upstream)
      settle()
    })
    upstream.on('close', (hadError) => {
      openSockets -= 1
      if (hadError && !blackholed.has('toClient')) reset(client)
      settle()
    })
  }

  function createPipe(from: Socket, to: Socket, direction: Direction): Pipe {
    const queue: Array<{ chunk: Buffer | typeof END; dueAt: number }> = []
    let timer: ReturnType<typeof realTime.setTimeout> | undefined

    const deliver = (chunk: Buffer | typeof END): void => {
      if (blackholed.has(direction)) {
        if (chunk !== END) context.onDropped(chunk.length)
        return
      }
      if (to.destroyed || to.writableEnded) return
      if (chunk === END) {
        to.end()
        return
      }
      context.onDelivered(direction, chunk.length)
      // Backpressure: stop reading the sender while the receiver's buffer is full, so a large
      // burst through the proxy costs bounded memory.
      if (!to.write(chunk) && !from.isPaused()) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    }

    const flush = (): void => {
      timer = undefined
      const now = realTime.now()
      for (let head = queue[0]; head !== undefined && head.dueAt <= now; head = queue[0]) {
        queue.shift()
        deliver(head.chunk)
      }
      schedule()
    }

    const schedule = (): void => {
      const head = queue[0]
      if (timer !== undefined || head === undefined) return
      // Timers may fire a fraction of a millisecond early against the monotonic clock: round up,
      // and flush() re-arms if the head is still not due, so no chunk is ever early.
      timer = realTime.setTimeout(flush, Math.max(0, Math.ceil(head.dueAt - realTime.now())))
    }

    return {
      direction,
      from,
      push(chunk) {
        const latencyMs = context.latencyMs()
        // A chunk only skips the queue when nothing waits in it: order is preserved even when
        // the latency is lowered while earlier chunks are still delayed.
        if (latencyMs <= 0 && queue.length === 0) {
          deliver(chunk)
          return
        }
        queue.push({ chunk, dueAt: realTime.now() + latencyMs })
        schedule()
      },
      clear() {
        if (timer !== undefined) realTime.clearTimeout(timer)
        timer = undefined
        let bytes = 0
        for (const { chunk } of queue.splice(0)) if (chunk !== END) bytes += chunk.length
        return bytes
      },
    }
  }

  const link: ProxyLink = {
    get live() {
      return live
    },
    blackhole(direction = 'both') {
      for (const way of directionsOf(direction)) {
        if (blackholed.has(way)) continue
        blackholed.add(way)
        for (const pipe of pipes) {
          if (pipe.direction !== way) continue
          context.onDropped(pipe.clear())
          // Keep reading so the bytes are counted and dropped, even if backpressure paused it.
          pipe.from.resume()
        }
      }
    },
    cut() {
      for (const pipe of pipes) pipe.clear()
      reset(client)
      for (const socket of sockets) if (socket !== client) socket.destroy()
      if (live) {
        live = false
        context.onClosed(link)
      }
    },
    closed() {
      return Promise.all(sockets.map(whenClosed)).then(() => undefined)
    },
  }
  return link
}

function whenClosed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve()
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

/**
 * Ends a socket with an RST, as a broken path would. A socket whose own end() is already under
 * way cannot be reset (Node refuses with EINVAL and the handle would leak): it is destroyed.
 */
function reset(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.writableEnded) {
    socket.destroy()
    return
  }
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}
