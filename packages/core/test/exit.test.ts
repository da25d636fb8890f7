import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runScript, startWsServer, useFixtures } from '@lifeline/test-utils'
import { freePort } from './helpers.js'

const fx = useFixtures(afterEach)
const child = fileURLToPath(new URL('./fixtures/closeAndExit.ts', import.meta.url))

// Each wait for the child is bounded below its test's timeout: run out first, runScript kills the
// child and says what it printed; the test's timeout would leave it running, for good if it is
// the process that does not exit.
const limitMs = 8_000

describe('after close() nothing is left behind', () => {
  it('a Node process exits by itself after closing an open socket with a heartbeat', async () => {
    const server = fx.add(await startWsServer())
    const { code, out } = await runScript(child, [server.url(), 'open'], limitMs)
    expect(code).toBe(0)
    expect(out).toBe('closed 1000 true\n')
    expect(server.messages.map((message) => message.text)).toContain('hello')
  }, 12_000)

  it('a Node process exits by itself after closing while retrying a dead port', async () => {
    const port = await freePort()
    const { code, out } = await runScript(child, [`ws://127.0.0.1:${port}/`, 'retrying'], limitMs)
    expect(code).toBe(0)
    expect(out).toBe('closed while retrying\n')
  }, 12_000)
})
