import { performance } from 'node:perf_hooks'
import { fetchRuntimes, runtimeCacheDir, runtimes } from './runtimes.js'

/**
 * Fetches every runtime of the matrix from the npm registry before the first test, into a cache
 * kept between runs. A runtime that cannot be fetched fails the run here, with npm's reason.
 */
export default async function setup(): Promise<void> {
  const started = performance.now()
  const { fetched } = await fetchRuntimes()
  const list = runtimes.map(({ npm }) => `${npm.name}@${npm.version}`).join(', ')
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.info(
    fetched
      ? `runtime matrix: fetched ${list} from npm in ${seconds} s, kept in ${runtimeCacheDir}`
      : `runtime matrix: ${list} ready in ${runtimeCacheDir}`,
  )
}
