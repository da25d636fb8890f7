import { isLifelineError, LifelineError } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { Packr } from 'msgpackr/pack'
import type { JournaledEnvelope } from '@lifeline/server'
import type { RoomEntry, RoomMessage } from './roomFeed.js'

/** Values as msgpack: a payload's binary data (Uint8Array) survives, unlike JSON. */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true })

/**
 * The msgpack codec's own check of its value domain, with no limit of its own: the server's
 * codecs have applied theirs (depth, containers, size) before a value gets here.
 */
const domain = msgpack({
  maxBytes: Infinity,
  maxDepth: Number.MAX_SAFE_INTEGER,
  maxContainers: Infinity,
})

/**
 * Data as Redis can carry it to every member alike. Only a server without the msgpack codec
 * sends data outside its domain (a `Map`, a `Float32Array`, an `Error`, a symbol-valued
 * property), and packr would change it for every member: a `Map` becomes an object of its
 * entries, a `Float32Array` its bytes with stale ones of packr's buffer after them, a symbol an
 * error that is not a `LifelineError`. Such data travels as its JSON, what the server's JSON
 * clients are given by `peer.send`.
 */
export function portable(data: unknown): unknown {
  try {
    domain.encode(data)
    return data
  } catch (error) {
    if (!isLifelineError(error) || error.code !== 'ENCODE_FAILED') throw error
  }
  let text: string | undefined
  try {
    text = JSON.stringify(data)
  } catch (cause) {
    throw new LifelineError('ENCODE_FAILED', 'the data cannot be sent through Redis', { cause })
  }
  return text === undefined ? undefined : (JSON.parse(text) as unknown)
}

/**
 * `items` packed, its entry `at` (a send's data) made `portable` first: for data in the
 * msgpack domain (nearly all), in one encode, the domain codec's, which checks it on the way.
 * The check and the pack took an encode each before, two for every room send. The bytes are
 * standard msgpack either way, and read back alike.
 */
export function packPortable(items: unknown[], at: number): Buffer {
  let packed: Uint8Array
  try {
    packed = domain.encode(items)
  } catch (error) {
    if (!isLifelineError(error) || error.code !== 'ENCODE_FAILED') throw error
    items[at] = portable(items[at])
    return packr.pack(items)
  }
  return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength)
}

/**
 * A packed value read back. msgpackr reads binary data as views of what it reads: of a plain
 * Uint8Array, not of the reply's Buffer, whose `toJSON` would give a JSON client
 * `{ type: 'Buffer', data }` where it got `{ "0": …, "1": … }` before (a move, a room send).
 */
export function unpack(packed: Buffer): unknown {
  return packr.unpack(new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength))
}

/** A history stream entry (`XRANGE` reply) as a `RoomEntry`. */
export function entryOf(id: string, fields: Buffer[]): RoomEntry {
  let prev = ''
  let payload: Buffer = Buffer.alloc(0)
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = String(fields[i])
    if (name === 'p') prev = String(fields[i + 1])
    else if (name === 'm') payload = fields[i + 1] as Buffer
  }
  return { id, prev, payload }
}

/** A room entry's payload, packed `[uid, type, data, except]`, decoded (the uid is not read). */
export function decodeRoomMessage(payload: Buffer): RoomMessage {
  const [, type, data, except] = unpack(payload) as [string, string, unknown, string | null]
  return { type, data, except: except ?? undefined }
}

/**
 * Values written one after the other as netstrings (`<byte length>:<bytes>`) into one Buffer:
 * many values as one Redis argument, which a Lua script reads back with `string.find` and
 * `string.sub` (Redis' `cmsgpack` reads no binary strings).
 */
export class Netstrings {
  /**
   * Small enough to come from Node's shared pool (`Buffer.poolSize`): a write of an iteration
   * makes two, and a buffer of its own each (16 KiB then) was nearly half of packing its commits.
   * Doubles as needed.
   */
  private buffer = Buffer.allocUnsafe(1_024)
  private at = 0

  /** Bytes written so far. */
  get length(): number {
    return this.at
  }

  add(value: string | number | Buffer): void {
    if (typeof value === 'number') value = String(value)
    const length = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
    this.reserve(length + 12)
    // The length's digits by hand: a template string and a latin1 write each were a good part
    // of packing a send's six values.
    const buffer = this.buffer
    let at = this.at
    let digits = 1
    for (let rest = length; rest >= 10; rest = Math.floor(rest / 10)) digits++
    for (let i = digits - 1, rest = length; i >= 0; i--, rest = Math.floor(rest / 10)) {
      buffer[at + i] = 0x30 + (rest % 10)
    }
    at += digits
    buffer[at++] = 0x3a // :
    if (typeof value === 'string') buffer.write(value, at)
    else buffer.set(value, at)
    this.at = at + length
  }

  /** The values written (a view of the buffer: add nothing after). */
  done(): Buffer {
    return this.buffer.subarray(0, this.at)
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.byteLength) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.byteLength * 2, this.at + bytes))
    this.buffer.copy(grown, 0, 0, this.at)
    this.buffer = grown
  }
}

/**
 * How a kept envelope is stored: a room message as `R<id> <room>` (its payload is in the room's
 * history, once for every member; a packed envelope never starts with `R`), any other as
 * `[t, d]` packed.
 */
export function packEnvelope(envelope: JournaledEnvelope): Buffer | string {
  const ref = envelope.ref
  if (ref !== undefined) return `R${ref[1]} ${ref[0]}`
  if (!('d' in envelope)) return packr.pack([envelope.t])
  // Data msgpack cannot hold and JSON can (a `Map`, a symbol-valued property): only a JSON
  // session kept it (the msgpack codec refuses it when sent), so it is kept as that session's
  // client got it. Packed as it is, it came back changed on a move, or threw and failed the
  // whole write, every session's commit in it, and again on every retry.
  const data = portable(envelope.d)
  return packr.pack(
    data === undefined && envelope.d !== undefined ? [envelope.t] : [envelope.t, data],
  )
}

/**
 * Rooms and cursors as `[room, cursor]` pairs: any name survives, where a msgpack map read back
 * as an object would rename `__proto__`.
 */
export function packRooms(rooms: Record<string, string>): Buffer {
  return packr.pack(Object.entries(rooms))
}

/** `packRooms` read back, as an object without a prototype (a map of earlier versions too). */
export function unpackRooms(packed: Buffer | null | undefined): Record<string, string> {
  const result = Object.create(null) as Record<string, string>
  if (packed === null || packed === undefined) return result
  const value = packr.unpack(packed) as [string, string][] | Record<string, string>
  for (const [room, cursor] of Array.isArray(value) ? value : Object.entries(value)) {
    result[room] = cursor
  }
  return result
}
