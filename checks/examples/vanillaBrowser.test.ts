import { mkdirSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright'
import WebSocket from 'ws'
import { createClient } from '@lifeline/node'
import { assertChromium, chromiumPath } from '@lifeline/test-utils/chromium'
import { afterEach, expect, it, vi } from 'vitest'
import type { EchoSchema } from '../../examples/vanilla-browser/schema.js'
import { startExample } from '../../examples/vanilla-browser/server.js'
import { root } from '../readme/compile.js'

/** Where the screenshots are saved (while the server is down, and after); git ignores it. */
const artifacts = join(root, 'artifacts')

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The example on port 0, its server down `downMs` on a restart, open in a page of Chromium. */
async function openExample(downMs: number) {
  assertChromium()
  const example = await startExample({ port: 0, downMs })
  cleanups.push(() => example.close())
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  })
  cleanups.push(() => browser.close())
  const page = await browser.newPage()
  await page.goto(example.url)
  return { example, page }
}

it('runs examples/vanilla-browser in Chromium: echoes, and rides out a server restart', async () => {
  const { page } = await openExample(500)
  const state = page.locator('#state')
  const say = async (text: string) => {
    await page.fill('#text', text)
    await page.press('#text', 'Enter')
  }
  const echoes = () => page.locator('#messages li').allTextContents()

  await page.waitForSelector('#state[data-status="open"]')
  await say('hello')
  await page.waitForSelector('#messages li:has-text("hello")')

  await page.click('#restart')
  // What the page shows once the link is down, taken in the page as it shows it: the server is
  // down for 500 ms only, and a read in a round trip of its own could come after the next link
  // opened (a test process that stalled for longer read 'connected (session resumed)').
  const down = await page.waitForFunction(() => {
    const shown = document.getElementById('state')
    return shown?.dataset.status !== 'open' && shown?.textContent
  })
  const shownWhileDown = await down.jsonValue()
  await say('sent while the server was down')
  mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: join(artifacts, 'vanilla-browser-down.png') })
  await page.waitForSelector('#state[data-status="open"]', { timeout: 10_000 })
  await page.waitForSelector('#messages li:has-text("sent while the server was down")')
  await say('after the restart')
  await page.waitForSelector('#messages li:has-text("after the restart")')

  expect(shownWhileDown).toMatch(/^(reconnecting in \d+ ms|connecting)/)
  expect(await state.textContent()).toBe('connected (session resumed)')
  expect((await echoes()).map((line) => line.replace(/^\S+ /, ''))).toEqual([
    'hello',
    'sent while the server was down',
    'after the restart',
  ])
  await page.screenshot({ path: join(artifacts, 'vanilla-browser.png') })
})

it('says offline while the network is down, not a countdown that never ends, and connected once back', async () => {
  const { example, page } = await openExample(50)
  await page.waitForSelector('#state[data-status="open"]')
  // The network goes (the emulation leaves the open socket up), then the link with it: the
  // preset makes no attempt until the browser is back online, whatever its backoff said.
  await page.context().setOffline(true)
  await example.restart()
  await page.waitForSelector('#state:not([data-status="open"])')
  await expect
    .poll(() => page.locator('#state').textContent(), { timeout: 10_000 })
    .toBe('offline: waiting')
  await page.context().setOffline(false)
  await page.waitForSelector('#state[data-status="open"]', { timeout: 10_000 })
  expect(await page.locator('#state').textContent()).toBe('connected (session resumed)')
})

// Another site's page in the same browser: its POST reaches the server (only the answer is
// hidden from it) and its WebSocket carries its own Origin. Neither may act as the example's page.
/** The HTTP status a WebSocket upgrade of the example's `/ws` with `headers` gets (101: open). */
async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const socket = new WebSocket(new URL('/ws', url).href.replace(/^http/, 'ws'), { headers })
  socket.on('error', () => undefined)
  const status = await new Promise<number>((resolve) => {
    socket.on('unexpected-response', (_, response) => resolve(response.statusCode ?? 0))
    socket.on('open', () => resolve(101))
  })
  socket.terminate()
  return status
}

it('refuses a restart and a WebSocket from another origin', async () => {
  const example = await startExample({ port: 0, downMs: 500 })
  cleanups.push(() => example.close())
  const restart = (origin: string) =>
    fetch(new URL('/restart', example.url), { method: 'POST', headers: { Origin: origin } })
  expect((await restart('https://evil.example')).status).toBe(403)
  expect(await upgradeStatus(example.url, { Origin: 'https://evil.example' })).toBe(403)
  expect((await restart(new URL(example.url).origin)).status).toBe(202)
})

