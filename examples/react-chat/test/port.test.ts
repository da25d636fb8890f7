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
    expect(logged).not.toHaveBeenCalled()
  } finally {
    logged.mockRestore()
    await new Promise((resolve) => taken.close(resolve))
  }
})
