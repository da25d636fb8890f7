import { join } from 'node:path'
import { runScript } from '@lifeline/test-utils'
import { expect, it } from 'vitest'
import { root } from '../readme/compile.js'

/** A tsx process that runs a few seconds of traffic around a restart: longer on a loaded machine. */
const limitMs = 60_000

// The demo the README's first command runs (`pnpm demo` builds, then starts this file): its
// server restarts under the client's traffic, and it exits 0 only if every message went through
// once, in order, both ways, and every request was answered.
it(
  'runs examples/demo: every message once and in order across the restart',
  async () => {
    const result = await runScript(join(root, 'examples', 'demo', 'main.ts'), [], limitMs)
    expect(result.out).toContain('Every message was processed once, in order, both ways.')
    expect(result.out).toMatch(/duplicates: +0\n/)
    expect(result.code).toBe(0)
  },
  // Above runScript's limit: run out first, it kills the demo and says what it printed; the
  // test's own timeout would leave the process running, its server with it.
  limitMs + 10_000,
)
