import { errorMonitor, type EventEmitter as NodeEventEmitter } from 'node:events'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerOptions as HttpServerOptions,
  type Server as HttpServer,
} from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { LifelineError, selectCodec, type Codec } from '@lifeline/codec'
import type {
  AnySchema,
  PayloadArgs,
  RequestOf,
  ResponseOf,
  Schema,
  ServerMessages,
  ServerMethods,
  UserKeys,
} from '@lifeline/core/protocol'
import { controlTypes } from '@lifeline/core/protocol'
import { EventEmitter } from 'eventemitter3'
import { WebSocketServer, type WebSocket } from 'ws'
import { Connection, dropUnanswered, type ConnectionHost } from './connection.js'
import type { MethodImplementation, ServerContext } from './context.js'
import type { ServerEvents } from './events.js'
import { AddressLimits, tryAgainLater } from './limits.js'
import { withoutCommand, type LogDetails } from './logger.js'
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js'
import type { Peer, RequestInfo } from './peer.js'
import {
  checkEncodable,
  checkSendId,
  countReached,
  sendToAll,
  type BroadcastOptions,
  type RoomTarget,
} from './broadcast.js'
import { Rooms } from './rooms.js'
import { broadcastRoom } from './cluster.js'
import { checkRoom, checkType, type Session } from './session.js'
import { SessionRegistry } from './sessions.js'
import { createCounters, type ServerStats } from './stats.js'
import { Turns } from './turns.js'
import { AckSchedule } from './ackSchedule.js'
import {
  chromiumPath,
  isPlainRequest,
  originAllowed,
  pathOf,
  refuseUpgrade,
  serveAsRequest,
} from './upgrade.js'
import { within } from './within.js'

/**
 * What completing a WebSocket handshake counts for in a turn's work (`Turns`): `ws`'s answer and
 * a connection's set-up, some 0.15 to 0.25 ms (a trace of the abuse benchmark), about what
 * writing 32 KiB costs.
 */
export const upgradeWorkBytes = 32 * 1024

/**
 * Implements one RPC method: returns the response or a promise of it; a throw fails the call.
 * `info` says which request it is, as a message handler's does.
 */
export type MethodHandler<S extends Schema, User, K extends keyof ServerMethods<S> & string> = (
  data: RequestOf<ServerMethods<S>, K>,
  peer: Peer<S, User>,
  info: RequestInfo,
) => ResponseOf<ServerMethods<S>, K> | Promise<ResponseOf<ServerMethods<S>, K>>

const noop = (): void => undefined

/**
 * How long the first sessions wait for a cluster to reach its service (`Cluster.ready`): a
 * process that starts next to a running Redis is connected within milliseconds, and one whose
 * Redis is away serves without it after this, as it does during an outage. Well within a
 * client's wait for `$welcome` (10 s by default).
 */
export const clusterStartWaitMs = 2_000

/**
 * The `upgrade` listeners of Lifeline servers mounted on an application's server, each to its
 * server: beside one another they are not listeners that may take a path they do not serve.
 */
const mountedListeners = new WeakMap<object, MountedServer>()

/** What a Lifeline server mounted beside another needs to know of it. */
interface MountedServer {
  /** Its `path` (undefined: every path). */
  readonly path: string | undefined
  /** Whether its close has begun. */
  isClosing(): boolean
  /** Whether an upgrade request is on its path. */
  serves(request: IncomingMessage): boolean
  /** Its `upgrade` listener that answers. */
  readonly onUpgrade: (...args: never[]) => void
}

/**
 * Refuses a second server on the `path` a Lifeline server on the same application's server
 * serves and is not closing: the first hears every upgrade there before it and answers it, so the
 * second's handlers would never run. One without a path serves them all, so no server may come
 * after it (before it, one on a path is heard first, and keeps its path). One whose close has
 * begun is being replaced.
 */
