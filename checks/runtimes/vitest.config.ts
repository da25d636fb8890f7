/**
 * The runtime matrix (project `runtimes`): the core integration scenarios with the client under
 * Node 20, 22 and 24, Bun and Deno, each fetched from the npm registry by the global setup. The
 * servers, the fault proxy and the assertions run here, in the test process; the client side
 * runs in one process per runtime (`agent.mjs`) against the built packages.
 *
 * Run alone with `pnpm vitest run --project runtimes` (after `pnpm build`).
 */
import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'runtimes',
    include: ['*.test.ts'],
    globalSetup: ['globalSetup.ts'],
    // Every wait has its own bound and says what it waited for; a runtime's start is bounded by
    // the agent (30 s).
    testTimeout: 30_000,
    hookTimeout: 40_000,
  },
})
