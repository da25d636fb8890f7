import { afterEach, expect, it } from 'vitest'
import type { Client } from '@lifeline/core'
import { createClient } from '../../src/index.js'
import type { LabSchema } from './servers.js'
import type { LabControl } from './control.js'
import { lifelineUrl, newRun, openControl, quickRetry } from './control.js'
import { nextEvent, until } from './waits.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function control(): Promise<LabControl> {
  const link = await openControl()
  cleanups.push(() => link.close())
  // Whatever a test did, the next one finds the server up.
  cleanups.push(() => link.request({ op: 'revive' }))
  return link
}

/** A client on the preset, and the numbers of its run echoed back to it, in arrival order. */
function connect(run: string): { client: Client<LabSchema>; echoed: number[] } {
  const client = createClient<LabSchema>({ url: lifelineUrl, socket: quickRetry })
  cleanups.push(() => client.close())
  const echoed: number[] = []
  client.on('said', ({ run: from, n }) => from === run && echoed.push(n))
  return { client, echoed }
}

const numbers = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

it('server killed: close 1006, reconnect, queued messages delivered once and in order', async () => {
  const link = await control()
  const run = newRun('killed')
  const { client, echoed } = connect(run)
  const send = (from: number, to: number) => {
    for (const n of numbers(from, to)) client.send('say', { run, n })
  }
  send(1, 50)
  await until(() => echoed.length === 50, 'the first 50 echoed')

  const closed = nextEvent(client.socket, 'close')
  await link.request({ op: 'kill' })
  expect(await closed).toMatchObject({ code: 1006, wasClean: false })
  send(51, 100)
  expect(client.state.status).toMatch(/connecting|reconnecting/)
  expect(client.unacked).toBe(50)

  const revivedAt = performance.now()
  await link.request({ op: 'revive' })
  await until(() => client.state.status === 'open', 'open again', 10_000)
  const recoveryMs = performance.now() - revivedAt
  expect(client.state).toMatchObject({ resumed: true })
  await until(() => echoed.length >= 100, 'all 100 echoed', 10_000)
  expect(echoed).toEqual(numbers(1, 100))
  expect(await link.request({ op: 'received', run })).toEqual(numbers(1, 100))
  console.info(`after a kill: open again ${recoveryMs.toFixed(0)} ms after the server came back`)
})

it('2,000 typed messages across 10 server restarts: 0 lost, 0 duplicated, in order', async () => {
  const link = await control()
  const run = newRun('restarts')
  const { client, echoed } = connect(run)
  const total = 2_000
  let sent = 0
  // The page sends on its own timer throughout, 10 messages a tick, whatever the link does.
  const ticker = setInterval(() => {
    for (let i = 0; i < 10 && sent < total; i++) client.send('say', { run, n: ++sent })
  }, 2)
  cleanups.push(() => clearInterval(ticker))

  const recoveries: number[] = []
  for (let restart = 0; restart < 10; restart++) {
    await until(() => sent >= (restart + 1) * (total / 12), `sending before restart ${restart + 1}`)
    const closed = nextEvent(client.socket, 'close', 10_000)
    await link.request({ op: 'restart' })
    const { code } = await closed
    const downAt = performance.now()
    expect(code).toBe(1012)
    await until(() => client.state.status === 'open', `open after restart ${restart + 1}`, 10_000)
    recoveries.push(performance.now() - downAt)
  }
  await until(() => sent === total, 'all sent', 10_000)
  await until(() => echoed.length >= total && client.unacked === 0, 'all echoed', 10_000)

  const received = await link.request({ op: 'received', run })
  expect(received).toEqual(numbers(1, total))
  expect(echoed).toEqual(numbers(1, total))
  const sorted = [...recoveries].sort((a, b) => a - b)
  console.info(
    `10 graceful restarts (1012): open again after a median ${sorted[5]?.toFixed(0)} ms, ` +
      `at most ${sorted[9]?.toFixed(0)} ms`,
  )
})
