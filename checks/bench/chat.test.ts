import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startRedisServer } from '@lifeline/test-utils'
import type { RedisServerFixture } from '@lifeline/test-utils'
import { startServer } from '../../bench/lib/serverProcess.js'
import type { ServerProcess } from '../../bench/lib/serverProcess.js'
import { chat } from '../../bench/scaleout/traffic.js'

// The scale-out chat scenario counts the measured round's deliveries until it has them all: a
// warm-up message still in flight when that round starts must not count in it, or the round
// ends early and reads as faster than it was.
const serverScript = fileURLToPath(new URL('../../bench/scaleout/server.ts', import.meta.url))
let redis: RedisServerFixture
let server: ServerProcess<{ port: number; pid: number }>

beforeAll(async () => {
  redis = await startRedisServer()
  // One Lifeline process, no Redis for the server (the scenario reads Redis' counters).
  server = await startServer(serverScript, ['lifeline-local', redis.url])
})

afterAll(async () => {
  await server?.stop()
  await redis?.close()
})

it('counts only the measured round when the warm-up share rounds to no message', async () => {
  // 2 messages each at the default share of 0.2: a warm-up of round(0.4) = 0 messages.
  const { port, pid } = server.info
  const result = await chat('lifeline-local', [port, port], redis.port, 2, 3, 2, 20_000, [pid])
  expect(result.timedOut).toBe(false)
  expect(result.expected).toBe(2 * 3 * 2 * 3)
  expect(result.delivered).toBe(result.expected)
  expect(result.duplicates).toBe(0)
  expect(result.warmUp.delivered).toBe(0)
})
