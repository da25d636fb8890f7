import { afterEach, describe, expect, it } from 'vitest'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import type { CountedPeer } from './harness.js'
import { Rig, seededRandom } from './harness.js'

const fx = useFixtures(afterEach)
const total = 10_000

/**
 * Both sides send `total` numbered messages while the proxy cuts the link 20 times and the
 * server's listener restarts 5 times (sessions kept), at random points. Returns what each side
 * received, in arrival order.
 */
async function chaosRun(seed: number, reliable: boolean) {
  const random = seededRandom(seed)
  const rig = await new Rig(fx).start()
  const atServer: number[] = []
  const atClient: number[] = []
  let peer: CountedPeer | undefined
  let serverSent = 0
  rig.onServer((server) =>
    server.on('connection', (connected) => {
      peer = connected
      connected.on('up', ({ n }) => atServer.push(n))
    }),
  )
  const client = rig.client()
  client.on('down', ({ n }) => atClient.push(n))
  await waitFor(() => peer !== undefined, { message: 'first session', timeoutMs: 5_000 })

  // Faults at random points of the run, in a seeded order.
  const faults = [...Array<'cut'>(20).fill('cut'), ...Array<'restart'>(5).fill('restart')]
    .map((kind) => ({ kind, at: Math.floor(random() * total * 0.9) }))
    .sort((a, b) => a.at - b.at)

  let clientSent = 0
  let faultsApplied = 0
  let acceptedAtLastFault = 0
  const started = performance.now()
  while (clientSent < total || serverSent < total) {
    const burst = 1 + Math.floor(random() * 40)
    for (let i = 0; i < burst && clientSent < total; i++) {
      const n = ++clientSent
      client.send('up', { n }, { reliable })
    }
    // The server sends when it has a peer object; the producer follows restarts.
    const current = peer
    for (
      let i = 0;
      i < burst && serverSent < total && current !== undefined && !current.closed;
      i++
    ) {
      current.send('down', { n: serverSent + 1 }, { reliable })
      serverSent++
    }
    while (faults.length > 0 && (faults[0]?.at ?? Infinity) <= clientSent) {
      const fault = faults.shift()
      // Every fault hits a live, resumed link made after the previous fault: a link that is not
      // up yet (or one already cut but not yet noticed) cannot be cut again.
      await waitFor(
        () =>
          rig.proxy.counters.accepted > acceptedAtLastFault &&
          rig.proxy.connections > 0 &&
          client.state.status === 'open' &&
          peer?.connected === true,
        { message: 'a fresh link up before the next fault', timeoutMs: 10_000 },
      )
      acceptedAtLastFault = rig.proxy.counters.accepted
      faultsApplied++
      if (fault?.kind === 'cut') rig.proxy.cut()
      else {
        peer = undefined
        await rig.restart()
        await waitFor(() => peer !== undefined, {
          message: 'session back after restart',
          timeoutMs: 10_000,
        })
      }
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (reliable) {
    await waitFor(() => atServer.length >= total && atClient.length >= total, {
      message: () =>
        `all delivered (server ${atServer.length}/${total}, client ${atClient.length}/${total})`,
      timeoutMs: 60_000,
    })
  } else {
    // Fire-and-forget: once the link is up, one reliable marker each way, sent after everything
    // else on the same ordered link. When both have arrived, whatever was sent before them has
    // arrived too or is lost for good.
    await waitFor(() => client.state.status === 'open' && peer?.connected === true, {
      message: 'link up',
      timeoutMs: 10_000,
    })
    const marker = total + 1
    client.send('up', { n: marker }, { reliable: true })
    peer?.send('down', { n: marker }, { reliable: true })
    await waitFor(() => atServer.at(-1) === marker && atClient.at(-1) === marker, {
      message: 'the markers sent after everything else',
      timeoutMs: 10_000,
    })
    atServer.pop()
    atClient.pop()
  }
  const elapsedMs = performance.now() - started
  client.close()
  return { atServer, atClient, elapsedMs, faultsApplied, accepted: rig.proxy.counters.accepted }
}

const expected = Array.from({ length: total }, (_, i) => i + 1)

describe('chaos: cuts and restarts at random points', () => {
  it('delivers 10,000 messages each way exactly once, in order (reliable)', async () => {
    const seed = Number(process.env.LIFELINE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
    console.info(`chaos seed ${seed} (replay with LIFELINE_CHAOS_SEED=${seed})`)
    const { atServer, atClient, elapsedMs, faultsApplied, accepted } = await chaosRun(seed, true)
    console.info(
      `chaos: ${total} messages each way, ${faultsApplied} faults (20 cuts + 5 restarts) on live links, ${accepted} connections, ${elapsedMs.toFixed(0)} ms`,
    )
    expect(faultsApplied).toBe(25)
    // Each fault ended a live link: at least one connection per fault (the last may reconnect later).
    expect(accepted).toBeGreaterThanOrEqual(25)
    expect(atServer).toEqual(expected)
    expect(atClient).toEqual(expected)
  }, 120_000)

  it('negative control: fire-and-forget loses messages under the same faults', async () => {
    const seed = 20261125
    const { atServer, atClient } = await chaosRun(seed, false)
    const lost = 2 * total - atServer.length - atClient.length
    console.info(`fire-and-forget under the same faults lost ${lost} of ${2 * total} messages`)
    expect(lost).toBeGreaterThan(0)
    // What did arrive is still de-duplicated and ordered: the check itself works both ways.
    expect(new Set(atServer).size).toBe(atServer.length)
  }, 120_000)
})
