import type { Said } from './schema.js'

export interface Line extends Said {
  /** Sent by this page and not yet acknowledged by the server. */
  pending: boolean
}

/**
 * The most lines a page keeps, the oldest dropped first: a room that chats all day would
 * otherwise grow the page's memory, and its rendering, without end. Twice the history a room
 * keeps on the server (100), so a page that catches up from it loses nothing it showed.
 */
export const maxLines = 200

/** The newest `maxLines` of `lines`. */
function bounded(lines: Line[]): Line[] {
  return lines.length > maxLines ? lines.slice(lines.length - maxLines) : lines
}

/** Adds `said` unless a line with its id is there already (a message is shown once). */
export function merge(lines: Line[], said: Said, pending = false): Line[] {
  return lines.some((line) => line.id === said.id)
    ? lines
    : bounded([...lines, { ...said, pending }])
}

/**
 * The room's history, in the server's order, with what it does not hold where it belongs: the
 * lines `shownWhenAsked` (the page's as it asked for the history) that the server had and the
 * history no longer holds (it keeps the last 100 of a room, a page shows up to 200) came before
 * it; ours still pending, and what came live since it was asked, after it. Each message once,
 * in order, however it arrived.
 */
export function withHistory(
  lines: Line[],
  history: Said[],
  shownWhenAsked: ReadonlySet<string>,
): Line[] {
  const shown = new Map(lines.map((line) => [line.id, line]))
  const known = new Set(history.map((said) => said.id))
  const missing = lines.filter((line) => !known.has(line.id))
  const older = missing.filter((line) => shownWhenAsked.has(line.id) && !line.pending)
  return bounded([
    ...older,
    ...history.map((said) => shown.get(said.id) ?? { ...said, pending: false }),
    ...missing.filter((line) => !older.includes(line)),
  ])
}

/** The server acknowledged our message `id`: no longer pending. */
export function confirm(lines: Line[], id: string): Line[] {
  return lines.map((line) => (line.id === id ? { ...line, pending: false } : line))
}
