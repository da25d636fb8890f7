/** Plain-text tables for benchmark output. */

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

/** Left-aligns the first column and right-aligns the others. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join(
    '\n',
  )
}
