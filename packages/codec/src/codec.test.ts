import { describe, expect, it } from 'vitest'
import { codecNames, selectCodec, type Codec } from './codec.js'
import { json } from './json.js'
import { msgpack } from './msgpack/index.js'

describe('codecNames', () => {
  it('are the subprotocols of wire protocol v1', () => {
    expect(codecNames).toEqual({ json: 'lifeline.v1.json', msgpack: 'lifeline.v1.msgpack' })
    expect(json().name).toBe(codecNames.json)
    expect(msgpack().name).toBe(codecNames.msgpack)
  })

  it('go with the kind of frame each codec produces', () => {
    expect(json().binary).toBe(false)
    expect(msgpack().binary).toBe(true)
    expect(typeof json().encode({ a: 1 })).toBe('string')
    expect(msgpack().encode({ a: 1 })).toBeInstanceOf(Uint8Array)
  })
})

describe('selectCodec', () => {
  const jsonCodec = json()
  const msgpackCodec = msgpack()
  const supported: readonly Codec[] = [msgpackCodec, jsonCodec]

  it('picks the codec the server chose (client side: socket.protocol)', () => {
    expect(selectCodec('lifeline.v1.json', supported)).toBe(jsonCodec)
    expect(selectCodec('lifeline.v1.msgpack', supported)).toBe(msgpackCodec)
  })

  it('picks by the order of `supported` among several offers (server side)', () => {
    const offered = new Set(['lifeline.v1.json', 'lifeline.v1.msgpack'])
    expect(selectCodec(offered, supported)).toBe(msgpackCodec)
    expect(selectCodec(offered, [jsonCodec, msgpackCodec])).toBe(jsonCodec)
    expect(selectCodec(['chat', 'lifeline.v1.json'], supported)).toBe(jsonCodec)
  })

  it('reads a raw Sec-WebSocket-Protocol header', () => {
    expect(selectCodec('chat, lifeline.v1.json ,x', supported)).toBe(jsonCodec)
  })

  it('returns undefined when nothing matches, so the caller applies its own policy', () => {
    expect(selectCodec('', supported)).toBeUndefined()
    expect(selectCodec(null, supported)).toBeUndefined()
    expect(selectCodec(undefined, supported)).toBeUndefined()
    expect(selectCodec('lifeline.v2.json', supported)).toBeUndefined()
    expect(selectCodec('LIFELINE.V1.JSON', supported)).toBeUndefined()
    expect(selectCodec('lifeline.v1.json', [])).toBeUndefined()
  })
})
