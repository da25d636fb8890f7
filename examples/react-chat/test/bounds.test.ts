import { request } from 'node:http'
import { createClient } from '@lifeline/core'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { startChatServer } from '../server.js'
import type { ChatServer } from '../server.js'
import type { ChatSchema } from '../src/schema.js'

// The chat serves browsers: a page of another site must not open it as its visitor, and a
// client joins rooms on its own word, so how many it holds is bounded.

let server: ChatServer

beforeAll(async () => {
  server = await startChatServer(0, false)
}, 60_000)
afterAll(() => server?.close())

/** The HTTP status that a WebSocket upgrade of the chat with `origin` gets. */
function upgradeStatus(origin: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const upgrade = request(`${server.url}chat`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        origin,
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'lifeline.v1.json',
      },
    })
    upgrade.on('response', (response) => {
      response.resume()
      resolve(response.statusCode)
    })
    upgrade.on('upgrade', (_response, socket) => {
      socket.destroy()
      resolve(101)
    })
    upgrade.on('error', reject)
    upgrade.end()
  })
}

it("opens the chat to the page's own origin only", async () => {
  const port = new URL(server.url).port
  expect(await upgradeStatus('https://elsewhere.example')).toBe(403)
  expect(await upgradeStatus(`http://127.0.0.1:${port}`)).toBe(101)
  expect(await upgradeStatus(`http://localhost:${port}`)).toBe(101)
})

it('keeps a page in 20 rooms at most, however many it asks to join', async () => {
  const client = createClient<ChatSchema>({ url: `${server.url.replace(/^http/, 'ws')}chat` })
  try {
    for (let n = 0; n < 30; n++) client.send('join', { room: `room-${n}` })
    client.send('join', { room: 'x'.repeat(10_000) })
    await vi.waitFor(() => expect(client.unacked).toBe(0), { timeout: 10_000 })
    const rooms = server.rooms()
    expect(rooms).toHaveLength(1)
    expect(rooms[0]).toHaveLength(20)
    expect(server.stats()?.handlerErrors).toBe(0)
  } finally {
    client.close()
  }
})

// Any client may send a message with no data at all (`null`, or none), or name a room the server
// refuses ('\u0000'): ignored as quietly as a room of the wrong type, never a handler's throw
// reported (and logged) once per message.
it('ignores a message with no data or a room the server refuses, as any other it cannot use', async () => {
  const client = createClient<ChatSchema>({ url: `${server.url.replace(/^http/, 'ws')}chat` })
  try {
    for (const type of ['join', 'leave', 'say'] as const) {
      client.send(type, null as never)
      client.send(type, undefined as never)
    }
    client.send('join', { room: '\u0000' })
    client.send('say', { room: '\u0000', id: 'ann-a-1', text: 'hi' })
    await expect(client.request('history', null as never)).resolves.toEqual([])
    await vi.waitFor(() => expect(client.unacked).toBe(0), { timeout: 10_000 })
    expect(server.stats()?.handlerErrors).toBe(0)
  } finally {
    client.close()
  }
})
