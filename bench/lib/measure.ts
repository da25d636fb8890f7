/**
 * A small, honest micro-benchmark runner: variants are warmed up, then measured in interleaved
 * rounds (the order rotates every round, so a slow phase of the machine hurts all of them
 * alike), and each is reported as the median of its rounds with the min–max spread.
 *
 * Every loop is bounded: iterations per sample come from a calibration that stops doubling at
 * `maxIterations`, and the number of rounds is fixed.
 */

export interface Variant {
  readonly name: string
  /** One operation. Its result is kept alive so the engine cannot optimize the work away. */
  readonly run: () => unknown
}

export interface Measurement {
  readonly name: string
  /** Operations per second, one per round. */
  readonly samples: readonly number[]
  readonly median: number
  readonly min: number
  readonly max: number
}

export interface MeasureOptions {
  /** Measured rounds per variant. @default 7 */
  readonly rounds?: number
  /** Time each variant runs before measuring, for the JIT to settle. @default 150 */
  readonly warmupMs?: number
  /** Target duration of one sample. @default 80 */
  readonly sampleMs?: number
  /** Ceiling on iterations per sample, whatever the calibration says. @default 5_000_000 */
  readonly maxIterations?: number
}

export const measureDefaults = {
  rounds: 7,
  warmupMs: 150,
  sampleMs: 80,
  maxIterations: 5_000_000,
} as const satisfies Required<MeasureOptions>

/** Results land here, so no call is dead code. */
let sink: unknown
export function lastSink(): unknown {
  return sink
}

function timeBatch(run: () => unknown, iterations: number): number {
  const started = performance.now()
  for (let i = 0; i < iterations; i++) sink = run()
  return performance.now() - started
}

/** Iterations that take about `sampleMs`, found by doubling from 1 (bounded). */
function calibrate(run: () => unknown, sampleMs: number, maxIterations: number): number {
  let iterations = 1
  for (;;) {
    const elapsed = timeBatch(run, iterations)
    if (elapsed >= sampleMs / 4 || iterations >= maxIterations) {
      const perOp = elapsed / iterations
      return Math.max(1, Math.min(maxIterations, Math.round(sampleMs / Math.max(perOp, 1e-6))))
    }
    iterations *= 2
  }
}

function warmUp(run: () => unknown, warmupMs: number, iterations: number): void {
  const deadline = performance.now() + warmupMs
  // Bounded twice: by time, and by a number of batches.
  for (let batch = 0; batch < 1_000 && performance.now() < deadline; batch++) {
    timeBatch(run, Math.max(1, Math.ceil(iterations / 10)))
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

/**
 * The `q`-quantile (0–1) of `values` by nearest rank: the smallest value that at least `q` of
 * them are at or under (of 100 values, the p99 is the 99th, not the largest); NaN for none.
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.ceil(q * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN
}

export function measure(variants: readonly Variant[], options: MeasureOptions = {}): Measurement[] {
  const { rounds, warmupMs, sampleMs, maxIterations } = { ...measureDefaults, ...options }
  const iterations = variants.map((variant) => {
    const count = calibrate(variant.run, sampleMs, maxIterations)
    warmUp(variant.run, warmupMs, count)
    return count
  })
  const samples: number[][] = variants.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < variants.length; offset++) {
      const index = (round + offset) % variants.length
      const variant = variants[index]
      const count = iterations[index]
      if (variant === undefined || count === undefined) continue
      const elapsed = timeBatch(variant.run, count)
      samples[index]?.push((count / Math.max(elapsed, 1e-6)) * 1000)
    }
  }
  return variants.map((variant, index) => {
    const own = samples[index] ?? []
    return {
      name: variant.name,
      samples: own,
      median: median(own),
      min: Math.min(...own),
      max: Math.max(...own),
    }
  })
}
