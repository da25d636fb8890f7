import { createClient } from '@lifeline/core'
import { createFaultProxy, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, expect, it } from 'vitest'
import { startChatServer } from '../../examples/react-chat/server.js'
import type { ChatSchema } from '../../examples/react-chat/src/schema.js'

const fx = useFixtures(afterEach)

// The server keeps an answer for replay as the value the handler returned until the client
// acknowledges it (the server's README): an answer of `history` that a page gets again on a
// resume is the history as it was asked for, not as the room has gone on since.
it('replays a history answer as it was, whatever the room says after it', async () => {
  const chat = await startChatServer(0, false)
  fx.add({ close: () => chat.close() })
  const port = Number(new URL(chat.url).port)
  const proxy = fx.add(await createFaultProxy({ targetPort: port }))
  const ann = fx.add(createClient<ChatSchema>({ url: proxy.url('/chat') }))
  const bob = fx.add(createClient<ChatSchema>({ url: `ws://127.0.0.1:${port}/chat` }))

  ann.send('say', { room: 'lobby', id: 'ann-a-1', text: 'one' })
  await waitFor(() => ann.unacked === 0, { message: "ann's message acknowledged" })
  // The answer goes out and is lost on the way: the server keeps it for the resume.
  proxy.blackhole(true, 'toClient')
  const answer = ann.request('history', { room: 'lobby' }, { timeoutMs: 30_000 })
  await waitFor(() => proxy.counters.bytesDropped > 0, { message: 'the answer lost' })
  bob.send('say', { room: 'lobby', id: 'bob-a-1', text: 'two' })
  await waitFor(() => bob.unacked === 0, { message: "bob's message acknowledged" })
  proxy.blackhole(false, 'toClient')
  proxy.cut()

  expect((await answer).map(({ text }) => text)).toEqual(['one'])
})
