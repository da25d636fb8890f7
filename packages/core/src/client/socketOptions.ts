import type { Clock } from '../clock.js'
import { defaultShouldReconnect } from '../closeCodes.js'
import type { ReconnectingWebSocketOptions } from '../options.js'
import { controlTypes, protocolCloseCodes } from '../protocol/envelope.js'
import type { ClientOptions } from './clientOptions.js'
import { clientDefaults } from './clientOptions.js'

/**
 * The socket options a client runs its `ReconnectingWebSocket` with. Created closed, so the
 * client's listeners are in place before the first attempt. In protocol mode the client's
 * reliable stream replaces the socket's queue, 4409 is not fought, and the heartbeat pings with
 * `$ping` frames made by `encodePing`.
 */
export function clientSocketOptions(
  options: ClientOptions,
  protocolMode: boolean,
  clock: Clock,
  encodePing: (envelope: { t: string; d: { ts: number } }) => string | Uint8Array,
): ReconnectingWebSocketOptions {
  const socket = { ...options.socket, startClosed: true }
  if (!protocolMode) return socket
  const heartbeat = options.heartbeat ?? clientDefaults.heartbeat
  return {
    ...socket,
    // A frame the socket cannot write now must not wait in the socket's own queue and go out
    // before the next `$hello`: the reliable stream keeps and resends what matters.
    queue: { maxMessages: 0, maxBytes: 0, overflow: 'drop-newest' },
    // 4409: a newer connection took the session over; ours must not fight it.
    shouldReconnect:
      socket.shouldReconnect ??
      ((event) =>
        event.code !== protocolCloseCodes.sessionTakenOver && defaultShouldReconnect(event)),
    heartbeat:
      heartbeat === false
        ? false
        : {
            ...heartbeat,
            // Any inbound frame (the `$pong` included) counts as life; the pong also gives RTT.
            ping: () => encodePing({ t: controlTypes.ping, d: { ts: clock.now() } }),
          },
  }
}
