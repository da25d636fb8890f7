import { version } from 'react'
import { version as domVersion } from 'react-dom'
import { expect, it } from 'vitest'

it('runs on the React its project names (react: 19, react-18: 18), react-dom alike', () => {
  const major = process.env.REACT_MAJOR
  expect(major).toMatch(/^1[89]$/)
  expect(version.split('.')[0]).toBe(major)
  expect(domVersion.split('.')[0]).toBe(major)
})
