// Sessions per GiB of Redis memory: `n` clients connect (alternately to either server, each
// through a fault proxy) and join a room; then every link is cut and refused, so each session
// waits in Redis for its client, which is what the memory is for. `used_memory` and the key
// count are read before the clients connect, while they are connected, and once they are away.
import { createFaultProxy, sendRedisCommand } from '@lifeline/test-utils'
import { openChatClient } from './clients.js'
import type { ServerKind } from './schema.js'
import { openMany, usedMemory } from './stats.js'

export interface SessionsResult {
  sessions: number
  /** `used_memory` growth per session while connected, in bytes. */
  connectedBytesPerSession: number
  /** The same once every client is away and its session waits for it. */
  awayBytesPerSession: number
  /** Redis keys per waiting session. */
  keysPerSession: number
}

/** Time given to the servers to write the sessions of the clients that left. */
const settleMs = 1_000

export async function sessions(
  kind: ServerKind,
  ports: readonly [number, number],
  redisPort: number,
  n: number,
): Promise<SessionsResult> {
  const proxies = await Promise.all(ports.map((port) => createFaultProxy({ targetPort: port })))
  const keys = async () => Number(await sendRedisCommand(redisPort, ['DBSIZE']))
  const [memoryBefore, keysBefore] = [await usedMemory(redisPort), await keys()]
  const clients = await openMany(n, async (i) => {
    const client = await openChatClient(kind, proxies[i % 2]?.port ?? 0, () => {})
    await client.join('lobby')
    return client
  })
  await new Promise((resolve) => setTimeout(resolve, settleMs))
  const memoryConnected = await usedMemory(redisPort)

  for (const proxy of proxies) {
    proxy.refuse(true)
    proxy.cut()
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs))
  const [memoryAway, keysAway] = [await usedMemory(redisPort), await keys()]

  for (const client of clients) client.close()
  await Promise.all(proxies.map((proxy) => proxy.close()))
  return {
    sessions: n,
    connectedBytesPerSession: (memoryConnected - memoryBefore) / n,
    awayBytesPerSession: (memoryAway - memoryBefore) / n,
    keysPerSession: (keysAway - keysBefore) / n,
  }
}
