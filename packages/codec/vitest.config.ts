import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'codec',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
})
