import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright'
import type { Browser, Page } from 'playwright'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createClient } from '@lifeline/core'
import { chromiumPath } from '../../../packages/test-utils/src/chromium/chromium.js'
import { startChatServer } from '../server.js'
import type { ChatServer } from '../server.js'
import type { ChatSchema } from '../src/schema.js'

// Two pages in Debian's Chromium chat in one room while the chat server restarts; each page's
// screenshot is saved in `artifacts/`.
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

let server: ChatServer
let browser: Browser

beforeAll(async () => {
  server = await startChatServer(0, false)
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const texts = (page: Page) => page.getByTestId('text').allTextContents()
const connection = (page: Page) => page.getByTestId('connection')

async function open(name: string, url = server.url, room = 'lobby'): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(`${url}?name=${name}&room=${room}`)
  await expect.poll(() => connection(page).textContent(), { timeout: 20_000 }).toBe('connected')
  return page
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel('message').fill(text)
  await page.getByRole('button', { name: 'send' }).click()
}

/** Waits until both pages show exactly `expected`, in order. */
async function bothShow(pages: Page[], expected: string[]): Promise<void> {
  for (const page of pages) {
    await expect.poll(() => texts(page), { timeout: 10_000 }).toEqual(expected)
  }
}

it('two pages chat in a room across a restart of the server: every message once, in order', async () => {
  const ann = await open('ann')
  const bob = await open('bob')
  const pages = [ann, bob]

  await say(ann, 'hello from ann')
  await bothShow(pages, ['hello from ann'])
  await say(bob, 'hi ann')
  await bothShow(pages, ['hello from ann', 'hi ann'])

  // The chat stops (1012): both pages show it, and what ann sends meanwhile is pending.
  await server.stopChat()
  for (const page of pages) {
    await expect
      .poll(() => connection(page).getAttribute('data-status'), { timeout: 10_000 })
      .not.toBe('open')
    expect(await connection(page).textContent()).toMatch(/^(reconnecting( in \d+ s)?|connecting)$/)
  }
  await say(ann, 'sent while the server was down')
  const offline = ann.locator('li', { hasText: 'sent while the server was down' })
  await expect.poll(() => offline.getAttribute('class')).toBe('pending')
  await expect.poll(() => offline.textContent()).toContain('(pending)')

  server.startChat()
  for (const page of pages) {
    await expect.poll(() => connection(page).textContent(), { timeout: 15_000 }).toBe('connected')
  }
  // Its receipt confirms it once the server has it; bob gets it once.
  await expect.poll(() => offline.getAttribute('class'), { timeout: 10_000 }).toBe('confirmed')
  await say(bob, 'welcome back')
  const expected = ['hello from ann', 'hi ann', 'sent while the server was down', 'welcome back']
  await bothShow(pages, expected)
  for (const page of pages) {
    expect(await page.locator('li.pending').count()).toBe(0)
  }

  mkdirSync(artifacts, { recursive: true })
  await ann.screenshot({ path: `${artifacts}ann.png` })
  await bob.screenshot({ path: `${artifacts}bob.png` })
}, 90_000)

it('a page whose session the server lost still gets the messages of its room', async () => {
  // Sessions that outlive their link by 300 ms only: a chat down for longer loses them, as one
  // whose process restarts does, or a page that stayed in the back/forward cache for minutes.
  const forgetful = await startChatServer(0, false, 300)
  try {
    const ann = await open('ann', forgetful.url)
    const bob = await open('bob', forgetful.url)
    const pages = [ann, bob]
    await say(ann, 'before')
    await bothShow(pages, ['before'])
    await forgetful.stopChat()
    // Not a guess: the stored sessions expire 300 ms after the close stored them, by the wall
    // clock the store reads when asked; the counters below say whether they did.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    forgetful.startChat()
    for (const page of pages) {
      await expect.poll(() => connection(page).textContent(), { timeout: 15_000 }).toBe('connected')
    }
    // Lost, not resumed: each page came back to a new session.
    expect(forgetful.stats()).toMatchObject({ sessionsCreated: 2, sessionsResumed: 0 })
    // New sessions: each page is in its room again, and gets what is said there live.
    await say(bob, 'after')
    await bothShow(pages, ['before', 'after'])
    await ann.close()
    await bob.close()
  } finally {
    await forgetful.close()
  }
}, 90_000)

it('a page that showed more than the history holds keeps every line in order across a restart', async () => {
  const chat = await startChatServer(0, false)
  const bob = createClient<ChatSchema>({ url: `${chat.url.replace(/^http/, 'ws')}chat` })
  try {
    const ann = await open('ann', chat.url)
    bob.send('join', { room: 'lobby' })
    // More than the 100 a room's history keeps: the page shows them all as they come.
    const said = Array.from({ length: 120 }, (_, n) => `line ${n + 1}`)
    said.forEach((text, n) => bob.send('say', { room: 'lobby', id: `bob-a-${n}`, text }))
    await expect.poll(() => texts(ann), { timeout: 10_000 }).toEqual(said)
    // Back from a restart, the page asks for the history (the last 100) again.
    await chat.stopChat()
    chat.startChat()
    await expect.poll(() => connection(ann).textContent(), { timeout: 15_000 }).toBe('connected')
    bob.send('say', { room: 'lobby', id: 'bob-b-0', text: 'after the restart' })
    await expect.poll(() => texts(ann), { timeout: 10_000 }).toEqual([...said, 'after the restart'])
    await ann.close()
  } finally {
    bob.close()
    await chat.close()
  }
}, 90_000)

it('a page that changes room leaves the one it was in, and joins only the room it enters', async () => {
  const chat = await startChatServer(0, false)
  try {
    const ann = await open('ann', chat.url)
    const bob = await open('bob', chat.url)
    await expect.poll(() => chat.rooms()).toEqual([['lobby'], ['lobby']])
    // Typed key by key: no room per prefix; the room changes when it is entered.
    const roomBox = ann.getByLabel('room')
    await roomBox.fill('')
    await roomBox.pressSequentially('dev')
    await roomBox.press('Enter')
    await expect.poll(() => ann.locator('h1').textContent()).toContain('#dev')
    await expect.poll(() => chat.rooms().sort()).toEqual([['dev'], ['lobby']])
    await say(bob, 'only for the lobby')
    await say(ann, 'only for dev')
    await expect.poll(() => texts(ann)).toEqual(['only for dev'])
    await expect.poll(() => texts(bob)).toEqual(['only for the lobby'])
    await ann.close()
    await bob.close()
  } finally {
    await chat.close()
  }
}, 90_000)

it('a page whose network is down says offline, not a countdown, and connected once back', async () => {
  const chat = await startChatServer(0, false)
  try {
    const ann = await open('ann', chat.url)
    // The network goes (the emulation leaves the open socket up), then the link with it.
    await ann.context().setOffline(true)
    await chat.stopChat()
    await expect.poll(() => connection(ann).textContent(), { timeout: 15_000 }).toBe('offline')
    chat.startChat()
    await ann.context().setOffline(false)
    await expect.poll(() => connection(ann).textContent(), { timeout: 15_000 }).toBe('connected')
    await ann.close()
  } finally {
    await chat.close()
  }
}, 90_000)

// The chat drops a room or an id over its bound, and keeps the first 500 characters of a text
// (`server.ts`): what the page sends stays within them, so its user is heard as the page shows
// it, where a long name had every message shown confirmed and reach no one.
it('a page whose name, room and message are longer than the chat keeps is heard as it shows', async () => {
  const chat = await startChatServer(0, false)
  try {
    const room = 'r'.repeat(150)
    const ann = await open('a'.repeat(150), chat.url, room)
    const bob = await open('bob', chat.url, room)
    await say(ann, 'x'.repeat(600))
    await bothShow([ann, bob], ['x'.repeat(500)])
    await expect.poll(() => ann.locator('li.confirmed').count()).toBe(1)
    await ann.getByLabel('room').fill('s'.repeat(150))
    await ann.getByLabel('room').press('Enter')
    await bob.getByLabel('room').fill('s'.repeat(150))
    await bob.getByLabel('room').press('Enter')
    await say(bob, 'in the other room')
    await bothShow([ann, bob], ['in the other room'])
    await ann.close()
    await bob.close()
  } finally {
    await chat.close()
  }
}, 90_000)

/** `pnpm start` (`main.ts`) on `port` (0: a free one); resolves with its page's URL once it listens. */
function startMain(port: number): Promise<{ main: ChildProcess; url: string }> {
  const main = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    createInterface({ input: main.stdout! }).on('line', (line) => {
      const url = / on (http\S+)/.exec(line)?.[1]
      if (url) resolve({ main, url })
    })
    main.once('exit', (code) => reject(new Error(`main.ts exited (${code}) before it listened`)))
  })
}

