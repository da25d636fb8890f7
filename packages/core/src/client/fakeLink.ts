import { json } from '@lifeline/codec'
import { FakeWebSocket } from '../testing/fakeWebSocket.js'
import type { ManualClock } from '../testing/manualClock.js'
import type { Envelope } from '../protocol/envelope.js'
import { createClient } from './client.js'
import type { Client } from './client.js'
import type { ClientOptions } from './clientOptions.js'

/** For tests: a client on the fake socket and a manual clock, and the envelopes both ways. */
export const codec = json()

/** The envelopes the client sent on `socket`, decoded. */
export const received = (socket = FakeWebSocket.last): Envelope[] =>
  socket.sent.map((frame) => codec.decode(frame as string) as Envelope)

/** Delivers an envelope from the server on `socket`. */
export const deliver = (envelope: Envelope, socket = FakeWebSocket.last): void =>
  socket.receive(codec.encode(envelope))

/** A client on `FakeWebSocket` and `clock`, with jitter fixed at half the bound. */
export function createFakeClient(clock: ManualClock, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: 'ws://test.local/',
    ...options,
    socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options.socket },
  })
}
