/**
 * The page's lifecycle, in a top-level page of its own (`/lab.html`, see `commands.ts`): offline
 * for its whole browser context, the back/forward cache, a page whose scripts are stopped, and
 * timers that run late as Chromium's do in a hidden page.
 */
import { afterEach, expect, it } from 'vitest'
import { commands } from 'vitest/browser'
import type { LabControl } from './control.js'
import { awayUrl, labUrl, lifelineUrl, newRun, openControl } from './control.js'
import { until } from './waits.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function control(): Promise<LabControl> {
  const link = await openControl()
  cleanups.push(() => link.close())
  cleanups.push(() => link.request({ op: 'revive' }))
  cleanups.push(() => link.request({ op: 'blackhole', on: false }))
  return link
}

/** Opens the lab page and connects its client with `options` (see `lab.ts`). */
async function openLab(options: Record<string, unknown> = {}): Promise<string> {
  const run = newRun('lab')
  await commands.labOpen(labUrl)
  cleanups.push(() => commands.labClose())
  await commands.labEval(`lab.connect(${JSON.stringify({ url: lifelineUrl, run, ...options })})`)
  await labUntil(`lab.status() === 'open'`, 'the lab client open')
  return run
}

const lab = <T>(expression: string) => commands.labEval(expression) as Promise<T>

async function labUntil(expression: string, what: string, timeoutMs = 5_000): Promise<void> {
  await until(async () => (await lab<boolean>(expression)) === true, what, timeoutMs)
}

const numbers = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

it('burns no attempt while offline, and connects at once when back online', async () => {
  const link = await control()
  const run = await openLab({ retry: { initialDelayMs: 200, maxDelayMs: 200 } })
  await commands.labOffline(true)
  cleanups.push(() => commands.labOffline(false))
  await link.request({ op: 'kill' })
  await labUntil(`lab.log.includes('close:1006:')`, 'the link lost')
  await link.request({ op: 'revive' })
  const attempts = await lab<number>('lab.attempts.count')
  await lab('lab.send(1, 20)')
  // The backoff's delay has run out and the socket parked: still waiting to reconnect, with no
  // timer left. Online, that timer would have made an attempt (and left its connection timeout
  // pending), so this is the moment an attempt would have shown.
  await labUntil(
    `lab.status() === 'reconnecting' && lab.clock.pending === 0`,
    'the reconnect parked once its delay ran out',
  )
  expect(await lab<number>('lab.attempts.count')).toBe(attempts)
  expect(await lab<string>('lab.status()')).toMatch(/connecting|reconnecting/)

  const onlineAt = Date.now()
  await commands.labOffline(false)
  await labUntil(`lab.status() === 'open'`, 'open once online')
  const reconnectMs = (await lab<number>('lab.events.open')) - onlineAt
  expect(await lab<number>('lab.attempts.count')).toBe(attempts + 1)
  expect(reconnectMs).toBeLessThan(2_500)
  await labUntil('lab.received.length === 20', 'the 20 queued messages echoed')
  expect(await lab('lab.received')).toEqual(numbers(1, 20))
  expect(await link.request({ op: 'received', run })).toEqual(numbers(1, 20))
  console.info(`online: open again ${reconnectMs} ms after the browser was back online`)
})

it('leaves the page eligible for the back/forward cache and resumes, nothing lost', async () => {
  const link = await control()
  const run = await openLab()
  await lab('lab.send(1, 20)')
  await labUntil('lab.received.length === 20', 'the first 20 echoed')
  // Sent as the page goes away: they may or may not reach the server before the link closes.
  await lab('lab.send(21, 30)')
  const { persisted, log } = await commands.labAwayAndBack(awayUrl)
  expect(persisted).toBe(true)
  expect(await lab('lab.notRestoredReasons()')).toBeNull()
  await labUntil(`lab.status() === 'open'`, 'open again after the restore')
  // Closed cleanly as the page went into the cache, and back at once with nothing to report.
  const events = await lab<string[]>('lab.log')
  expect(log.slice(log.indexOf('pagehide:true'))[1]).toBe('close:1000:page hidden')
  expect(events.filter((event) => /^(error|close)/.test(event))).toEqual(['close:1000:page hidden'])
  await lab('lab.send(31, 40)')
  await labUntil('lab.received.length >= 40', 'all 40 echoed')
  expect(await lab('lab.received')).toEqual(numbers(1, 40))
  expect(await link.request({ op: 'received', run })).toEqual(numbers(1, 40))
  expect(await lab('lab.unacked()')).toBe(0)
})

