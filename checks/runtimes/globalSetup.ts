import { performance } from 'node:perf_hooks'
import { fetchRuntime, runtimeCacheDir, runtimes } from './runtimes.js'

/**
 * Fetches every runtime of the matrix from the npm registry before the first test, all at once,
 * into a cache kept between runs (`node_modules/.cache/lifeline-runtimes`). A runtime that
 * cannot be fetched fails the run here, with npm's reason.
 */
export default async function setup(): Promise<void> {
  const started = performance.now()
  const results = await Promise.allSettled(runtimes.map((runtime) => fetchRuntime(runtime)))
  const failures = results.flatMap((result) =>
    result.status === 'rejected' ? [(result.reason as Error).message] : [],
  )
  if (failures.length > 0) {
    throw new Error(`the runtime matrix needs every runtime:\n${failures.join('\n')}`)
  }
  const fetched = runtimes.filter((_, i) => {
    const result = results[i]
    return result?.status === 'fulfilled' && result.value.fetched
  })
  const elapsed = ((performance.now() - started) / 1000).toFixed(1)
  console.info(
    fetched.length > 0
      ? `runtime matrix: fetched ${fetched.map((runtime) => `${runtime.npm.name}@${runtime.npm.version}`).join(', ')} from npm in ${elapsed} s (kept in ${runtimeCacheDir})`
      : `runtime matrix: ${runtimes.length} runtimes ready in ${runtimeCacheDir}`,
  )
}