// The chat as `pnpm start` runs it, its process stopped (SIGTERM) and started again: the page
// keeps what was sent meanwhile and sends it to the new process. Vite's hot reload reloaded
// every page once its server came back, and a message pending in a page went with it.
it('a page keeps a message sent while `pnpm start` restarts, and sends it to the new process', async () => {
  let { main, url } = await startMain(0)
  try {
    const ann = await open('ann', url)
    const exited = new Promise((resolve) => main.once('exit', resolve))
    main.kill('SIGTERM')
    await exited
    await expect.poll(() => connection(ann).getAttribute('data-status')).not.toBe('open')
    await say(ann, 'sent while the process was down')
    ;({ main, url } = await startMain(Number(new URL(url).port)))
    const line = ann.locator('li', { hasText: 'sent while the process was down' })
    await expect.poll(() => line.getAttribute('class'), { timeout: 15_000 }).toBe('confirmed')
    const bob = await open('bob', url)
    await bothShow([ann, bob], ['sent while the process was down'])
    await ann.close()
    await bob.close()
  } finally {
    // Gone before the next test: a chat still closing would hold its port and its pages' links.
    if (main.exitCode === null && main.signalCode === null) {
      const exited = new Promise((resolve) => main.once('exit', resolve))
      main.kill('SIGTERM')
      await exited
    }
  }
}, 90_000)
