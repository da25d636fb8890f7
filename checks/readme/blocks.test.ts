import { describe, expect, it } from 'vitest'
import { extractBlocks } from './blocks.js'

const readme = [
  '# Title', //                                   1
  '',
  '```ts', //                                     3
  '// shared.ts',
  'export const a = 1',
  '```',
  '<!-- readme-context: app -->', //              7
  '',
  '```ts', //                                     9
  'getToken()',
  '```',
  '```sh', //                                     12
  'npm test',
  '```',
  '```json', //                                   15
  '{}',
  '```',
].join('\n')

describe('extractBlocks', () => {
  it('takes the ts blocks with their file name, context and first line', () => {
    expect(extractBlocks('X.md', readme)).toEqual([
      {
        readme: 'X.md',
        line: 4,
        file: 'shared.ts',
        context: undefined,
        code: '// shared.ts\nexport const a = 1\n',
      },
      { readme: 'X.md', line: 10, file: 'line-10.ts', context: 'app', code: 'getToken()\n' },
    ])
  })

  it('refuses a fence that is never closed', () => {
    expect(() => extractBlocks('X.md', '```ts\nlet a = 1\n')).toThrow('X.md:1')
  })
})
