import { createClient } from '@lifeline/core'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { startChatServer } from '../server.js'
import type { ChatServer } from '../server.js'
import type { ChatSchema } from '../src/schema.js'

// The history is kept in the server's memory for any page that asks, and any client names the
// rooms and the ids it says things with: what one client sends may not grow it without bound.

let server: ChatServer

beforeAll(async () => {
  server = await startChatServer(0, false)
}, 60_000)
afterAll(() => server?.close())

const connect = () => createClient<ChatSchema>({ url: `${server.url.replace(/^http/, 'ws')}chat` })

it('keeps no message whose id or room is longer than a name', async () => {
  const client = connect()
  try {
    const long = 'x'.repeat(10_000)
    client.send('say', { room: 'lobby', id: `${long}-lz3k9a-1`, text: 'huge id' })
    client.send('say', { room: long, id: 'ann-lz3k9a-2', text: 'huge room' })
    client.send('say', { room: 'lobby', id: 'ann-lz3k9a-3', text: 'fine' })
    await vi.waitFor(() => expect(client.unacked).toBe(0), { timeout: 10_000 })
    expect((await client.request('history', { room: 'lobby' })).map(({ text }) => text)).toEqual([
      'fine',
    ])
    expect(await client.request('history', { room: long })).toEqual([])
  } finally {
    client.close()
  }
})

it('keeps the history of the last 1000 rooms said in, not of every room ever named', async () => {
  const client = connect()
  try {
    client.send('say', { room: 'first', id: 'ann-lz3k9a-1', text: 'in the first room' })
    for (let n = 0; n < 1_000; n++)
      client.send('say', { room: `room-${n}`, id: `ann-a-${n}`, text: 'hi' })
    await vi.waitFor(() => expect(client.unacked).toBe(0), { timeout: 20_000 })
    expect(await client.request('history', { room: 'first' })).toEqual([])
    expect(await client.request('history', { room: 'room-999' })).toHaveLength(1)
  } finally {
    client.close()
  }
})
