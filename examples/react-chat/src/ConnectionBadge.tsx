import { useEffect, useState } from 'react'
import type { ClientState } from '@lifeline/core'
import { useConnectionState } from './hooks.js'

/** What the badge says: connected, offline, reconnecting in N s, connecting, closed. */
function describe(state: ClientState, now: number, since: number, online: boolean): string {
  if (state.status === 'open') return 'connected'
  // The browser preset makes no attempt while the network is down: no countdown to show.
  if (!online && (state.status === 'reconnecting' || state.status === 'connecting')) {
    return 'offline'
  }
  switch (state.status) {
    case 'reconnecting': {
      const seconds = Math.ceil((since + state.delayMs - now) / 1000)
      return seconds > 0 ? `reconnecting in ${seconds} s` : 'reconnecting'
    }
    case 'connecting':
      return 'connecting'
    default:
      return 'closed'
  }
}

/** Whether the browser says it is online, followed. */
function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine)
  useEffect(() => {
    const changed = () => setOnline(navigator.onLine)
    window.addEventListener('online', changed)
    window.addEventListener('offline', changed)
    return () => {
      window.removeEventListener('online', changed)
      window.removeEventListener('offline', changed)
    }
  }, [])
  return online
}

/** The connection's state; re-renders on a change of state, and each second of a countdown. */
export function ConnectionBadge() {
  const state = useConnectionState()
  const online = useOnline()
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
      {describe(state, now, since, online)}
    </p>
  )
}
