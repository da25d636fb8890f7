import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

/**
 * The first `ws` whose client ends a message in more than 16,384 fragments with 1008, as the
 * README says: 8.21 has the bound at 131,072, and before it a message may come in as many
 * fragments as `maxPayload` has bytes, each kept as a buffer of its own (a million under 1 MiB).
 */
const fragmentLimitSince = [8, 22, 0]

describe('the ws it accepts', () => {
  it('has the client fragment limit the README gives, in its lowest version too', () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { dependencies: Record<string, string> }
    const range = manifest.dependencies.ws ?? ''
    const lowest = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range)?.slice(1).map(Number)
    expect(lowest, `ws ${range}, a caret range`).toBeDefined()
    const [major = 0, minor = 0, patch = 0] = lowest ?? []
    const [sinceMajor = 0, sinceMinor = 0, sincePatch = 0] = fragmentLimitSince
    expect(major, `ws ${range}`).toBe(sinceMajor)
    expect(minor * 1e6 + patch, `ws ${range}`).toBeGreaterThanOrEqual(sinceMinor * 1e6 + sincePatch)
  })
})