it('refuses a restart asked once it is closing, and lets one under way end without a server', async () => {
  const example = await startExample({ port: 0, downMs: 50 })
  const restarting = example.restart()
  const closing = example.close()
  // Asked once the close has begun (a click on a connection the HTTP server keeps): refused,
  // where it started a Lifeline server on the closed HTTP server that nothing closed.
  await expect(example.restart()).rejects.toThrow('closing')
  await restarting
  await closing
})

// A page of another site whose name its DNS points at 127.0.0.1 once loaded (DNS rebinding) is
// same-origin with itself: its requests carry its own name in both Host and Origin. The page's
// origin is the address the example listens on, never what a request says its host is.
it('refuses a restart and a WebSocket from another site whose name points at the example', async () => {
  const example = await startExample({ port: 0, downMs: 500 })
  cleanups.push(() => example.close())
  const { port } = new URL(example.url)
  const rebound = `http://rebound.example:${port}`
  const restart = await new Promise<number>((resolve, reject) => {
    const request = httpRequest(
      new URL('/restart', example.url),
      { method: 'POST', headers: { Host: `rebound.example:${port}`, Origin: rebound } },
      (response) => resolve(response.statusCode ?? 0),
    )
    request.on('error', reject)
    request.end()
  })
  expect(restart).toBe(403)
  expect(
    await upgradeStatus(example.url, { Host: `rebound.example:${port}`, Origin: rebound }),
  ).toBe(403)
})

it('rejects with EADDRINUSE when its port is taken, rather than crashing', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => taken.close(resolve)))
  const { port } = taken.address() as AddressInfo
  await expect(startExample({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
})

// A text the server would refuse (over the `max` of its `$welcome`) is refused by `send` at the
// call, and nothing is kept: the page says so and leaves the text in the box, where the throw went
// uncaught out of the form's listener and the page said nothing.
it('says why a message too large to send was not sent, and keeps it in the box', async () => {
  const { page } = await openExample(500)
  const errors: Error[] = []
  page.on('pageerror', (error) => errors.push(error))
  await page.waitForSelector('#state[data-status="open"]')
  const tooLarge = 'x'.repeat(1_100_000)
  await page.fill('#text', tooLarge)
  await page.press('#text', 'Enter')
  await expect.poll(() => page.locator('#problem').textContent()).toMatch(/^not sent: /)
  expect(await page.inputValue('#text')).toHaveLength(tooLarge.length)
  expect(errors).toEqual([])
  await page.fill('#text', 'small')
  await page.press('#text', 'Enter')
  await page.waitForSelector('#messages li:has-text("small")')
  expect(await page.locator('#problem').textContent()).toBe('')
})

// What a client sends is its own, whatever the schema says: a `say` with no data (or no text) is
// ignored, where the echo's handler threw on it and the server logged the throw, once a message.
it('ignores a message with no text, and logs nothing for it', async () => {
  const example = await startExample({ port: 0, downMs: 500 })
  cleanups.push(() => example.close())
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
  cleanups.push(async () => logged.mockRestore())
  const client = createClient<EchoSchema>({
    url: new URL('/ws', example.url).href.replace(/^http/, 'ws'),
    socket: { headers: { Origin: new URL(example.url).origin } },
  })
  cleanups.push(async () => client.close())
  const echoes: string[] = []
  client.on('echo', ({ text }) => echoes.push(text))
  client.send('say', null as never)
  client.send('say', { text: 42 } as never)
  client.send('say', { text: 'after them' })
  await expect.poll(() => echoes).toEqual(['after them'])
  expect(logged).not.toHaveBeenCalled()
})

// The restart button's request fails when the example's server is gone (stopped, or the machine's
// network down): the page says so, where the rejection went unhandled and the click did nothing.
it('says why a restart could not be asked', async () => {
  const { example, page } = await openExample(500)
  const errors: Error[] = []
  page.on('pageerror', (error) => errors.push(error))
  await page.waitForSelector('#state[data-status="open"]')
  await example.close()
  await page.click('#restart')
  await expect.poll(() => page.locator('#problem').textContent()).toMatch(/^restart not asked: /)
  expect(errors).toEqual([])
})
