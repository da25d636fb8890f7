import { STATUS_CODES, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { OriginPredicate } from './options.js'

/**
 * A path as Chromium sends it: with `|` and `^` percent-encoded, which Node's URL parser (and so
 * `ws`) keeps as they are. A server's `path` is written so, and each upgrade's path read so, so
 * that clients of both kinds reach it.
 */
export function chromiumPath(path: string): string {
  return path.replace(/\|/g, '%7C').replace(/\^/g, '%5E')
}

/** The path of a request URL, without its query (which may carry a token). */
export function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/'
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** Whether the `Origin` of an upgrade request may connect. */
export function originAllowed(
  request: IncomingMessage,
  allowed: readonly string[] | OriginPredicate | undefined,
  requireOrigin: boolean,
): boolean {
  const origin = request.headers.origin
  // Browsers always send Origin; clients that are not browsers usually do not, and cannot be
  // used for cross-site request forgery, so they pass unless the server asks for an Origin. An
  // empty one names no page either.
  if (!origin) return !requireOrigin
  if (allowed === undefined) return true
  if (typeof allowed === 'function') {
    try {
      const verdict: unknown = allowed(origin, request)
      // The check cannot wait: a promise (an async predicate) is no answer, and it is truthy.
      // Read here, a verdict that throws when read (a revoked proxy, a getter) refuses too: it
      // threw from the `upgrade` event, which ends the process.
      if (typeof (verdict as PromiseLike<unknown> | undefined)?.then === 'function') {
        ;(verdict as Promise<unknown>).then(undefined, () => undefined)
        return false
      }
      return Boolean(verdict)
    } catch {
      return false
    }
  }
  return allowed.includes(origin)
}

/** Answers an upgrade request with an HTTP error and closes its socket. */
export function refuseUpgrade(socket: Duplex, status: number): void {
  if (socket.destroyed) return
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  )
}

/**
 * Whether an upgrade request may be served as the ordinary request it also is: it asks for
 * another protocol than WebSocket (`Upgrade: h2c`, which `curl --http2` sends on every request)
 * and carries no body (Node has taken the connection from its parser and ended the request at
 * its headers, so a body would never be read as the request's).
 */
export function isPlainRequest(request: IncomingMessage): boolean {
  const { upgrade, 'content-length': length, 'transfer-encoding': encoding } = request.headers
  return (
    upgrade?.toLowerCase() !== 'websocket' &&
    encoding === undefined &&
    (length === undefined || Number(length) === 0)
  )
}

/**
 * Hands a request Node took as an upgrade (any request with `Upgrade`, once a server has an
 * `upgrade` listener) to the server's `request` listeners, as Node would with no such listener:
 * mounting Lifeline must not turn an application's route into a 400. The connection closes after
 * the answer (Node's parser let go of it).
 */
export function serveAsRequest(server: Server, request: IncomingMessage, socket: Duplex): void {
  const response = new ServerResponse(request)
  response.shouldKeepAlive = false
  // Left assigned until the connection closes: the response then emits 'close', after its
  // 'finish' or for a client gone mid-answer, as Node's own server has it do.
  response.assignSocket(socket as Socket)
  // Closed once written, as Node closes a connection after its last answer: a client that
  // keeps its side open must not hold it.
  response.once('finish', () => (socket as Socket).destroySoon())
  // Node's server no longer watches this connection: what it does for its own is done here. A
  // client that ends its side ends the answer (the socket is half-open, and would otherwise
  // stay so while a long-lived answer, a stream of events, waits for a 'close' to stop).
  socket.once('end', () => {
    if (socket.writable) socket.end()
  })
  // The request's 'close', which applications clean up on, as when Node serves it.
  socket.once('close', () => request.destroy())
  server.emit('request', request, response)
}
