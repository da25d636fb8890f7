import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { createClient } from '@lifeline/core'
import { expect, it, vi } from 'vitest'
import type { ChatSchema } from '../src/schema.js'

// `pnpm start` as a process manager stops it: SIGTERM closes the chat, so its pages are told
// 1012 (come back at once) rather than losing their link, and the process exits by itself.
it('closes the chat on SIGTERM: its pages are told 1012 and the process exits with 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const url = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).on('line', (line) => {
      const page = / on (http\S+)/.exec(line)?.[1]
      if (page) resolve(page)
    }),
  )
  const client = createClient<ChatSchema>({ url: `${url.replace(/^http/, 'ws')}chat` })
  try {
    const closeCodes: number[] = []
    client.events.on('statechange', (state) => {
      if (state.status === 'reconnecting') closeCodes.push(state.closeCode)
    })
    await vi.waitFor(() => expect(client.state.status).toBe('open'), { timeout: 30_000 })
    child.kill('SIGTERM')
    expect(await exited).toEqual({ code: 0, signal: null })
    await vi.waitFor(() => expect(closeCodes[0]).toBe(1012), { timeout: 5_000 })
  } finally {
    client.close()
    child.kill('SIGKILL')
  }
})
