import { useEffect, useState } from 'react'
import type { ClientState } from '@lifeline/core'
import { useConnectionState } from './hooks.js'

/** What the badge says: connected, reconnecting in N s, connecting, offline. */
function describe(state: ClientState, now: number, since: number): string {
  switch (state.status) {
    case 'open':
      return 'connected'
    case 'reconnecting':
      return `reconnecting in ${Math.max(0, Math.ceil((since + state.delayMs - now) / 1000))} s`
    case 'connecting':
      return 'connecting'
    default:
      return 'offline'
  }
}

/** The connection's state; re-renders on a change of state, and each second of a countdown. */
export function ConnectionBadge() {
  const state = useConnectionState()
  const [since, setSince] = useState(() => Date.now())
  const [now, setNow] = useState(since)
  useEffect(() => {
    const changed = Date.now()
    setSince(changed)
    setNow(changed)
    if (state.status !== 'reconnecting') return
    const ticker = setInterval(() => setNow(Date.now()), 1_000)
    return () => clearInterval(ticker)
  }, [state])
  return (
    <p data-testid="connection" data-status={state.status}>
      {describe(state, now, since)}
    </p>
  )
}
