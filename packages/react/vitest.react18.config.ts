import { createRequire } from 'node:module'
import { defineProject } from 'vitest/config'

/**
 * The unit tests of `vitest.config.ts` again, with React 18 (project `react-18`). React 18,
 * its react-dom and a @testing-library/react whose peers resolve to them are installed by
 * `test/react18/package.json`, a workspace importer of its own (an npm alias in this package
 * would leave react-dom 18 resolving its `react` peer to React 19). Every import of them, from
 * the tests and from `src/`, is aliased there.
 */
const fromReact18 = createRequire(new URL('./test/react18/package.json', import.meta.url))
const aliased = [
  'react',
  'react/jsx-runtime',
  'react/jsx-dev-runtime',
  'react-dom',
  'react-dom/client',
  'react-dom/server',
  '@testing-library/react',
]

export default defineProject({
  resolve: {
    alias: aliased.map((id) => ({
      find: new RegExp(`^${id.replace('/', '\\/')}$`),
      replacement: fromReact18.resolve(id),
    })),
  },
  test: {
    name: 'react-18',
    include: ['test/**/*.test.{ts,tsx}'],
    // `activity.test.tsx`: `<Activity>` is React 19's.
    exclude: [
      'test/browser/**',
      'test/react18/**',
      'test/package.test.ts',
      'test/activity.test.tsx',
    ],
    environment: 'happy-dom',
    env: { REACT_MAJOR: '18' },
  },
})
