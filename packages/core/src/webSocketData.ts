import { LifelineError } from '@lifeline/codec'
import { utf8ByteLength } from './utf8.js'
import type { WebSocketData } from './webSocketLike.js'

/**
 * The tag check also accepts buffers from another realm (an iframe, a vm context) and
 * SharedArrayBuffer, where `instanceof ArrayBuffer` would not.
 */
const isArrayBuffer = (value: unknown): value is ArrayBufferLike =>
  /^\[object (Shared)?ArrayBuffer\]$/.test(Object.prototype.toString.call(value))

/**
 * A Blob (or File) of this realm or another (an iframe's): `instanceof` sees only this one's,
 * where the standard's `send` takes any.
 */
const isBlob = (value: unknown): value is Blob =>
  /^\[object (Blob|File)]$/.test(Object.prototype.toString.call(value))

/** Bytes a message will take on the wire; throws `INVALID_ARGUMENT` for what `send` refuses. */
export function byteSizeOf(data: WebSocketData): number {
  if (typeof data === 'string') return utf8ByteLength(data)
  if (ArrayBuffer.isView(data) || isArrayBuffer(data)) return data.byteLength
  if (isBlob(data)) return data.size
  throw new LifelineError(
    'INVALID_ARGUMENT',
    'send() takes a string, ArrayBuffer, typed array, DataView or Blob',
  )
}

/**
 * What the queue keeps of a message: binary data is copied, because the standard copies at
 * `send()` and callers reuse their buffers; strings and Blobs are immutable and kept as they are.
 */
export function snapshotOf(data: WebSocketData): WebSocketData {
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
  }
  return isArrayBuffer(data) ? data.slice(0) : data
}