it('control: with core alone, the browser kills the link in the cache; restored, it errors with 1006', async () => {
  // Chromium (156 here) lets a page with an open WebSocket into the cache and closes the socket
  // itself, without a close frame: what the preset replaces with a clean close and a resume.
  await control()
  await openLab({ preset: false })
  const { persisted } = await commands.labAwayAndBack(awayUrl)
  expect(persisted).toBe(true)
  await labUntil(`lab.status() === 'open'`, 'open again after the restore')
  const log = await lab<string[]>('lab.log')
  const restored = log.slice(log.indexOf('pageshow:true'))
  expect(restored).toEqual(expect.arrayContaining(['error:CONNECTION_ERROR', 'close:1006:']))
  expect(log).not.toContain('close:1000:page hidden')
})

const heartbeat = { intervalMs: 400, timeoutMs: 200 }

it('a page stopped for 1 s through the DevTools protocol keeps its live link', async () => {
  await control()
  await openLab({ heartbeat })
  await lab('lab.send(1, 5)')
  await labUntil('lab.received.length === 5', 'the first 5 echoed')
  const resumedAt = await commands.labPause(1_000)
  expect(await lab<number>('lab.timers.longestGapMs')).toBeGreaterThanOrEqual(900)
  await lab('lab.send(6, 10)')
  await labUntil('lab.received.length === 10', 'echoes after the freeze')
  // Two heartbeat windows after the freeze, the link is the same one: nothing was taken for dead.
  await until(async () => Date.now() - resumedAt > 2 * 600, 'two heartbeat windows')
  const log = await lab<string[]>('lab.log')
  expect(log.filter((event) => /^(error|close)/.test(event))).toEqual([])
  expect(await lab<string>('lab.status()')).toBe('open')
})

it('detects a half-open link with timers throttled to 1 s, and measures it', async () => {
  const link = await control()
  // Timers fire on the next whole second, as Chromium's do in a hidden page; a live link stays.
  await openLab({ heartbeat, timerAlignMs: 1_000 })
  // Three checks, a second apart, each late by the heartbeat's own measure and each past the
  // 600 ms window since the one before: the first pings, the next ones read the pong. A live
  // link that a late timer misjudged would be gone by the last of them.
  const firedAtOpen = await lab<number>('lab.clock.fired')
  await labUntil(`lab.clock.fired >= ${firedAtOpen + 3}`, 'three heartbeat checks')
  expect(await lab<string[]>('lab.log')).not.toContain('error:HEARTBEAT_TIMEOUT')
  expect(await lab<string>('lab.status()')).toBe('open')
  await lab('lab.send(1, 1)')
  await labUntil('lab.received.length === 1', 'an echo')
  const lastFrameAt = Date.now()
  await link.request({ op: 'blackhole', on: true })
  await labUntil(`'HEARTBEAT_TIMEOUT' in lab.events`, 'the half-open link detected', 5_000)
  const detectionMs = (await lab<number>('lab.events.HEARTBEAT_TIMEOUT')) - lastFrameAt
  // With a check a second, four checks at most: the one that reads the last frame, the one
  // that pings, the one that suspects the link (it ran late) and the one that confirms. 4 s,
  // and a second of slack for a loaded machine.
  expect(detectionMs).toBeGreaterThanOrEqual(600)
  expect(detectionMs).toBeLessThanOrEqual(5_000)
  console.info(
    `half-open link, timers throttled to 1 s: detected in ${detectionMs} ms (window 600 ms)`,
  )
})

it('detects a link that died while the page was stopped, soon after it runs again', async () => {
  const link = await control()
  await openLab({ heartbeat })
  await link.request({ op: 'blackhole', on: true })
  const resumedAt = await commands.labPause(1_000)
  expect(await lab<number>('lab.timers.longestGapMs')).toBeGreaterThanOrEqual(900)
  await labUntil(`'HEARTBEAT_TIMEOUT' in lab.events`, 'the half-open link detected')
  const detectionMs = (await lab<number>('lab.events.HEARTBEAT_TIMEOUT')) - resumedAt
  expect(detectionMs).toBeLessThanOrEqual(600 + 400)
  console.info(`half-open link, page stopped 1 s: detected ${detectionMs} ms after it ran again`)
})
