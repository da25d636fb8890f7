/** Number formats for benchmark output (tables are Markdown: `lib/samples.ts`). */

/** `1_234_567` → `1.23 M`, `45_678` → `45.7 k`. */
export function formatRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(2)} M`
  if (opsPerSecond >= 1e3) return `${(opsPerSecond / 1e3).toFixed(1)} k`
  return opsPerSecond.toFixed(0)
}

export function formatBytes(bytes: number): string {
  return bytes >= 10_240 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} B`
}

export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`
}
