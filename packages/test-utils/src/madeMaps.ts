/**
 * Runs `make`, and lists every `Map` made meanwhile, by a global `Map` that records its
 * instances: a test sees what the structure made keeps (e.g. one entry per event type for
 * good) without reaching into its private fields.
 */
export function madeMaps<T>(make: () => T): { made: T; maps: Map<unknown, unknown>[] } {
  const maps: Map<unknown, unknown>[] = []
  const original = globalThis.Map
  globalThis.Map = class extends original<unknown, unknown> {
    constructor(entries?: Iterable<readonly [unknown, unknown]> | null) {
      super(entries)
      maps.push(this)
    }
  } as MapConstructor
  try {
    return { made: make(), maps }
  } finally {
    globalThis.Map = original
  }
}
