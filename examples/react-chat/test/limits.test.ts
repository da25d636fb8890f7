import { expect, it } from 'vitest'
import { cut } from '../src/limits.js'

it('cuts a text to a length, never between the halves of a surrogate pair', () => {
  expect(cut('abcdef', 4)).toBe('abcd')
  expect(cut('abc', 4)).toBe('abc')
  // '😀' is two UTF-16 units: the third and fourth.
  expect(cut('ab😀d', 3)).toBe('ab')
  expect(cut('ab😀d', 4)).toBe('ab😀')
})
