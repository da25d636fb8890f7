import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runScript } from './runScript.js'
import { waitFor } from './wait.js'

const script = fileURLToPath(new URL('./testScripts/leaveChild.ts', import.meta.url))

/** Whether process `pid` is alive (a zombie not yet reaped counts as gone: it holds nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('runScript', () => {
  it('ends what a script started once the script exits', async () => {
    const { code, out } = await runScript(script, [], 20_000)
    expect(code).toBe(0)
    const pid = Number(out.trim())
    expect(pid).toBeGreaterThan(0)
    await waitFor(() => !alive(pid), { message: 'the child to be gone' })
  }, 30_000)

  it('ends the script and what it started when its time is up', async () => {
    let out = ''
    await expect(
      runScript(script, ['hang'], 3_000).catch((error: Error) => {
        out = error.message
        throw error
      }),
    ).rejects.toThrow(/did not exit by itself/)
    const pid = Number(/printed: (\d+)/.exec(out)?.[1])
    expect(pid).toBeGreaterThan(0)
    await waitFor(() => !alive(pid), { message: 'the child to be gone' })
  }, 30_000)
})
