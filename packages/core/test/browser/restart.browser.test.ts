import { afterEach, expect, it } from 'vitest'
import { ReconnectingWebSocket } from '../../src/index.js'
import type { Control } from './control.js'
import { openControl, servers, uniquePath, wsUrl } from './control.js'
import { nextEvent, quickRetry, until } from './waits.js'

const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function control(): Promise<Control> {
  const link = await openControl()
  cleanups.push(() => link.close())
  // Whatever a test did, the next one finds the server listening.
  cleanups.push(() => link.request({ op: 'restart' }))
  return link
}

it('delivers every message sent while the server restarts exactly once, in order', async () => {
  const link = await control()
  const path = uniquePath('restart')
  const socket = new ReconnectingWebSocket(wsUrl(servers.restartablePort, path), undefined, {
    ...quickRetry,
  })
  cleanups.push(() => socket.close())
  const statuses: string[] = []
  socket.addEventListener('statechange', (event) => statuses.push(event.state.status))
  const received = () => link.request({ op: 'received', path })
  const serverHasAll = async () => (await received()).messages.length >= sent

  let sent = 0
  let paused = false
  await nextEvent(socket, 'open')
  // The page sends on its own timer from here to the end, a few messages every tick.
  const ticker = setInterval(() => {
    for (let i = 0; !paused && i < 3; i++) socket.send(`m${++sent}`)
  }, 2)
  cleanups.push(() => clearInterval(ticker))
  await until(() => sent >= 60, 'sending while open')

  // Only around the stop itself does the page hold back. A frame that crosses the server's
  // close frame is accepted by send() (the page has not seen the close yet) and then discarded
  // by Chromium: raw WebSocket is at most once there, and only acks (protocol mode) can tell.
  // What this test proves is everything from the moment the page knows the link is gone.
  paused = true
  await until(serverHasAll, 'the server has what was sent before the stop')
  await link.request({ op: 'stop' })
  await until(() => socket.state.status === 'reconnecting', 'the page saw the stop')
  paused = false
  const sentWhenDown = sent
  await until(() => sent >= sentWhenDown + 60, 'sending while the server is down')
  expect(socket.queuedMessages).toBeGreaterThan(0)
  expect((await received()).messages).toHaveLength(sentWhenDown)

  await link.request({ op: 'restart' })
  await nextEvent(socket, 'open')
  const sentWhenBack = sent
  await until(() => sent >= sentWhenBack + 60, 'sending after the restart')
  clearInterval(ticker)

  await until(serverHasAll, `all ${sent} messages on the server`, 10_000)
  const { messages, connections } = await received()
  expect(messages).toEqual(Array.from({ length: sent }, (_, i) => `m${i + 1}`))
  expect(connections).toBe(2)
  expect(socket.queuedMessages).toBe(0)
  expect(statuses).toContain('reconnecting')
  expect(socket.readyState).toBe(ReconnectingWebSocket.OPEN)
})
