/**
 * Shared pieces of the benchmarks that run each sample in a fresh process: the runner, rotated
 * rounds, medians with min–max, and Markdown tables (every `main.ts` prints a `## Title`, a
 * one-line description and its table on stdout; progress goes to stderr).
 */
import { execFileSync } from 'node:child_process'
import { median } from './measure.js'

/** Runs `script` in a fresh Node process and parses the one JSON line it prints. */
export function runSample<T>(script: string, args: readonly string[], timeoutMs = 180_000): T {
  const output = execFileSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = output.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line) as T
}

/**
 * One warm-up sample per variant, then `rounds` rounds in which every variant runs once, the
 * order rotated each round so a slow phase of the machine hurts all variants alike. Returns the
 * samples per variant, indexed by round, so ratios can be taken within a round.
 */
export function runRounds<T>(
  variants: readonly string[],
  rounds: number,
  sample: (variant: string) => T,
  label = '',
): Map<string, T[]> {
  const results = new Map<string, T[]>(variants.map((variant) => [variant, []]))
  for (const variant of variants) {
    progress(`${label} warm-up ${variant}`)
    sample(variant)
  }
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length] as string
      progress(`${label} round ${round + 1}/${rounds} ${variant}`)
      results.get(variant)?.push(sample(variant))
    }
  }
  return results
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

/** The median of per-round ratios `value[i] / baseline[i]`, as `0.97×`. */
export function ratioOf(values: readonly number[], baseline: readonly number[]): string {
  const ratios = values
    .map((value, i) => value / (baseline[i] ?? NaN))
    .filter((ratio) => Number.isFinite(ratio))
  return ratios.length === 0 ? 'n/a' : `${median(ratios).toFixed(2)}×`
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
