/**
 * Shared pieces of the benchmarks that run each sample in a fresh process: the runner, rotated
 * rounds, bounded waits, medians with min–max, ratios, and Markdown tables (every `main.ts`
 * prints a `## Title`, a one-line description and its table on stdout; progress goes to
 * stderr). A sample script prints one JSON line on stdout, its last.
 */
import { spawn } from 'node:child_process'
import { median } from './measure.js'

export interface SampleOptions {
  /** Node flags before the script, e.g. `--expose-gc`. */
  readonly flags?: readonly string[]
  /** The sample is killed and fails after this long. @default 180000 */
  readonly timeoutMs?: number
}

/** Runs `script` (TypeScript, through tsx) in a fresh Node process and parses its last line. */
export function runSample<T>(
  script: string,
  args: readonly string[],
  options: SampleOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 180_000
  const what = `${script} ${args.join(' ')}`
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(options.flags ?? []), '--import', 'tsx', script, ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let stdout = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => (stdout += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(new Error(`${what} failed: ${error.message}`))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) {
        const why = signal === null ? `exit code ${code}` : `signal ${signal}`
        reject(new Error(`${what} failed (${why}; timeout ${timeoutMs} ms)`))
        return
      }
      const line = stdout.trim().split('\n').at(-1) ?? ''
      try {
        resolve(JSON.parse(line) as T)
      } catch {
        reject(new Error(`${what} printed no JSON line: ${line.slice(0, 200)}`))
      }
    })
  })
}

/** The variants of one round, rotated by the round number. */
export function rotated<T>(variants: readonly T[], round: number): T[] {
  return variants.map((_, i) => variants[(i + round) % variants.length] as T)
}

export interface RoundsOptions<V> {
  /** Prefix of the progress lines. */
  readonly label?: string
  /** The warm-up of a variant; `false` when the caller warmed up. @default one `sample(variant)`, not kept */
  readonly warmUp?: ((variant: V) => Promise<unknown>) | false
  /** How a variant is named in progress lines. @default String(variant) */
  readonly name?: (variant: V) => string
}

/**
 * A warm-up per variant, then `rounds` rounds in which every variant runs once, the order
 * rotated each round so a slow phase of the machine hurts all variants alike. Returns the
 * samples per variant, indexed by round, so ratios can be taken within a round.
 */
export async function runRounds<V, T>(
  variants: readonly V[],
  rounds: number,
  sample: (variant: V) => Promise<T>,
  options: RoundsOptions<V> = {},
): Promise<Map<V, T[]>> {
  const { label = '', warmUp = sample, name = String } = options
  const results = new Map<V, T[]>(variants.map((variant) => [variant, []]))
  for (const variant of warmUp === false ? [] : variants) {
    progress(`${label} warm-up ${name(variant)}`)
    await (warmUp as (variant: V) => Promise<unknown>)(variant)
  }
  for (let round = 0; round < rounds; round++) {
    for (const variant of rotated(variants, round)) {
      progress(`${label} round ${round + 1}/${rounds} ${name(variant)}`)
      results.get(variant)?.push(await sample(variant))
    }
  }
  return results
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A round count from the environment (for a short run), or the benchmark's default. */
export function roundsFrom(variable: string, fallback: number): number {
  const value = Number(process.env[variable] ?? fallback)
  if (!(Number.isInteger(value) && value > 0)) {
    throw new Error(`${variable} must be a positive integer`)
  }
  return value
}

export function progress(message: string): void {
  process.stderr.write(`${message.trim()}\n`)
}

/** `median (min–max)` with a fixed number of digits. */
export function spread(values: readonly number[], digits = 1): string {
  if (values.length === 0) return 'n/a'
  const fmt = (value: number) => value.toFixed(digits)
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`
}

/** Per-round ratios `value[i] / baseline[i]`, rounds missing on either side left out. */
function ratiosOf(values: readonly number[], baseline: readonly number[]): number[] {
  return values
    .map((value, i) => value / (baseline[i] ?? NaN))
    .filter((ratio) => Number.isFinite(ratio) && ratio > 0)
}

/** The median of per-round ratios `value[i] / baseline[i]`, as `0.97×`. */
export function ratioOf(values: readonly number[], baseline: readonly number[]): string {
  const ratios = ratiosOf(values, baseline)
  return ratios.length === 0 ? 'n/a' : `${median(ratios).toFixed(2)}×`
}

/** `ratioOf`, with the range of the rounds' ratios when there were several: `1.56× (1.52–1.78)`. */
export function ratioSpread(values: readonly number[], baseline: readonly number[]): string {
  const ratios = ratiosOf(values, baseline)
  if (ratios.length < 2) return ratioOf(values, baseline)
  return `${spread(ratios, 2).replace(' ', '× ')}`
}

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** A benchmark's section: `## title`, one line saying what was measured, then the body. */
export function section(title: string, description: string, body: string): string {
  return `## ${title}\n\n${description}\n\n${body}\n`
}
