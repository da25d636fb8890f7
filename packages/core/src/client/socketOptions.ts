import type { ReconnectingWebSocketOptions } from '../options.js'
import { defaultShouldReconnect } from '../closeCodes.js'
import { sessionTakenOverCode } from '../protocol/envelope.js'
import type { ClientOptions } from './clientOptions.js'

/**
 * The socket options a client runs its `ReconnectingWebSocket` with. Created closed, so the
 * client's listeners are in place before the first attempt. In protocol mode the client's
 * reliable stream replaces the socket's queue, 4409 is not fought, and the heartbeat pings with
 * the `$ping` frames `ping` makes.
 */
export function clientSocketOptions(
  options: ClientOptions,
  protocolMode: boolean,
  ping: () => string | Uint8Array,
): ReconnectingWebSocketOptions {
  const socket = { ...options.socket, startClosed: true }
  const { heartbeat } = options
  return protocolMode
    ? {
        ...socket,
        // A frame the socket cannot write now must not wait in the socket's own queue and go out
        // before the next `$hello`: the reliable stream keeps and resends what matters.
        queue: { maxMessages: 0, maxBytes: 0, overflow: 'drop-newest' },
        // 4409: a newer connection took the session over; ours must not fight it.
        shouldReconnect:
          socket.shouldReconnect ??
          ((event) => event.code !== sessionTakenOverCode && defaultShouldReconnect(event)),
        // Any inbound frame (the `$pong` included) counts as life; the pong also gives RTT. The
        // socket's heartbeat defaults are the client's (25 s and 10 s).
        heartbeat: heartbeat !== false && { ...heartbeat, ping },
      }
    : socket
}
