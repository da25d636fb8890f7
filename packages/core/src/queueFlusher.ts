import type { Clock } from './clock.js'
import type { SendQueue } from './sendQueue.js'
import type { WebSocketData, WebSocketLike } from './webSocketLike.js'

/** A flush gives the event loop back after this long, so a huge backlog cannot freeze it. */
const flushSliceMs = 5

/** The longest wait between two looks at a socket whose buffer does not drain. */
const maxPollMs = 100

/**
 * Writes a send queue into an open socket, in order, and says when to go on: `undefined` when
 * there is nothing more to do now (queue empty, or the socket is not open any more: its close
 * event is on the way and the rest waits for the next link), `0` after a slice of
 * `flushSliceMs`, or the ms until the next look while the socket holds more than
 * `highWaterMarkBytes`. So a 100k backlog neither freezes the process nor gets copied into the
 * socket's buffer at once. Throws what `socket.send` throws; the failed message stays queued.
 *
 * Browsers tell nothing when the buffer drains, so a stalled socket is polled; `lastMs` is what
 * the previous call returned. The poll starts at 1 ms and waits an eighth longer each time
 * nothing could be written, up to `maxPollMs`: a link that TCP keeps for minutes without
 * draining costs about ten timers a second, not a thousand, and one that drains is written
 * within an eighth of the time it was stalled (at most `maxPollMs`).
 */
export function flushQueue(
  queue: SendQueue<WebSocketData>,
  socket: WebSocketLike,
  clock: Clock,
  highWaterMarkBytes: number,
  lastMs?: number,
): number | undefined {
  const started = clock.now()
  for (let written = 1; queue.length > 0 && socket.readyState === 1; written++) {
    if (socket.bufferedAmount > highWaterMarkBytes)
      return written > 1 ? 1 : Math.min(maxPollMs, (lastMs as number) * 1.125 || 1)
    socket.send(queue.peek() as WebSocketData)
    queue.shift()
    // Reading the clock costs more than a send: look at it every 256 messages.
    if ((written & 255) === 0 && clock.now() - started >= flushSliceMs) return 0
  }
  return undefined
}
