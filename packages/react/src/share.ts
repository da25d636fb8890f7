import type { Client } from '@lifeline/core'

/** How many providers hold a client, and its close while none does. */
interface Holders {
  count: number
  closing: ReturnType<typeof setTimeout> | undefined
}

/** The longest delay `setTimeout` keeps (about 24.8 days). */
const maxTimerDelayMs = 2 ** 31 - 1

const holders = new WeakMap<Client<never>, Holders>()

/**
 * Whether a mounted provider holds `client` (or its close is pending). One that no provider
 * holds yet is about to be connected by the provider that renders it.
 */
export function isHeld(client: Client<never>): boolean {
  const holding = holders.get(client)
  return holding !== undefined && (holding.count > 0 || holding.closing !== undefined)
}

/**
 * Holds `client` for a mounted provider and returns the release, which takes the delay in force
 * then. The first holder connects a client that is not connected (created with `startClosed`,
 * or closed by an earlier last release); the last release closes it `closeDelayMs` later, unless
 * a holder comes back first. StrictMode's mount–unmount–mount and a hot reload release and hold
 * again within one commit, so they keep the one socket instead of closing it and opening another.
 */
export function hold(client: Client<never>): (closeDelayMs: number) => void {
  const held = holders.get(client) ?? { count: 0, closing: undefined }
  holders.set(client, held)
  clearTimeout(held.closing)
  held.closing = undefined
  const { status } = client.state
  if (held.count++ === 0 && (status === 'closed' || status === 'closing')) client.connect()
  let released = false
  return (closeDelayMs) => {
    if (released) return
    released = true
    if (--held.count > 0) return
    // `Infinity`: never closed here. Timers take at most 2^31 - 1 ms, and run a longer delay at
    // once.
    if (closeDelayMs === Infinity) return
    held.closing = setTimeout(
      () => {
        held.closing = undefined
        client.close()
      },
      Math.min(closeDelayMs, maxTimerDelayMs),
    )
  }
}
