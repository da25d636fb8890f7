// The resume scenario: a member of a room loses its link (its server stays up) while `history`
// messages are sent to the room from the other server; it then comes back to the same server
// and gets what it missed. Timed from the moment its server is reachable again to the last
// missed message, with the Redis commands run meanwhile (`INFO commandstats` before and after).
import { createFaultProxy } from '@lifeline/test-utils'
import { wallClockMs } from '../lib/serverProcess.js'
import { openChatClient } from './clients.js'
import type { ServerKind } from './schema.js'
import { pad } from './schema.js'
import { callsBetween, commandCalls, scriptCalls, until } from './stats.js'

export interface ResumeResult {
  history: number
  /** Whether the server restored the state (socket.io: `socket.recovered`; Lifeline: always). */
  recovered: boolean
  /** Missed messages the member got after coming back. */
  received: number
  /** From the server reachable again to the last missed message; NaN when none came. */
  ms: number
  /** Redis commands run by the servers over that time, those Lua scripts ran included. */
  redisCommands: number
  /** Of which script calls (`EVALSHA`, `EVAL`). */
  redisScripts: number
  /** The most called ones, `[command, calls]`. */
  topCommands: Array<[string, number]>
}

/** How long a member that was not recovered is watched for messages anyway. */
const unrecoveredWatchMs = 1_000

export async function resume(
  kind: ServerKind,
  ports: readonly [number, number],
  redisPort: number,
  history: number,
  timeoutMs: number,
): Promise<ResumeResult> {
  const room = 'history'
  const proxy = await createFaultProxy({ targetPort: ports[1] })
  let received = 0
  let lastAt = NaN
  const away = await openChatClient(kind, proxy.port, () => {
    received += 1
    lastAt = wallClockMs()
  })
  await away.join(room)
  // A member on the same server, there throughout: the history has reached that server when it
  // has reached this one.
  let witnessed = 0
  const witness = await openChatClient(kind, ports[1], () => (witnessed += 1))
  await witness.join(room)
  const sender = await openChatClient(kind, ports[0], () => {})
  // One message before leaving, as any member in use has had: socket.io recovers only a client
  // that got a packet with an offset.
  sender.say({ room, from: 0, n: -1, at: wallClockMs(), pad })
  await until(() => received === 1 && witnessed === 1, timeoutMs, 'the first message')
  witnessed = 0
  lastAt = NaN

  proxy.refuse(true)
  proxy.cut()
  // Both ends see the reset at once; this leaves the servers time to handle it.
  await new Promise((resolve) => setTimeout(resolve, 200))
  received = 0
  lastAt = NaN
  for (let n = 0; n < history; n++) sender.say({ room, from: 0, n, at: wallClockMs(), pad })
  await until(() => witnessed >= history, timeoutMs, `the history to reach the member's server`)

  const before = await commandCalls(redisPort)
  const reconnected = away.nextConnect()
  const reachableAt = wallClockMs()
  proxy.refuse(false)
  const { recovered } = await reconnected
  await until(
    () => received >= history,
    recovered ? timeoutMs : unrecoveredWatchMs,
    'the missed messages',
  ).catch(() => {})
  const calls = callsBetween(before, await commandCalls(redisPort))

  for (const client of [away, witness, sender]) client.close()
  await proxy.close()
  return {
    history,
    recovered,
    received,
    ms: lastAt - reachableAt,
    redisCommands: calls.reduce((sum, [, count]) => sum + count, 0),
    redisScripts: scriptCalls(calls),
    topCommands: calls.slice(0, 4),
  }
}
