import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { isLifelineError } from '@lifeline/core'
import type { ResetEvent } from '@lifeline/core'
import { useFixtures, waitDefaults, waitFor, withTimeout } from '@lifeline/test-utils'
import type { CountedPeer } from './harness.js'
import { Rig, seededRandom } from './harness.js'

const fx = useFixtures(afterEach)

describe('session expiry while disconnected', () => {
  it("tells 'reset' and loses nothing: unacknowledged messages are sent again as new", async () => {
    const rig = await new Rig(fx, { sessionTtlMs: 150 }).start()
    const atServer: number[] = []
    rig.onServer((server) =>
      server.on('connection', (peer) => peer.on('up', ({ n }) => atServer.push(n))),
    )
    const client = rig.client()
    const resets: ResetEvent[] = []
    client.events.on('reset', (event) => resets.push(event))
    for (let n = 1; n <= 10; n++) client.send('up', { n })
    await waitFor(() => atServer.length === 10 && client.unacked === 0, {
      message: 'first 10 acked',
    })

    // The client cannot come back until the session has expired; it keeps sending meanwhile.
    rig.proxy.refuse()
    rig.proxy.cut()
    for (let n = 11; n <= 20; n++) client.send('up', { n })
    await waitFor(() => rig.server.stats.sessions === 0, {
      message: 'session expired',
      timeoutMs: 5_000,
    })
    rig.proxy.refuse(false)

    await waitFor(() => resets.length === 1 && atServer.length >= 20, {
      message: () => `reset and all 20 (got ${atServer.length})`,
      timeoutMs: 5_000,
    })
    expect(resets[0]).toMatchObject({ resent: 10 })
    expect(atServer).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  }, 15_000)
})

describe('RPC under faults', () => {
  it('every request resolves or rejects with a typed error, none past its timeout', async () => {
    const rig = await new Rig(fx).start()
    rig.onServer((server) =>
      server.handle('echo', async ({ n, delayMs }) => {
        if (delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, delayMs))
        return { n }
      }),
    )
    const client = rig.client()
    const random = seededRandom(7)
    const timeoutMs = 1_500
    const outcomes: Promise<{ ok: boolean; code?: string; late: boolean }>[] = []
    for (let n = 1; n <= 300; n++) {
      const started = performance.now()
      const delayMs = random() < 0.1 ? 2_000 : undefined
      outcomes.push(
        client
          .request('echo', { n, ...(delayMs === undefined ? {} : { delayMs }) }, { timeoutMs })
          .then(
            (response) => {
              expect(response).toEqual({ n })
              return { ok: true, late: performance.now() - started > timeoutMs + 500 }
            },
            (error: unknown) => {
              expect(isLifelineError(error)).toBe(true)
              return {
                ok: false,
                code: (error as { code: string }).code,
                late: performance.now() - started > timeoutMs + 500,
              }
            },
          ),
      )
      if (n % 30 === 0) rig.proxy.cut()
      if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const results = await Promise.all(outcomes)
    const failures = results.filter((result) => !result.ok)
    console.info(
      `RPC under faults: ${results.length - failures.length} resolved, ${failures.length} rejected (${[
        ...new Set(failures.map((f) => f.code)),
      ].join(', ')})`,
    )
    expect(results.some((result) => result.late)).toBe(false)
    expect(failures.every((failure) => failure.code === 'REQUEST_TIMEOUT')).toBe(true)
    expect(results.filter((result) => result.ok).length).toBeGreaterThan(200)
  }, 60_000)
})

describe('soak', () => {
  it('8,000 forced reconnects with traffic: heap stays flat, nothing is left open', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const handlesBefore = process.getActiveResourcesInfo().length
    // Every reconnect is let in: past the burst, the address's rate (50 a second) refused
    // nearly all of them, and the soak spent a minute in backoff rather than in reconnects.
    const rig = await new Rig(fx, { connectionLimits: { connectionsPerSecond: Infinity } }).start()
    let received = 0
    let peer: CountedPeer | undefined
    rig.onServer((server) =>
      server.on('connection', (connected) => {
        peer = connected
        connected.on('up', () => received++)
      }),
    )
    const client = rig.client({ heartbeat: { intervalMs: 50, timeoutMs: 100 } })
    await waitFor(() => client.state.status === 'open', { message: 'open' })
    let echoed = 0
    client.on('down', () => echoed++)
    // Each reopening is awaited from its event: polled, a millisecond's pause per reconnect
    // took as long as the reconnect itself.
    let reopened = (): void => undefined
    client.events.on('statechange', (state) => {
      if (state.status === 'open') reopened()
    })

    // Both heaps are measured with one link live: a link still closing, with its sockets and
    // buffers, is not growth.
    const settled = async (): Promise<void> => {
      await rig.proxy.waitForConnections(1)
      await waitFor(() => rig.server.stats.connections === 1, { message: 'one connection' })
    }
    let heapAfterFirstThousand = 0
    for (let i = 1; i <= 8_000; i++) {
      client.send('up', { n: i })
      peer?.send('down', { n: i })
      const open = new Promise<void>((resolve) => (reopened = resolve))
      client.socket.reconnect()
      await withTimeout(open, waitDefaults.timeoutMs, `reopen ${i}`)
      if (i === 1_000) {
        await waitFor(() => received === 1_000, { message: 'first 1000 delivered' })
        await settled()
        gc()
        heapAfterFirstThousand = process.memoryUsage().heapUsed
      }
    }
    await waitFor(() => received === 8_000 && echoed === 8_000, {
      message: 'all delivered',
      timeoutMs: 10_000,
    })
    await settled()
    gc()
    const growth = process.memoryUsage().heapUsed - heapAfterFirstThousand
    console.info(`soak: heap grew ${(growth / 1024).toFixed(0)} KiB from reconnect 1,000 to 8,000`)
    // Some 300 B a reconnect. At this pace what the last reconnects leave holds up to some
    // 800 KiB for a moment (gone 100 ms later): over 7,000 reconnects, far from the bound.
    expect(growth).toBeLessThan(2 * 1024 * 1024)

    client.close()
    await fx.closeAll()
    await waitFor(() => process.getActiveResourcesInfo().length <= handlesBefore, {
      message: () => `handles released: ${process.getActiveResourcesInfo().join(', ')}`,
    })
  }, 120_000)
})
