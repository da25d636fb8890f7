import { startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, expect, it } from 'vitest'
import { RawClient, startNode } from './harness.js'

const fx = useFixtures(afterEach)

it('answers a request whose handler outlasts the handoff before the claim takes the session', async () => {
  const redis = fx.add(await startRedisServer())
  const options = { handoffTimeoutMs: 500 }
  const a = await startNode(fx, redis, options)
  const b = await startNode(fx, redis, options)
  let started = false
  const handle = a.server.handle.bind(a.server) as (m: string, h: () => unknown) => void
  handle('never', () => {
    started = true
    return new Promise(() => undefined)
  })
  const { client, welcome } = await RawClient.connect(fx, a.server.port)
  client.send({ t: '$req', d: { id: 1, m: 'never' }, s: 1 })
  await waitFor(() => started, { message: 'the handler started' })
  // Processed and stored so: the claim drops the client's resend as a duplicate.
  const back = await RawClient.connect(fx, b.server.port, { sid: welcome.sid, a: 0 })
  expect(back.welcome).toMatchObject({ resumed: true, a: 1 })
  await waitFor(() => back.client.received.some((frame) => frame.t === '$res'), {
    message: 'the request answered (CLOSED) after the move',
    timeoutMs: 5_000,
  })
  expect(back.client.received.find((frame) => frame.t === '$res')?.d).toMatchObject({
    id: 1,
    e: { code: 'CLOSED' },
  })
})
