import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { expect, it } from 'vitest'
import { startChatServer } from '../server.js'

// `PORT=5174 pnpm start` with that port in use: the start rejects with the cause, which the
// caller can say, rather than an 'error' event no one listens to ending the process.
it('rejects with EADDRINUSE when its port is taken', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = taken.address() as AddressInfo
    await expect(startChatServer(port, false)).rejects.toMatchObject({ code: 'EADDRINUSE' })
  } finally {
    await new Promise((resolve) => taken.close(resolve))
  }
})
