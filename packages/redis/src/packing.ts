import { Packr } from 'msgpackr/pack'
import type { RoomEntry, RoomMessage } from './roomFeed.js'

/** Values as msgpack: a payload's binary data (Uint8Array) survives, unlike JSON. */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true })

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

/** A room entry's payload, packed `[uid, type, data, except]`, decoded. */
export function decodeRoomMessage(payload: Buffer): RoomMessage {
  const [uid, type, data, except] = packr.unpack(payload) as [
    string,
    string,
    unknown,
    string | null,
  ]
  return { uid, type, data, except: except ?? undefined }
}
