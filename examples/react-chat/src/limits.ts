/**
 * What the chat keeps of what a client names and says, shared by the page and the server: the
 * server drops a message whose room or id is longer than `nameLength` and keeps the first
 * `textLength` characters of its text (`server.ts`); the page stays within both, so its user is
 * heard as the page shows it rather than seeing a message confirmed that reached no one.
 */
export const chatLimits = { nameLength: 100, textLength: 500 } as const

/**
 * A sender's name, within what leaves its ids (`${name}-${time}-${count}`, see `App.tsx`) room
 * for the time and a count under `nameLength`.
 */
export const senderNameLength = chatLimits.nameLength - 20

/** The first `length` UTF-16 units of `text`, never half of a surrogate pair. */
export function cut(text: string, length: number): string {
  const kept = text.slice(0, length)
  return /[\uD800-\uDBFF]$/.test(kept) && text.length > length ? kept.slice(0, -1) : kept
}
