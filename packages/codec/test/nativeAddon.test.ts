/**
 * The codec runs on msgpackr's pure-JS code, never its native addon (msgpackr-extract), in the
 * tests and in what ships (README, "msgpackr's native addon"). Each case runs in a fresh process,
 * since a native addon once loaded stays loaded. The built cases need `pnpm build` first (the
 * test command builds before it tests).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/loadedAddons.ts', import.meta.url))

async function loadedAddons(how: string): Promise<{ roundTrip: boolean; addons: string[] }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fixture, how],
    {
      // The environment switch would hide what the entry points do by themselves.
      env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: '' },
    },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '')
}

describe('the msgpack codec loads no native addon', () => {
  it.each(['source', 'import', 'require'])(
    'loaded as %s',
    async (how) => {
      expect(await loadedAddons(how)).toEqual({ roundTrip: true, addons: [] })
    },
    30_000,
  )

  it('control: msgpackr main entry loads it on this machine, so the check above can fail', async () => {
    const { roundTrip, addons } = await loadedAddons('msgpackr main')
    expect(roundTrip).toBe(true)
    expect(addons).toEqual([expect.stringMatching(/msgpackr-extract.*\.node$/)])
  }, 30_000)
})
