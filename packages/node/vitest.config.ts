import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'node',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
})
