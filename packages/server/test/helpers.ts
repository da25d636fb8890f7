import { codecNames, json, type Codec } from '@lifeline/codec'
import type { FixtureScope } from '@lifeline/test-utils'
import { once, waitDefaults, waitFor, withTimeout } from '@lifeline/test-utils'
import WebSocket from 'ws'
import {
  createServer,
  type AnySchema,
  type LifelineServer,
  type Schema,
  type ServerOptions,
} from '../src/index.js'

/** An envelope as a test writes or reads it. */
export interface Frame {
  t: string
  d?: unknown
  s?: number
  a?: number
}

export interface Welcome {
  sid: string
  resumed: boolean
  a: number
  /** The largest frame the server accepts. */
  max: number
  /** The send window: bytes the client may have written and not yet had acknowledged. */
  w: number
}

/** Starts a server on 127.0.0.1 port 0, closed after the test. */
export async function startServer<S extends Schema = AnySchema, User = unknown>(
  fx: FixtureScope,
  options: Omit<ServerOptions<User>, 'port' | 'server'> & { port?: number } = {},
): Promise<LifelineServer<S, User>> {
  const server = createServer<S, User>({ port: 0, ...options })
  fx.add(() => server.close())
  await server.ready
  return server
}

export function urlOf(server: { port: number }, path = '/'): string {
  return `ws://127.0.0.1:${server.port}${path}`
}

export interface ConnectOptions {
  protocols?: string[]
  headers?: Record<string, string>
  codec?: Codec
}

/**
 * A client that speaks the protocol by hand: it writes the envelopes a test gives it and
 * records every envelope that arrives, so a test can assert on exact frames.
 */
export class ProtocolClient {
  readonly received: Frame[] = []
  closed: { code: number; reason: string } | undefined
  private readonly closedPromise: Promise<{ code: number; reason: string }>
  private cursor = 0
  private acknowledged = 0

  constructor(
    readonly socket: WebSocket,
    readonly codec: Codec,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push(codec.decode(isBinary ? data : data.toString()) as Frame)
    })
    socket.on('error', () => undefined)
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', (code: number, reason: Buffer) => {
        this.closed = { code, reason: reason.toString() }
        resolve(this.closed)
      })
    })
  }

  static async open(
    fx: FixtureScope,
    url: string,
    options: ConnectOptions = {},
  ): Promise<ProtocolClient> {
    const codec = options.codec ?? json()
    const socket = fx.add(
      new WebSocket(url, options.protocols ?? [codec.name], { headers: options.headers ?? {} }),
    )
    const client = new ProtocolClient(socket, codec)
    await once(socket, 'open')
    return client
  }

  /** Opens a socket, sends `$hello` and waits for `$welcome`. */
  static async connect(
    fx: FixtureScope,
    url: string,
    hello: { sid?: string; a?: number; sa?: number; max?: number; rs?: unknown } = {},
    options: ConnectOptions = {},
  ): Promise<{ client: ProtocolClient; welcome: Welcome }> {
    const client = await ProtocolClient.open(fx, url, options)
    client.send({ t: '$hello', d: { v: 1, ...hello } })
    const welcome = (await client.next('$welcome')).d as Welcome
    return { client, welcome }
  }

  send(frame: Frame | unknown): void {
    this.socket.send(this.codec.encode(frame))
  }

  /** The next envelope of type `t` not yet returned by `next`. */
  async next(t: string, timeoutMs?: number): Promise<Frame> {
    const found = await waitFor(
      () => {
        for (let i = this.cursor; i < this.received.length; i++) {
          if (this.received[i]?.t === t) return { frame: this.received[i] as Frame, index: i }
        }
        return undefined
      },
      {
        message: () => `a ${t} frame (received: ${this.received.map((f) => f.t).join(', ')})`,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
    )
    this.cursor = found.index + 1
    return found.frame
  }

  /** Received envelopes of user types (no `$`). */
  messages(): Frame[] {
    return this.received.filter((frame) => !frame.t.startsWith('$'))
  }

  /**
   * Waits until `n` user messages have arrived and returns them. `timeoutMs` for tens of
   * thousands: their reading is work that a loaded machine does in more than the default bound.
   */
  async waitForMessages(n: number, timeoutMs = waitDefaults.timeoutMs): Promise<Frame[]> {
    await waitFor(() => this.messages().length >= n, {
      message: () => `${n} messages (have ${this.messages().length})`,
      timeoutMs,
    })
    return this.messages()
  }

  /** The highest server `s` received: what to acknowledge or resume with. */
  lastSeq(): number {
    let last = 0
    for (const frame of this.received) if (frame.s !== undefined && frame.s > last) last = frame.s
    return last
  }

  /** Sends `$ack` for everything received so far, if that is more than it acknowledged. */
  acknowledge(): void {
    const last = this.lastSeq()
    if (last <= this.acknowledged) return
    this.acknowledged = last
    this.send({ t: '$ack', a: last })
  }

  waitClose(timeoutMs = waitDefaults.timeoutMs): Promise<{ code: number; reason: string }> {
    // Bounded: a server that never closes fails the test naming the wait, not on its timeout.
    return withTimeout(this.closedPromise, timeoutMs, 'the server to close the connection')
  }

  /** Drops the TCP connection without a close frame (the server sees 1006). */
  async drop(): Promise<void> {
    this.socket.terminate()
    await this.closedPromise
  }
}

export const jsonProtocol = codecNames.json
export const msgpackProtocol = codecNames.msgpack
