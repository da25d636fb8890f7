/**
 * The page's lifecycle, in a top-level page of its own (`/lab.html`, see `commands.ts`): offline
 * for its whole browser context, the back/forward cache, a page hidden (its window minimized)
 * and frozen through the DevTools protocol, and timers that run late as in a hidden page.
 */
import { afterEach, expect, it } from 'vitest'
import { commands } from 'vitest/browser'
import type { LabControl } from './control.js'
import { awayUrl, labUrl, lifelineUrl, newRun, openControl } from './control.js'
import { pageWaitMs, until } from './waits.js'

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
async function openLab(options: Record<string, unknown> = {}, hideable = false): Promise<string> {
  const run = newRun('lab')
  await commands.labOpen(labUrl, hideable)
  cleanups.push(() => commands.labClose())
  await commands.labEval(`lab.connect(${JSON.stringify({ url: lifelineUrl, run, ...options })})`)
  await labUntil(`lab.status() === 'open'`, 'the lab client open')
  return run
}

const lab = <T>(expression: string) => commands.labEval(expression) as Promise<T>

async function labUntil(expression: string, what: string, timeoutMs = pageWaitMs): Promise<void> {
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

/** Hides the lab page (its window minimized): Chromium throttles its timers to one run a second. */
async function hide(): Promise<void> {
  await lab('lab.timers.longestGapMs = 0')
  await commands.labShow(false)
  cleanups.push(() => commands.labShow(true))
  await labUntil(`lab.log.includes('visibilitychange:hidden')`, 'the page hidden')
}

it('checks a link at once when the page is shown: dead since it was hidden, found in timeoutMs', async () => {
  const link = await control()
  // An interval longer than the test: only the check made when the page is shown can find it.
  await openLab({ heartbeat: { intervalMs: 20_000, timeoutMs: 1_000 } }, true)
  await lab('lab.send(1, 1)')
  await labUntil('lab.received.length === 1', 'an echo')
  await hide()
  await link.request({ op: 'blackhole', on: true })
  await labUntil('lab.timers.longestGapMs >= 900', 'timers throttled in the hidden page')
  expect(await lab<number[]>('lab.pings')).toEqual([])
  await commands.labShow(true)
  await labUntil(`'HEARTBEAT_TIMEOUT' in lab.events`, 'the half-open link detected')
  const shownAt = await lab<number>(`lab.events['visibilitychange:visible']`)
  const [pingAt = Infinity] = await lab<number[]>('lab.pings')
  const detectionMs = (await lab<number>('lab.events.HEARTBEAT_TIMEOUT')) - shownAt
  // The ping goes out with the event; the link is dead once the ping has had its timeoutMs
  // (one check later at most: a tenth of it), and the rest is slack for a loaded machine.
  expect(pingAt - shownAt).toBeLessThan(100)
  expect(detectionMs).toBeGreaterThanOrEqual(1_000)
  expect(detectionMs).toBeLessThan(3_000)
  await labUntil(`lab.status() === 'reconnecting' || lab.status() === 'connecting'`, 'reconnecting')
  console.info(
    `hidden page shown: ping after ${pingAt - shownAt} ms, dead link found after ${detectionMs} ms (timeoutMs 1000)`,
  )
})

it('freeze: closed cleanly, and on resume back at once with what was sent meanwhile, once, in order', async () => {
  const link = await control()
  const run = await openLab({ heartbeat: { intervalMs: 400, timeoutMs: 1_000 } }, true)
  await lab('lab.send(1, 5)')
  await labUntil('lab.received.length === 5', 'the first 5 echoed')
  await hide()
  await commands.labFreeze(true)
  cleanups.push(() => commands.labFreeze(false))
  await labUntil(`lab.log.includes('freeze:hidden')`, 'the page frozen')
  const frozenAt = Date.now()
  // The DevTools protocol still runs scripts in a frozen page: these are queued.
  await lab('lab.send(6, 10)')
  // Longer than a heartbeat window (1.4 s), so a misjudged live link would show.
  await until(async () => Date.now() - frozenAt >= 2_000, 'two seconds frozen')
  expect(await link.request({ op: 'received', run })).toEqual(numbers(1, 5))
  await commands.labFreeze(false)
  await labUntil('lab.received.length === 10', 'the messages queued while frozen echoed')
  await labUntil('lab.timers.longestGapMs >= 1_900', "the page's timers held while frozen")
  await commands.labShow(true)
  await lab('lab.send(11, 12)')
  await labUntil('lab.received.length === 12', 'echoes after the freeze')
  expect(await lab('lab.received')).toEqual(numbers(1, 12))
  expect(await link.request({ op: 'received', run })).toEqual(numbers(1, 12))
  // Closed cleanly as the page froze, and back at once on resume with nothing to report.
  const log = await lab<string[]>('lab.log')
  expect(log.filter((event) => /^(error|close)/.test(event))).toEqual(['close:1000:page hidden'])
  const reconnectMs =
    (await lab<number>('lab.events.open')) - (await lab<number>(`lab.events['resume:hidden']`))
  expect(await lab<string>('lab.status()')).toBe('open')
  console.info(`freeze: open again ${reconnectMs} ms after the page resumed`)
})

it("control: with core alone, Chromium drops a frozen page's link; resumed, it errors with 1006", async () => {
  await control()
  await openLab({ preset: false }, true)
  await hide()
  await commands.labFreeze(true)
  cleanups.push(() => commands.labFreeze(false))
  await labUntil(`lab.log.includes('freeze:hidden')`, 'the page frozen')
  await commands.labFreeze(false)
  await labUntil(`lab.log.includes('close:1006:')`, 'the link dropped on resume')
  const log = await lab<string[]>('lab.log')
  expect(log.slice(log.indexOf('resume:hidden'))).toEqual(
    expect.arrayContaining(['error:CONNECTION_ERROR', 'close:1006:']),
  )
})

it("connects again when the page's own handlers close the client on pagehide and connect it on pageshow", async () => {
  await control()
  await openLab()
  await lab('lab.closeWhileAway()')
  const { persisted } = await commands.labAwayAndBack(awayUrl)
  expect(persisted).toBe(true)
  await labUntil(`lab.status() === 'open'`, 'open again after the restore')
})

it("connects again when the page's own handlers close the client on freeze and connect it on resume", async () => {
  await control()
  await openLab({}, true)
  await lab('lab.closeWhileAway()')
  await hide()
  await commands.labFreeze(true)
  cleanups.push(() => commands.labFreeze(false))
  await labUntil(`lab.log.includes('freeze:hidden')`, 'the page frozen')
  await commands.labFreeze(false)
  // Resumed, and still hidden: the preset reconnects such a page at once.
  await labUntil(`lab.status() === 'open'`, 'open again once resumed')
})
