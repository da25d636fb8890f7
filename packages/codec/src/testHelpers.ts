import { expect } from 'vitest'
import { isLifelineError, type LifelineError, type LifelineErrorCode } from './errors.js'

/**
 * Runs `action`, expects it to throw a `LifelineError` with `code` (and, if given, `closeCode`),
 * and returns the error for further checks. Test helper, not exported from the package.
 */
export function expectLifelineError(
  action: () => unknown,
  code: LifelineErrorCode,
  closeCode?: number,
): LifelineError {
  let thrown: unknown
  try {
    action()
  } catch (error) {
    thrown = error
  }
  expect(thrown, 'expected a LifelineError to be thrown').toBeDefined()
  if (!isLifelineError(thrown)) throw thrown
  expect(thrown.code).toBe(code)
  if (closeCode !== undefined) expect(thrown.closeCode).toBe(closeCode)
  return thrown
}

/** Own property names of `Object.prototype`, to prove a test left it as it found it. */
export function objectPrototypeSnapshot(): string {
  return Reflect.ownKeys(Object.prototype).map(String).sort().join(',')
}

/** Nests `[]` `depth` times: depth 1 is `[]`. */
export function nestedArrays(depth: number): unknown {
  let value: unknown[] = []
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

/** Nests `{ a: ... }` `depth` times around `null`: depth 1 is `{ a: null }`. */
export function nestedObjects(depth: number): unknown {
  let value: unknown = null
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

/**
 * The fastest of three runs of `action`, in milliseconds. A time bound on one run measures the
 * machine as much as the code: a garbage collection or a busy core can stretch any single run,
 * but an algorithm that is really slow is slow every time.
 */
export function fastestOfThreeMs(action: () => unknown): number {
  return Math.min(
    ...[0, 1, 2].map(() => {
      const start = performance.now()
      action()
      return performance.now() - start
    }),
  )
}
