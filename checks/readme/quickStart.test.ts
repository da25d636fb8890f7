import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RpcMethod } from '@lifeline/core'
import { createClient } from '@lifeline/node'
import { runScript, useFixtures, waitFor, withTimeout } from '@lifeline/test-utils'
import { afterEach, expect, it } from 'vitest'
import { extractBlocks } from './blocks.js'
import type { ReadmeBlock } from './blocks.js'
import { blockPath, root, writeBlocks } from './compile.js'

const fx = useFixtures(afterEach)

/** The Quick start's `shared.ts`. */
interface QuickStartChat {
  client: { say: { text: string } }
  server: { said: { text: string; from: string } }
  rpc: { history: RpcMethod<{ limit: number }, string[]> }
}

/** A tsx process starts in 1–3 s on a loaded 2-core machine; these bounds leave room for it. */
const startLimitMs = 30_000

/** The block's code with `from` replaced by `to`, which must occur exactly once. */
function substitute(block: ReadmeBlock, from: string, to: string): string {
  const parts = block.code.split(from)
  expect(parts.length - 1, `${block.file} should contain ${from} exactly once`).toBe(1)
  return parts.join(to)
}

// The root README's Quick start, run as written: its server and its client in two processes.
// The only changes are the server's port (0, so the test picks a free one) and the client's URL
// (that server's); each is checked to occur exactly once, so the README cannot drift from this.
it("runs the root README's Quick start against a real server", async () => {
  const blocks = extractBlocks('README.md', readFileSync(join(root, 'README.md'), 'utf8'))
  const byFile = (name: string) => {
    const block = blocks.find((candidate) => candidate.file === name)
    if (block === undefined) throw new Error(`README.md has no block named ${name}`)
    return block
  }
  const [shared, server, client] = ['shared.ts', 'server.ts', 'client.ts'].map(byFile)
  writeBlocks([shared!, server!, client!], 'quick-start')
  writeFileSync(blockPath(server!, 'quick-start'), substitute(server!, 'port: 8080', 'port: 0'))

  const child = spawn(process.execPath, ['--import', 'tsx', blockPath(server!, 'quick-start')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  fx.add(async () => {
    child.kill()
    await exited
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      child.stdout.on('data', () => {
        const listening = /listening on (\d+)/.exec(out)
        if (listening) resolve(Number(listening[1]))
      })
      void exited.then(() => reject(new Error(`the server exited: ${out}`)))
    }),
    startLimitMs,
    'the Quick start server to listen',
  )

  writeFileSync(
    blockPath(client!, 'quick-start'),
    substitute(client!, "'wss://example.com/chat'", `'ws://127.0.0.1:${port}/chat'`),
  )
  // The client prints the broadcast, then the history; then it closes and its process exits.
  const result = await runScript(blockPath(client!, 'quick-start'), [], startLimitMs)
  expect(result.code).toBe(0)
  const lines = result.out.trim().split('\n')
  expect(lines).toHaveLength(2)
  const [said, history] = lines
  expect(said).toMatch(/^\S+: hi$/)
  expect(history).toBe(`[ '${said}' ]`)

  // Copied into an app, the server's history is what any client may ask for: a limit of 0 is
  // none (`slice(-0)` is every message), and it holds the last 100 messages, not every one said
  // since the server started.
  const asker = fx.add(createClient<QuickStartChat>({ url: `ws://127.0.0.1:${port}/chat` }))
  expect(await asker.request('history', { limit: 0 })).toEqual([])
  const heard: string[] = []
  asker.on('said', ({ text }) => heard.push(text))
  for (let n = 1; n <= 150; n++) asker.send('say', { text: `m${n}` })
  await waitFor(() => heard.length === 150, { message: '150 messages said', timeoutMs: 10_000 })
  const kept = await asker.request('history', { limit: 1_000 })
  expect(kept).toHaveLength(100)
  expect(kept.at(-1)).toMatch(/: m150$/)
})
