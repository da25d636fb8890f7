import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runScript } from '@lifeline/test-utils'

const script = fileURLToPath(new URL('./fixtures/refusedReconnect.mjs', import.meta.url))

/**
 * Runs the script under `runtime` and reads its one line of result. Without a result (npx could
 * not fetch that Node, the script threw) the test fails with one line that says so: it must not
 * pass by not running.
 */
async function reconnectMs(runtime: string[], implementation: 'global' | 'ws'): Promise<number> {
  const { code, out } = await runScript(script, [implementation], 110_000, runtime)
  const line = out.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(
      `${runtime.join(' ')} did not run ${script} (exit ${code}); is the npm registry reachable?`,
    )
  }
  const result = JSON.parse(line) as { node: string; reconnectMs: number }
  console.log(
    `reconnected ${result.reconnectMs} ms after the server came back (Node ${result.node}, ${implementation} WebSocket)`,
  )
  return result.reconnectMs
}

// A refused attempt used to wait for `connectionTimeoutMs` (10 s here) under Node 22's global
// WebSocket, which fires `error` and no `close`. Retries come within 100 ms: 3 s leaves a loaded
// two-core machine room while staying far from 10 s. Node is fetched from the npm registry (the
// first run downloads it, hence the long limits).
describe('a refused connection ends the attempt at once', () => {
  it.each([['22'], ['24']])(
    "under Node %s's global WebSocket",
    async (version) => {
      expect(await reconnectMs(['npx', '-y', `node@${version}`], 'global')).toBeLessThan(3_000)
    },
    120_000,
  )

  it('under this Node with ws', async () => {
    expect(await reconnectMs([process.execPath], 'ws')).toBeLessThan(3_000)
  }, 20_000)
})