function checkPathFree(server: NodeEventEmitter, path: string | undefined): void {
  for (const listener of server.listeners('upgrade')) {
    const sibling = mountedListeners.get(listener)
    if (sibling === undefined || sibling.isClosing()) continue
    if (sibling.path === undefined) {
      throw new LifelineError(
        'INVALID_ARGUMENT',
        'another Lifeline server on this server already serves every path',
      )
    }
    if (sibling.path === path) {
      throw new LifelineError(
        'INVALID_ARGUMENT',
        `another Lifeline server on this server already serves ${path}`,
      )
    }
  }
}

/** Resolves after two check phases, which straddle a close phase: closed handles are released. */
function afterClosePhase(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}

/** What a close reports of a store or cluster that did not answer in time. */
function timedOut(): LifelineError {
  return new LifelineError('STORE_UNAVAILABLE', 'no answer within closeTimeoutMs')
}

/**
 * A Lifeline server: sessions with exactly-once, in-order delivery across reconnects, RPC in both
 * directions, and rooms, over `ws`. Create it with `createServer`.
 */
export class LifelineServer<S extends Schema = AnySchema, User = unknown> extends EventEmitter<
  ServerEvents<S, User>
> {
  /**
   * Resolves when the server is listening; rejects if it cannot listen, or (`CLOSED`) when it is
   * closed before the application's `server` it was given listens.
   */
  readonly ready: Promise<void>
  private readonly options: ResolvedOptions<User>
  private readonly counters = createCounters()
  private readonly rooms = new Rooms<Session<S, User>>()
  private readonly methods = new Map<string, MethodImplementation<S, User>>()
  private readonly context: ServerContext<S, User>
  private readonly limits: AddressLimits<Session<S, User>> | undefined
  private readonly registry: SessionRegistry<S, User>
  private readonly host: ConnectionHost<S, User>
  private readonly codecsByName: ReadonlyMap<string, Codec>
  private readonly wss: WebSocketServer
  private readonly httpServer: HttpServer | HttpsServer
  private readonly ownsServer: boolean
  private readonly connections = new Set<Connection<S, User>>()
  /** Sockets refused before the handshake (no subprotocol), until they are closed. */
  private readonly refused = new Set<WebSocket>()
  /**
   * On an application's server: what each socket had written when its upgrade request came, so
   * that an answer to it (from another `upgrade` listener) is told from the responses a
   * keep-alive connection carried before (a proxy's pooled connection to the server).
   */
  private readonly writtenBefore = new WeakMap<Duplex, number>()
  /**
   * Sockets whose upgrade another listener saw before `noteUpgrade` (one put ahead of it since):
   * what they had written then may include that listener's answer.
   */
  private readonly notedLate = new WeakSet<Duplex>()
  /** Raw sockets of the HTTP server this server owns, to destroy what never upgraded. */
  private readonly rawSockets = new Set<Socket>()
  /**
   * RPC handlers running, which `close()` lets finish (within `closeTimeoutMs`): a count, not
   * their promises, since a handler that never settles (an await with no timeout) would be held
   * here for good, long after its session ended.
   */
  private handlersRunning = 0
  /** The wait of `close()` for `handlersRunning` to come to none. */
  private handlersDone: (() => void) | undefined
  private closing: Promise<void> | undefined
  /**
   * Stops waiting for the application's `server` to listen (`listening`): a server closed before
   * it listens leaves it none of its listeners, which held the closed server too.
   */
  private stopWaitingToListen: (() => void) | undefined
  private lastPort: number

  constructor(options: ServerOptions<User>) {
    super()
    this.options = resolveOptions(options)
    // Before anything is attached (a cluster, listeners): the mistake leaves nothing behind.
    if (this.options.server !== undefined) checkPathFree(this.options.server, this.options.path)
    const { connectionLimits, clientAddress } = this.options
    this.limits =
      connectionLimits === undefined
        ? undefined
        : new AddressLimits(connectionLimits, clientAddress)
    this.context = {
      options: this.options,
      counters: this.counters,
      rooms: this.rooms,
      methods: this.methods,
      limits: this.limits,
      turns: new Turns(),
      acks: new AckSchedule(this.options.clock, this.options.ackDelayMs),
      cluster: this.options.cluster,
      isClosing: () => this.closing !== undefined,
      fire: (event, ...args) => this.fire(event, ...args),
      handlerError: (error, peer) => {
        this.counters.handlerErrors++
        this.report('a listener or handler threw', error, peer)
      },
      failure: (message, error, peer) => this.report(message, error, peer),
      warn: (message, details) => this.warn(message, details),
      track: (work) => {
        this.handlersRunning++
        // Settled either way, never left rejected: a failure is reported where it happened.
        const done = (): void => {
          if (--this.handlersRunning === 0) this.handlersDone?.()
        }
        work.then(done, done)
      },
      sessionEnded: (session, reason, rooms) => this.registry.ended(session, reason, rooms),
    }
    this.registry = new SessionRegistry(this.context)
    this.options.cluster?.attach({
      // A copy of a room's members, as for a local send: a listener told of a failed delivery
      // may move a member out and back in, and the live set would have it visited again.
      members: (room) =>
        room === undefined ? this.registry.sessions() : [...this.rooms.membersOf(room)],
      failure: (message, error) => this.report(message, withoutCommand(error), undefined),
    })
    const starting = this.waitForCluster()
    this.host = {
      context: this.context,
      openSession: (connection, hello, user) =>
        starting.pending
          ? starting.done.then(() => {
              if (connection.alive) return this.registry.open(connection, hello, user)
            })
          : this.registry.open(connection, hello, user),
      detached: (session, code, reason, later) =>
        this.registry.detached(session, code, reason, later),
      closed: (connection) => this.connections.delete(connection),
    }
    this.codecsByName = new Map(this.options.codecs.map((codec) => [codec.name, codec]))
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // Pings are answered by the connection, within its output bound.
      autoPong: false,
      maxPayload: this.options.maxMessageSize,
      handleProtocols: (protocols) => selectCodec(protocols, this.options.codecs)?.name ?? false,
    })
    this.lastPort = this.options.port ?? 0
    if (this.options.server !== undefined) {
      this.httpServer = this.options.server
      this.ownsServer = false
      // First of all its `upgrade` listeners (those added before, and most added later).
      this.httpServer.prependListener('upgrade', this.noteUpgrade)
      this.httpServer.on('upgrade', this.onUpgrade)
      const mounted: MountedServer = {
        path: this.options.path,
        isClosing: () => this.closing !== undefined,
        serves: (request) => this.serves(request),
        onUpgrade: this.onUpgrade,
      }
      mountedListeners.set(this.noteUpgrade, mounted)
      mountedListeners.set(this.onUpgrade, mounted)
      this.ready = this.listening(this.httpServer)
    } else {
      this.httpServer = createHttpServer(
        upgradeDeadline(this.options.upgradeTimeoutMs),
        (_, response) => {
          response.writeHead(426, { Connection: 'close' }).end('Upgrade Required')
        },
      )
      this.ownsServer = true
      this.httpServer.on('upgrade', this.onUpgrade)
      this.httpServer.on('clientError', this.onClientError)
      this.httpServer.on('connection', (socket: Socket) => {
        this.rawSockets.add(socket)
        socket.once('close', () => this.rawSockets.delete(socket))
      })
      this.ready = this.listen(this.httpServer, this.options.port ?? 0, this.options.host)
    }
    // `ready` rejects for whoever awaits it; the failure is also reported, so that a server
    // nobody awaits does not fail silently (nor crash the process with an unhandled rejection).
    this.ready.catch(noop)
  }

  /** The port listened on (the one picked, after `ready`, for port 0). */
  get port(): number {
    const address = this.httpServer.address()
    if (address !== null && typeof address === 'object') this.lastPort = address.port
    return this.lastPort
  }

  /** Counters since the start, and what is live now. */
  get stats(): ServerStats {
    let unsentBytes = 0
    for (const connection of this.connections) unsentBytes += connection.unsentBytes
    return {
      connections: this.connections.size + this.refused.size,
      sessions: this.registry.size,
      unsentBytes,
      ...this.counters,
    }
  }

  /** Live sessions (attached, or waiting for a resume), by `peer.id`. */
  get peers(): ReadonlyMap<string, Peer<S, User>> {
    return this.registry.byPeerId
  }

  /**
   * Implements an RPC method for clients. A thrown error (or rejection) with a string `code`
   * reaches the caller as `REMOTE_ERROR` with that `remoteCode` and message; any other error as
   * `INTERNAL` with a fixed message (and is reported here as an `'error'` event). Returns a
   * function that removes the method. Throws `INVALID_ARGUMENT` if the method has a handler.
   */
  handle<K extends keyof ServerMethods<S> & string>(
    method: K,
    handler: MethodHandler<S, User, K>,
  ): () => void {
    if (typeof method !== 'string' || typeof handler !== 'function') {
      throw new LifelineError(
        'INVALID_ARGUMENT',
        'handle(method, handler) needs a name and a function',
      )
    }
    if (this.methods.has(method)) {
      throw new LifelineError('INVALID_ARGUMENT', `method ${method} already has a handler`)
    }
    const implementation = handler as MethodImplementation<S, User>
    this.methods.set(method, implementation)
    return () => {
      if (this.methods.get(method) === implementation) this.methods.delete(method)
    }
  }

  /**
   * The sessions in `room`. With a `cluster`, a send reaches the members on every process (this
   * one included, through the cluster) and returns the number of members on this process it
   * reaches (not `except`).
   * Throws `INVALID_ARGUMENT` for a room `join` refuses.
   */
  to(room: string): RoomTarget<S, User> {
    // Checked as `join` checks it: a cluster sends to no room (`undefined`) or `'\u0000'` as the
    // broadcast, so a room that is neither a string nor a room reached every session.
    checkRoom(room, this.options.cluster !== undefined)
    return {
      send: (type: string, data?: unknown, options?: BroadcastOptions<S, User>) => {
        const members = this.rooms.membersOf(room)
        return (
          this.clusterSend(room, type, data, options, members) ??
          sendToAll(members, this.options.codecs, type, data, options)
        )
      },
    }
  }

  /**
   * Sends to every session of this server (with a `cluster`, of every process: then it returns
   * the number of sessions on this process it reaches); returns how many it was sent or queued
   * to.
   */
  broadcast<K extends keyof UserKeys<ServerMessages<S>> & keyof ServerMessages<S> & string>(
    type: K,
    ...args: PayloadArgs<ServerMessages<S>[K], [options?: BroadcastOptions<S, User> | undefined]>
  ): number
  broadcast(type: string, data?: unknown, options?: BroadcastOptions<S, User>): number {
    return (
      this.clusterSend(undefined, type, data, options, this.registry.sessions()) ??
      sendToAll(this.registry.sessions(), this.options.codecs, type, data, options)
    )
  }

  /**
   * The cluster's first connection to its service (`Cluster.ready`), for the sessions that open
   * before it: `pending` until it is made, or until `clusterStartWaitMs` (at most half of
   * `helloTimeoutMs`, which a `$hello` held here counts against) has passed.
   */
  private waitForCluster(): { pending: boolean; done: Promise<void> } {
    const ready = this.options.cluster?.ready?.()
    if (ready === undefined) return { pending: false, done: Promise.resolve() }
    const starting = { pending: true, done: ready }
    let timer: ReturnType<typeof setTimeout> | undefined
    const waitMs = Math.min(clusterStartWaitMs, this.options.helloTimeoutMs / 2)
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs)
      timer.unref?.()
    })
    // A `ready` that rejects, against its contract, ends the wait as the bound does: held, every
    // later `$hello` would have failed with it.
    starting.done = Promise.race([ready, gaveUp])
      .then(noop, noop)
      .then(() => {
        clearTimeout(timer)
        starting.pending = false
      })
    return starting
  }

  /**
   * Hands a room send or broadcast to the cluster, if there is one (else undefined): how many of
   * `local`, the members on this process, it reaches, or 0 when the cluster dropped it
   * (unreliable, its service away).
   */
  private clusterSend(
    room: string | undefined,
    type: string,
    data: unknown,
    options: BroadcastOptions<S, User> | undefined,
    local: Iterable<Session<S, User>>,
  ): number | undefined {
    const cluster = this.options.cluster
    if (cluster === undefined) return undefined
    checkType(type)
    checkSendId(options)
    // One encode per codec of the send's data, on the process that sends it, in the frame
    // members get: a reliable one's numbered by its room, a broadcast's too.
    const reliable = options?.reliable !== false
    checkEncodable(this.options.codecs, type, data, reliable ? (room ?? broadcastRoom) : undefined)
    const taken = cluster.send(room, type, data, {
      reliable,
      except: options?.except?.id,
      id: options?.id,
    })
    return taken === false ? 0 : countReached(local, options?.except)
  }

  /**
   * Shuts down gracefully: stops accepting, closes every client with 1012 (service restart:
   * clients come back, to this server's successor), waits for their close (`closeTimeoutMs`,
   * then terminates), lets running RPC handlers finish (same bound), saves every session to the
   * store, and releases the listener and every timer. A Node process with nothing else to do
   * exits afterwards. Idempotent. A `server` passed in the options is left open.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown()
    return this.closing
  }

  private async shutDown(): Promise<void> {
    this.stopWaitingToListen?.()
    const closeTimeoutMs = this.options.closeTimeoutMs
    let listenerClosed: Promise<void> = Promise.resolve()
    if (this.ownsServer) {
      // A listen in progress completes (or fails) first; closing it midway would not stop it.
      await this.ready.catch(noop)
      const server = this.httpServer
      listenerClosed = new Promise((resolve) => server.close(() => resolve()))
    }
    const sockets: Promise<void>[] = []
    for (const connection of this.connections) {
      connection.close(1012, 'server restart')
      sockets.push(connection.closedPromise)
    }
    for (const socket of this.refused) {
      sockets.push(new Promise((resolve) => socket.once('close', () => resolve())))
    }
    await within(Promise.all(sockets), closeTimeoutMs)
    for (const connection of this.connections) connection.terminate()
    for (const socket of this.refused) socket.terminate()
    await Promise.all(sockets)
    if (this.handlersRunning > 0) {
      await within(new Promise<void>((resolve) => (this.handlersDone = resolve)), closeTimeoutMs)
    }
    // No more room messages come in: what the sessions did not get yet, their next process
    // catches up from the rooms' history.
    // A store or cluster whose service never answers (a command that hangs) must not hold the
    // close: each gets `closeTimeoutMs`, and what they did not finish is reported.
    const cluster = this.options.cluster
    if (cluster !== undefined && !(await within(cluster.detach(), closeTimeoutMs))) {
      this.report('the cluster did not finish sending within closeTimeoutMs', timedOut(), undefined)
    }
    this.registry.shutDown()
    this.context.acks.stop()
    if (!(await within(this.registry.flush(), closeTimeoutMs))) {
      this.report('the session store did not finish within closeTimeoutMs', timedOut(), undefined)
    }
    this.registry.abandon()
    // Only now: until the sessions are stored, a claim of one by another process is handed over.
    if (cluster?.close !== undefined && !(await within(cluster.close(), closeTimeoutMs))) {
      this.report('the cluster did not close within closeTimeoutMs', timedOut(), undefined)
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    // Only now on an application's server: until then an upgrade on the path is refused (503),
    // not left to the application's routes (a 404, or a page, for a WebSocket client).
    if (!this.ownsServer) {
      this.httpServer.off('upgrade', this.onUpgrade)
      this.httpServer.off('upgrade', this.noteUpgrade)
    }
    for (const socket of this.rawSockets) socket.destroy()
    await listenerClosed
    await afterClosePhase()
    this.fire('close')
  }

  /**
   * Settles when the application's `server` listens, or fails to. Its errors are watched, not
   * handled (`errorMonitor`): whether one is fatal stays the application's to say.
   */
  private listening(attached: HttpServer | HttpsServer): Promise<void> {
    if (attached.listening) return Promise.resolve()
    const server: NodeEventEmitter = attached
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        this.stopWaitingToListen = undefined
        server.off('listening', onListening)
        server.off(errorMonitor, onError)
      }
      const onListening = (): void => {
        stop()
        resolve()
      }
      const onError = (error: Error): void => {
        stop()
        this.report('the server cannot listen', error, undefined)
        reject(error)
      }
      server.once('listening', onListening)
      server.on(errorMonitor, onError)
      // Closed first: it never listens, and whoever awaits `ready` is told so.
      this.stopWaitingToListen = () => {
        stop()
        reject(new LifelineError('CLOSED', 'the server was closed before its server listened'))
      }
    })
  }

  private listen(server: HttpServer, port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.report('the server cannot listen', error, undefined)
        reject(error)
      }
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        server.on('error', (error) => this.report('the HTTP listener failed', error, undefined))
        resolve()
      })
    })
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Another `upgrade` listener of the application's server answered it first (its own
    // WebSocket endpoint): it is theirs. Taken again, `ws` would throw from this event.
    if (!this.ownsServer && this.answered(socket)) return
    // A socket that fails during the handshake must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy())
    const { allowedOrigins, requireOrigin } = this.options
    if (!this.serves(request)) {
      if (!this.ownsServer) {
        const others = this.otherUpgradeListeners()
        // On an application's server, another `upgrade` listener may own this path.
        if (others.some((listener) => !mountedListeners.has(listener))) {
          this.refuseUnanswered(socket)
          return
        }
        // Only Lifeline servers besides this one (several services, each on its path): the one
        // whose path it is serves it; for a path none serves, only the first of them answers.
        const siblings = others.map((listener) => mountedListeners.get(listener))
        if (siblings.some((sibling) => sibling?.serves(request))) return
        if (siblings.some((sibling) => sibling !== undefined && this.answersAfter(sibling))) return
        // An application's route asked for another protocol (h2c) with no listener but these
        // to take it: the application's request, as it is when no WebSocket is mounted.
        if (isPlainRequest(request)) {
          serveAsRequest(this.httpServer, request, socket)
          return
        }
      }
      refuseUpgrade(socket, 400)
      return
    }
    // Without a path, every WebSocket on the application's server is this one's, not every
    // request: one that asks for another protocol (`curl --http2` on a route) is the
    // application's, as on a path none serves, unless a listener of its own may take it.
    if (
      !this.ownsServer &&
      this.options.path === undefined &&
      isPlainRequest(request) &&
      this.otherUpgradeListeners().every((listener) => mountedListeners.has(listener))
    ) {
      serveAsRequest(this.httpServer, request, socket)
      return
    }
    if (this.closing !== undefined) {
      // A successor mounted on this path since the close began (a reload) takes it: refused
      // here, the clients just closed with 1012 would back off for as long as this close runs.
      if (!this.ownsServer && this.successorServes(request)) return
      refuseUpgrade(socket, 503)
      return
    }
    if (!originAllowed(request, allowedOrigins, requireOrigin)) {
      this.counters.originRejected++
      this.warn('upgrade refused: origin not allowed', {
        code: 'FORBIDDEN',
        ...(request.socket.remoteAddress === undefined
          ? {}
          : { remoteAddress: request.socket.remoteAddress }),
      })
      refuseUpgrade(socket, 403)
      return
    }
    // Answered in a later turn once this one's work is spent: a hundred clients coming back
    // together (after a restart, or closed together as slow consumers) were answered in one
    // iteration of 10 to 30 ms, and each went on with its `$hello` and replay in the next. Not
    // beside other `upgrade` listeners, which would take an upgrade left unanswered for theirs.
    const turns = this.context.turns
    const alone = this.ownsServer || this.otherUpgradeListeners().length === 0
    if (alone && turns.spentOut) turns.defer(() => this.upgrade(request, socket, head))
    else this.upgrade(request, socket, head)
  }

  /** Completes the WebSocket handshake of an upgrade request that passed its checks. */
  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Gone, or answered meanwhile (a listener the application added since).
    if (this.answered(socket)) return
    if (this.closing !== undefined) {
      refuseUpgrade(socket, 503)
      return
    }
    this.context.turns.charge(upgradeWorkBytes)
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket, request))
  }

  private readonly noteUpgrade = (_request: IncomingMessage, socket: Duplex): void => {
    this.writtenBefore.set(socket, (socket as Socket).bytesWritten)
    if (this.httpServer.listeners('upgrade')[0] !== this.noteUpgrade) this.notedLate.add(socket)
  }

  /**
   * Gone, or answered since its upgrade request came (by another listener, or this one). When a
   * listener put ahead of this server's since saw it first, it may have written its answer
   * before `noteUpgrade` counted what the socket had written: then a socket that someone reads
   * (Node hands it over with no `'data'` listener of its own; `ws` and a proxy's pipe read it)
   * counts as taken too, or its WebSocket, quiet, would get an HTTP 400 `upgradeTimeoutMs`
   * later. Only then: the application may read every connection from its start (a byte count),
   * and its listener stays on the socket, which no other listener took.
   */
  private answered(socket: Duplex): boolean {
    const before = this.writtenBefore.get(socket) ?? 0
    return (
      socket.destroyed ||
      (socket as Socket).bytesWritten > before ||
      (this.notedLate.has(socket) && socket.listenerCount('data') > 0)
    )
  }

  /** The application's server's `upgrade` listeners other than this server's. */
  private otherUpgradeListeners(): object[] {
    const ours = [this.onUpgrade, this.noteUpgrade] as unknown[]
    return this.httpServer.listeners('upgrade').filter((listener) => !ours.includes(listener))
  }

  /** Whether an upgrade `request` is on this server's path (any path, without one). */
  private serves(request: IncomingMessage): boolean {
    const path = this.options.path
    if (path === undefined) return true
    // Read as Chromium sends it, as the path is written: clients on Node's URL parser (`ws`) send
    // `|` and `^` as they are, and are on it too.
    return chromiumPath(pathOf(request)) === path
  }

  /** Whether another Lifeline server on the application's server, not closing, serves `request`. */
  private successorServes(request: IncomingMessage): boolean {
    return this.otherUpgradeListeners().some((listener) => {
      const sibling = mountedListeners.get(listener)
      return sibling !== undefined && !sibling.isClosing() && sibling.serves(request)
    })
  }

  /** Whether `sibling`, on the same application's server, hears its upgrades before this one. */
  private answersAfter(sibling: MountedServer): boolean {
    const listeners: unknown[] = this.httpServer.listeners('upgrade')
    return listeners.indexOf(sibling.onUpgrade) < listeners.indexOf(this.onUpgrade)
  }

  /**
   * Refuses (HTTP 400) an upgrade left to the server's other `upgrade` listeners that none of
   * them answered within `upgradeTimeoutMs`. One that owns no path (another Lifeline server on
   * its own path, a listener that ignores what is not its) leaves it open for good: the
   * server's sockets are half-open, so not even the client's hang-up would close it. Kept past
   * `close()` (unref'd, so it holds no process): the sockets seen until then are still owed it.
   */
  private refuseUnanswered(socket: Duplex): void {
    const timer = setTimeout(() => {
      if (!this.answered(socket)) refuseUpgrade(socket, 400)
    }, this.options.upgradeTimeoutMs)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }

  /**
   * A request that did not complete in `upgradeTimeoutMs` (or that `ws`' parser refused) on the
   * listener this server owns: counted, then answered as Node would without this listener.
   */
  private readonly onClientError = (error: Error & { code?: unknown }, socket: Duplex): void => {
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    if (timedOut) this.counters.upgradeTimeouts++
    const untouched = socket.writable && (socket as Socket).bytesWritten === 0
    if (!untouched) {
      socket.destroy()
      return
    }
    refuseUpgrade(socket, timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400)
  }

  private accept(socket: WebSocket, transport: Duplex, request: IncomingMessage): void {
    this.counters.connectionsAccepted++
    const codec = this.codecsByName.get(socket.protocol)
    if (this.closing !== undefined) {
      this.refuse(socket, 1012, 'server restart')
      return
    }
    if (this.limits?.admitConnection(request, this.options.clock.now()) === false) {
      this.counters.rateLimited++
      this.warn('connection refused: too many new connections from this address', {
        code: 'RATE_LIMITED',
        closeCode: tryAgainLater,
        ...remoteAddressOf(request),
      })
      this.refuse(socket, tryAgainLater, 'too many connections: try again later', {
        codec,
        errorCode: 'RATE_LIMITED',
      })
      return
    }
    if (codec === undefined) {
      this.counters.protocolErrors++
      this.warn('connection refused: no Lifeline subprotocol', {
        code: 'PROTOCOL_ERROR',
        closeCode: 1002,
        ...remoteAddressOf(request),
      })
      this.refuse(socket, 1002, 'no Lifeline subprotocol')
      return
    }
    this.connections.add(new Connection(socket, transport, request, codec, this.host))
  }

  /** Closes a socket that will carry no session, after an `$error` when a codec is agreed. */
  private refuse(
    socket: WebSocket,
    code: number,
    reason: string,
    error?: { codec: Codec | undefined; errorCode: string },
  ): void {
    this.refused.add(socket)
    socket.on('error', noop)
    socket.once('close', () => this.refused.delete(socket))
    if (error?.codec !== undefined) {
      try {
        socket.send(
          error.codec.encode({
            t: controlTypes.error,
            d: { code: error.errorCode, message: reason },
          }),
        )
      } catch {
        // The close says it all; an `$error` is a courtesy.
      }
    }
    socket.close(code, reason)
    dropUnanswered(socket, this.options.closeTimeoutMs, this.context.turns)
  }

  private fire<E extends keyof ServerEvents<S, User>>(
    event: E,
    ...args: ServerEvents<S, User>[E]
  ): void {
    try {
      ;(this.emit as (event: E, ...args: ServerEvents<S, User>[E]) => boolean)(event, ...args)
    } catch (error) {
      this.counters.handlerErrors++
      const peer = args[0]
      this.report(
        `a '${String(event)}' listener threw`,
        error,
        isPeer<S, User>(peer) ? peer : undefined,
      )
    }
  }

  private report(message: string, error: unknown, peer: Peer<S, User> | undefined): void {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', error, peer)
        return
      } catch (listenerError) {
        this.logError("an 'error' listener threw", { error: listenerError })
      }
    }
    this.logError(message, { error, ...(peer === undefined ? {} : { peerId: peer.id }) })
  }

  private logError(message: string, details: LogDetails): void {
    try {
      this.options.logger.error(message, details)
    } catch {
      // A logger that throws must not take the process down: this runs in a socket's or a
      // timer's callback, where nothing would catch it.
    }
  }

  private warn(message: string, details: LogDetails): void {
    try {
      this.options.logger.warn(message, details)
    } catch {
      // A logger that throws must not take a connection down with it.
    }
  }
}

