// @vitest-environment node
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// The built package, as `pnpm build` leaves it (the test command builds first).
const dist = (file: string) => readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8')

/** Every module specifier the file imports or requires. */
function importsOf(code: string): string[] {
  const specifiers = [
    ...code.matchAll(/\bfrom\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
    ...code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g),
    ...code.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
  ].map((match) => match[1] as string)
  return [...new Set(specifiers)].sort()
}

describe('the built package', () => {
  it.each(['index.js', 'index.cjs'])(
    '%s imports react and @lifeline/core only (no react-dom: React Native can use it)',
    (file) => {
      expect(importsOf(dist(file))).toEqual(['@lifeline/core', 'react'])
    },
  )

  it.each(['index.js', 'index.cjs'])("%s starts with 'use client'", (file) => {
    expect(dist(file).startsWith("'use client'")).toBe(true)
  })
})
