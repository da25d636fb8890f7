import { createClient } from '@lifeline/core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startChatServer } from '../server.js'
import type { ChatServer } from '../server.js'
import type { ChatSchema, Said } from '../src/schema.js'

// The sender's name, as other pages show it, is what its ids start with (`${name}-${time}-${n}`,
// see `App.tsx`), whatever the name holds.

let server: ChatServer

beforeAll(async () => {
  server = await startChatServer(0, false)
}, 60_000)
afterAll(() => server?.close())

it('names the sender by the whole of its name, dashes included', async () => {
  const client = createClient<ChatSchema>({ url: `${server.url.replace(/^http/, 'ws')}chat` })
  try {
    const said = new Promise<Said>((resolve) => client.on('said', resolve))
    client.send('join', { room: 'lobby' })
    client.send('say', { room: 'lobby', id: 'jean-luc-lz3k9a-1', text: 'bonjour' })
    expect(await said).toMatchObject({ from: 'jean-luc', text: 'bonjour' })
  } finally {
    client.close()
  }
})
