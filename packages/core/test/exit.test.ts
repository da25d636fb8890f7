import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { startWsServer, useFixtures } from '@lifeline/test-utils'
import { freePort } from './helpers.js'

const fx = useFixtures(afterEach)
const child = fileURLToPath(new URL('./fixtures/closeAndExit.ts', import.meta.url))

/** Runs the child and resolves with its exit code and output; fails if it does not exit. */
function run(args: string[], limitMs = 10_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`the process did not exit within ${limitMs} ms after close(): ${out}`))
    }, limitMs)
    proc.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

describe('after close() nothing is left behind', () => {
  it('a Node process exits by itself after closing an open socket with a heartbeat', async () => {
    const server = fx.add(await startWsServer())
    const { code, out } = await run([server.url(), 'open'])
    expect(code).toBe(0)
    expect(out).toBe('closed 1000 true\n')
    expect(server.messages.map((message) => message.text)).toContain('hello')
  })

  it('a Node process exits by itself after closing while retrying a dead port', async () => {
    const port = await freePort()
    const { code, out } = await run([`ws://127.0.0.1:${port}/`, 'retrying'])
    expect(code).toBe(0)
    expect(out).toBe('closed while retrying\n')
  })
})
