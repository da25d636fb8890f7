import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'redis',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Every test runs real redis-server and server processes: generous on a loaded 2-core box.
    testTimeout: 30_000,
  },
})
