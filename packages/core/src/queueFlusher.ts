import type { Clock, TimerHandle } from './clock.js'
import type { SendQueue } from './sendQueue.js'
import type { WebSocketData, WebSocketLike } from './webSocketLike.js'
import { readyStates } from './webSocketLike.js'

/** A flush gives the event loop back after this long, so a huge backlog cannot freeze it. */
const flushSliceMs = 8
/** How often a flush paused by backpressure looks at `bufferedAmount` again. */
const drainPollMs = 1

/**
 * Writes a send queue into an open socket, in order. Yields to the event loop every
 * `flushSliceMs`, and pauses while the socket holds more than `highWaterMarkBytes`, so a 100k
 * backlog neither freezes the process nor gets copied into the socket's buffer at once.
 */
export class QueueFlusher {
  private timer: TimerHandle | undefined

  constructor(
    private readonly queue: SendQueue<WebSocketData>,
    private readonly clock: Clock,
    private readonly highWaterMarkBytes: number,
    /** The socket to write to, or `undefined` while the link is not open. */
    private readonly openSocket: () => WebSocketLike | undefined,
    private readonly onSendError: (error: unknown) => void,
  ) {}

  /** Flushes soon (on a timer), unless a flush is already pending. */
  schedule(): void {
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.flush, 0)
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Writes what the socket takes now and schedules the rest. */
  flush = (): void => {
    this.cancel()
    const socket = this.openSocket()
    if (socket === undefined) return
    const { clock, queue } = this
    const started = clock.now()
    let written = 0
    while (queue.length > 0) {
      // Not open any more: its close event is on the way; the rest waits for the next link.
      if (socket.readyState !== readyStates.OPEN) return
      if (socket.bufferedAmount > this.highWaterMarkBytes) {
        this.timer = clock.setTimeout(this.flush, drainPollMs)
        return
      }
      try {
        socket.send(queue.peek() as WebSocketData)
      } catch (error) {
        this.onSendError(error)
        return
      }
      queue.shift()
      if ((++written & 255) === 0 && clock.now() - started >= flushSliceMs) {
        this.timer = clock.setTimeout(this.flush, 0)
        return
      }
    }
  }
}
