import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runScript, startWsServer, useFixtures } from '@lifeline/test-utils'
import { freePort } from './helpers.js'

const fx = useFixtures(afterEach)
const child = fileURLToPath(new URL('./fixtures/closeAndExit.ts', import.meta.url))

describe('after close() nothing is left behind', () => {
  it('a Node process exits by itself after closing an open socket with a heartbeat', async () => {
    const server = fx.add(await startWsServer())
    const { code, out } = await runScript(child, [server.url(), 'open'])
    expect(code).toBe(0)
    expect(out).toBe('closed 1000 true\n')
    expect(server.messages.map((message) => message.text)).toContain('hello')
  })

  it('a Node process exits by itself after closing while retrying a dead port', async () => {
    const port = await freePort()
    const { code, out } = await runScript(child, [`ws://127.0.0.1:${port}/`, 'retrying'])
    expect(code).toBe(0)
    expect(out).toBe('closed while retrying\n')
  })
})
