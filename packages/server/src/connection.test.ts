import { EventEmitter } from 'node:events'
import { waitFor } from '@lifeline/test-utils'
import { describe, expect, it } from 'vitest'
import type { WebSocket } from 'ws'
import { dropUnanswered, dropWorkBytes } from './connection.js'
import { Turns } from './turns.js'

/** A socket whose peer never answers the close frame: it notes the turn it was terminated in. */
function unanswered(turns: Turns, droppedIn: number[]): WebSocket {
  const socket = Object.assign(new EventEmitter(), {
    readyState: 2 as number,
    terminate() {
      droppedIn.push(turns.turn)
      socket.readyState = 3
      socket.emit('close')
    },
  })
  return socket as unknown as WebSocket
}

describe('dropUnanswered', () => {
  it('lets go of sockets whose close comes due together over several turns', async () => {
    // Two drops per turn.
    const turns = new Turns(64 * 1024, 2 * dropWorkBytes)
    const droppedIn: number[] = []
    const sockets = Array.from({ length: 6 }, () => unanswered(turns, droppedIn))
    for (const socket of sockets) dropUnanswered(socket, 0, turns)
    await waitFor(() => droppedIn.length === 6, { message: 'all six dropped' })
    const perTurn = new Map<number, number>()
    for (const turn of droppedIn) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
    // Two a turn at most, however the timers came due (together, or over several iterations
    // on a busy machine).
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2)
    expect(perTurn.size).toBeGreaterThanOrEqual(3)
  })

  it('does not drop a socket that closed while it waited in line', async () => {
    const turns = new Turns(64 * 1024, 2 * dropWorkBytes)
    const droppedIn: number[] = []
    const socket = unanswered(turns, droppedIn)
    // The socket closes as its drop takes its place in line, before its turn comes.
    const defer = turns.defer.bind(turns)
    turns.defer = (task) => {
      turns.defer = defer
      ;(socket as unknown as { readyState: number }).readyState = 3
      defer(task)
    }
    dropUnanswered(socket, 0, turns)
    await waitFor(() => turns.defer === defer, { message: 'the drop in line' })
    const other = unanswered(turns, droppedIn)
    dropUnanswered(other, 0, turns)
    await waitFor(() => other.readyState === 3, { message: 'the other dropped' })
    // Only the other was terminated.
    expect(droppedIn).toHaveLength(1)
  })
})
