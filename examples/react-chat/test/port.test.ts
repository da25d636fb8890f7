import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { expect, it, vi } from 'vitest'
import { startChatServer } from '../server.js'

// `PORT=5174 pnpm start` with that port in use: the start rejects with the cause, which the
// caller can say, rather than an 'error' event no one listens to ending the process; and nothing
// else is said (the chat's server logged the failed listen, with its stack, above main's line).
it('rejects with EADDRINUSE when its port is taken, and logs nothing', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
  try {
    const { port } = taken.address() as AddressInfo
    await expect(startChatServer(port, false)).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect(logged.mock.calls).toEqual([])
  } finally {
    logged.mockRestore()
    await new Promise((resolve) => taken.close(resolve))
  }
})

// Hot reload off (the default of `pnpm start`, and the tests'), Vite opened a WebSocket server of
// its own on its fixed port (24678) all the same: a second chat, or anything else on that port,
// had it log that the port was in use. Off, it holds no port but the chat's.
it('holds no port but its own with hot reload off: two chats at once log nothing', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
  const chats = await Promise.all([startChatServer(0, false), startChatServer(0, false)])
  try {
    // Vite reports the taken port from its listener's 'error' event, a turn or more after it
    // returned: a request to each chat is well after that.
    for (const chat of chats) expect((await fetch(chat.url)).status).toBe(200)
    expect(logged.mock.calls).toEqual([])
  } finally {
    logged.mockRestore()
    await Promise.all(chats.map((chat) => chat.close()))
  }
}, 60_000)
