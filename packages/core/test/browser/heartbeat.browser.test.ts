import { afterEach, expect, it } from 'vitest'
import { ReconnectingWebSocket } from '../../src/index.js'
import type { Control } from './control.js'
import { openControl, servers, wsUrl } from './control.js'
import { nextEvent, quickRetry, until } from './waits.js'

const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function control(): Promise<Control> {
  const link = await openControl()
  cleanups.push(() => link.close())
  // Whatever a test did, the next one finds the proxy forwarding. Stalled links are left to the
  // teardown, which resets them.
  cleanups.push(() => link.request({ op: 'blackhole', on: false }))
  return link
}

/** Closes the socket and waits for its close event, so no link is left half-closed. */
async function closeAndWait(socket: ReconnectingWebSocket): Promise<void> {
  if (socket.readyState === ReconnectingWebSocket.CLOSED) return
  const closed = nextEvent(socket, 'close')
  socket.close()
  await closed
}

it('detects a black-holed link within the heartbeat window and reconnects', async () => {
  const intervalMs = 400
  // A pong may be late on a loaded 2-core machine (the echo crosses the proxy, two processes and
  // the browser's own threads; 600 ms was seen to pass under a full test run beside other
  // work): a tight timeout would close the healthy link this test first keeps open.
  const timeoutMs = 1_500
  const windowMs = intervalMs + timeoutMs
  const link = await control()
  const acceptedBefore = (await link.request({ op: 'proxyCounters' })).accepted
  // Through the proxy to the echo server, which answers each ping with the ping itself.
  const socket = new ReconnectingWebSocket(wsUrl(servers.proxyPort), undefined, {
    ...quickRetry,
    connectionTimeoutMs: 1_000,
    heartbeat: { intervalMs, timeoutMs, ping: 'ping', isPong: (data) => data === 'ping' },
  })
  cleanups.push(() => closeAndWait(socket))
  const messages: unknown[] = []
  socket.onmessage = (event) => messages.push(event.data)
  await nextEvent(socket, 'open')

  // A quiet but healthy link stays open: pings go out, and their echoes count as pongs and are
  // consumed. Three pongs take more than the heartbeat window, on the same link.
  const counters = () => link.request({ op: 'proxyCounters' })
  const pongBytes = 'ping'.length + 2
  const start = await counters()
  await until(
    async () => (await counters()).bytesToClient >= start.bytesToClient + 3 * pongBytes,
    'three pongs',
  )
  expect(socket.readyState).toBe(ReconnectingWebSocket.OPEN)
  expect((await counters()).accepted).toBe(acceptedBefore + 1)
  expect(messages).toEqual([])

  // The last frame the page saw is this echo; from then on nothing passes either way.
  const echoed = nextEvent(socket, 'message')
  socket.send('last words')
  expect((await echoed).data).toBe('last words')
  const lastFrameAt = performance.now()
  await link.request({ op: 'blackhole', on: true })
  const closed = nextEvent(socket, 'close', windowMs * 3)
  const error = await nextEvent(socket, 'error', windowMs * 3)
  const detectionMs = performance.now() - lastFrameAt

  expect(error.error.code).toBe('HEARTBEAT_TIMEOUT')
  expect(await closed).toMatchObject({ code: 4000, reason: 'heartbeat timeout', wasClean: false })
  expect(detectionMs).toBeGreaterThanOrEqual(windowMs - 20)
  // 10 % is the heartbeat's own bound; the rest is slack for a loaded machine and the control
  // round trip, still far below a second window.
  expect(detectionMs).toBeLessThanOrEqual(windowMs * 1.1 + 200)
  console.info(`half-open link detected in ${detectionMs.toFixed(0)} ms (window ${windowMs} ms)`)

  await link.request({ op: 'blackhole', on: false })
  await nextEvent(socket, 'open')
  const { accepted } = await counters()
  expect(accepted).toBeGreaterThanOrEqual(acceptedBefore + 2)
  const echoedAgain = nextEvent(socket, 'message')
  socket.send('back')
  expect((await echoedAgain).data).toBe('back')
})
