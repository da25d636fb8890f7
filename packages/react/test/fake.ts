import { act, cleanup } from '@testing-library/react'
import { createElement, StrictMode } from 'react'
import type { ReactNode } from 'react'
import { afterEach, beforeEach } from 'vitest'
import { json } from '@lifeline/codec'
import { createClient } from '@lifeline/core'
import type { Client, ClientOptions, RpcMethod } from '@lifeline/core'
import { FakeWebSocket, ManualClock } from '@lifeline/core/testing'

/** The schema the tests speak. */
export interface Chat {
  client: { say: { text: string } }
  server: { said: { text: string; room: string; n: number }; tick: number }
  rpc: { add: RpcMethod<{ a: number; b: number }, number> }
}

const codec = json()

interface Envelope {
  t: string
  d?: unknown
  s?: number
  a?: number
}

/** A client on the fake socket and a manual clock, created closed unless told otherwise. */
export function createFakeClient(
  clock: ManualClock,
  options: Partial<ClientOptions> = {},
): Client<Chat> {
  return createClient<Chat>({
    url: 'ws://test.local/',
    startClosed: true,
    heartbeat: false,
    ...options,
    socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options.socket },
  })
}

/** The envelopes the client sent on `socket`, decoded. */
export const received = (socket = FakeWebSocket.last): Envelope[] =>
  socket.sent.map((frame) => codec.decode(frame as string) as Envelope)

/** Delivers an envelope from the server. */
export const deliver = (envelope: Envelope, socket = FakeWebSocket.last): void =>
  socket.receive(codec.encode(envelope))

/** Opens the current fake socket and completes the handshake. */
export function welcome(socket = FakeWebSocket.last): void {
  if (socket.readyState === FakeWebSocket.CONNECTING) socket.accept('lifeline.v1.json')
  deliver({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } }, socket)
}

/** The server's reliable messages, numbered as a session would. */
export function serverSender() {
  let s = 0
  return (t: string, d: unknown) => deliver({ t, d, s: ++s })
}

export const strict = (node: ReactNode) => createElement(StrictMode, null, node)

/** A fresh registry of fake sockets and a manual clock for each test, and the tree unmounted after. */
export function freshFakes(): { clock: ManualClock } {
  const fakes = { clock: new ManualClock(1_000) }
  beforeEach(() => {
    FakeWebSocket.reset()
    fakes.clock = new ManualClock(1_000)
  })
  afterEach(cleanup)
  return fakes
}

/**
 * Waits out the deferred close of a provider released before the call, `closeDelayMs` later (20
 * in these tests): a timer of the same delay set now runs after the provider's, since timers of
 * one delay run in the order they were set. A close that was due has happened; one cancelled,
 * or never set, has not.
 */
export const afterCloseDelay = (closeDelayMs = 20) =>
  act(() => new Promise((resolve) => setTimeout(resolve, closeDelayMs)))

export { FakeWebSocket, ManualClock }