/** The `remoteAddress` detail of a log line, if the socket has one. */
function remoteAddressOf(request: IncomingMessage): { remoteAddress?: string } {
  const address = request.socket.remoteAddress
  return address === undefined ? {} : { remoteAddress: address }
}

/**
 * Options of the HTTP server Lifeline owns: an upgrade request must be complete within
 * `timeoutMs` of the TCP connect. Node checks its connections every
 * `connectionsCheckingInterval` (30 s by default, which with its 60 s `headersTimeout` held a
 * half-sent request for up to 90 s): a tenth of the deadline, at most a second, keeps the drop
 * within 10 % of it.
 */
function upgradeDeadline(timeoutMs: number): HttpServerOptions {
  return {
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.max(1, Math.min(1_000, Math.round(timeoutMs / 10))),
  }
}

function isPeer<S extends Schema, User>(value: unknown): value is Peer<S, User> {
  return typeof value === 'object' && value !== null && 'sessionId' in value && 'send' in value
}

/**
 * Creates a Lifeline server and starts listening (`await server.ready`).
 *
 * ```ts
 * const server = createServer<Chat>({ port: 8080, authenticate: (request) => userOf(request) })
 * server.on('connection', (peer) => {
 *   peer.join('lobby')
 *   peer.on('say', ({ text }) => server.to('lobby').send('said', { text, from: peer.id }))
 * })
 * await server.ready
 * ```
 */
export function createServer<S extends Schema = AnySchema, User = unknown>(
  options: ServerOptions<User>,
): LifelineServer<S, User> {
  return new LifelineServer<S, User>(options)
}
