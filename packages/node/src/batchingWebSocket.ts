import { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { gatherFrame, maxGatheredPayload } from './frames.js'
import { gatheredBytes, holdWrites, writeGathered } from './writeBatch.js'

/** `ws`'s private fields this socket reads: its net.Socket (null before open). */
interface WsInternals {
  _socket: Socket | null
}

/** Whole messages small enough to frame here, as bytes; undefined for what `ws` sends itself. */
function bytesOf(data: unknown): string | Uint8Array | undefined {
  if (typeof data === 'string') return data.length <= maxGatheredPayload / 3 ? data : undefined
  if (data instanceof Uint8Array) return data.length <= maxGatheredPayload ? data : undefined
  if (data instanceof ArrayBuffer)
    return data.byteLength <= maxGatheredPayload ? new Uint8Array(data) : undefined
  if (ArrayBuffer.isView(data) && data.byteLength <= maxGatheredPayload)
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}

/**
 * A `ws` socket whose sends of one turn leave together, in one buffer and one write. One class
 * for every link, made with each link's options: a class per link would give each socket a shape
 * of its own, and the code that handles many sockets would slow down (about 10 % per send).
 *
 * A whole message up to `maxGatheredPayload` bytes is framed here into the turn's buffer
 * (`gatherFrame`), as long as the link runs on a net.Socket and `ws` itself has nothing in flight
 * that must go first: no compression on the link, no Blob (sent, pinged or ponged) nor `ws`
 * option ever sent on it (a Blob is read asynchronously, and `ws` queues what follows it).
 * Anything else goes through `ws`, after what was gathered so far, in the same held write
 * (`holdWrites`); pings, pongs (`ws` answers pings through `pong`), close frames and the end of
 * the stream come after what was gathered too.
 */
export class BatchingWebSocket extends WebSocket {
  /** Frames are gathered here: known at the first send on the open link. */
  #gathers: boolean | undefined

  override send(data: unknown, options?: unknown, callback?: unknown): void {
    const stream = (this as unknown as WsInternals)._socket
    if (stream && this.readyState === WebSocket.OPEN) {
      if (this.#gathers === undefined) {
        // Only a net.Socket (or TLS socket) is done with a buffer once its writableLength is 0:
        // another Duplex (an in-memory pair) may still keep the bytes the next turn writes over.
        this.#gathers = this.extensions === '' && stream instanceof Socket
        // `ws` ends the stream when the peer does: what this turn gathered goes first.
        stream.prependListener('end', () => writeGathered(stream))
      }
      const bytes = options === undefined && callback === undefined ? bytesOf(data) : undefined
      if (this.#gathers && bytes !== undefined) return gatherFrame(stream, bytes, true)
      // A message too large keeps the fast path for the next one; a Blob or an option ends it.
      if (options !== undefined || !isPlain(data)) this.#gathers = false
      writeGathered(stream)
      holdWrites(stream)
    }
    super.send(data as string, options as object, callback as () => void)
  }

  override ping(...args: Parameters<WebSocket['ping']>): void {
    this.#writeGathered(args[0])
    super.ping(...args)
  }

  override pong(...args: Parameters<WebSocket['pong']>): void {
    this.#writeGathered(args[0])
    super.pong(...args)
  }

  override close(...args: Parameters<WebSocket['close']>): void {
    this.#writeGathered()
    super.close(...args)
  }

  /**
   * `ws` destroys the stream, and a destroyed stream drops what it holds: what this turn gathered
   * or held (`holdWrites`), and the close frame written just before (core closes, then
   * terminates, a link it lets go: `reconnect()`, `failLink()`). The peer got none of it and saw
   * 1006; the writes go to the kernel first, as they would have without the hold.
   */
  override terminate(): void {
    const stream = (this as unknown as WsInternals)._socket
    if (stream) {
      writeGathered(stream)
      while (stream.writableCorked) stream.uncork()
    }
    super.terminate()
  }

  #writeGathered(data?: unknown): void {
    // A Blob is read asynchronously, and `ws` queues what follows it: so must the next sends.
    if (typeof data === 'object' && !isPlain(data)) this.#gathers = false
    const stream = (this as unknown as WsInternals)._socket
    if (stream) writeGathered(stream)
  }
}

const isPlain = (data: unknown) =>
  typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)

// `ws` counts what its net.Socket holds; what this turn gathered is not there yet. (`ws`'s types
// declare `bufferedAmount` a property, which a class cannot override with an accessor.)
const wsBufferedAmount = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'bufferedAmount')
  ?.get as (this: WebSocket) => number
Object.defineProperty(BatchingWebSocket.prototype, 'bufferedAmount', {
  get(this: BatchingWebSocket): number {
    const stream = (this as unknown as WsInternals)._socket
    return wsBufferedAmount.call(this) + (stream ? gatheredBytes(stream) : 0)
  },
})
