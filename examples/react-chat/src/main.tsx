import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createClient } from '@lifeline/browser'
import { LifelineProvider } from '@lifeline/react'
import { App } from './App.js'
import { chatLimits, cut, senderNameLength } from './limits.js'
import type { ChatSchema } from './schema.js'

// The browser preset: the page's own WebSocket, no attempts while offline, a link checked at once
// when the page is shown again, and a clean close and resume around the back/forward cache.
const client = createClient<ChatSchema>({
  url: () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat`,
  startClosed: true,
  socket: { maxDelayMs: 5_000 },
})

const params = new URLSearchParams(location.search)
// Within what the chat keeps: past it, the server drops the page's messages (`limits.ts`).
const name = cut(params.get('name') ?? 'guest', senderNameLength)
const room = cut(params.get('room') ?? 'lobby', chatLimits.nameLength)
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <LifelineProvider client={client}>
      <App name={name} initialRoom={room} />
    </LifelineProvider>
  </StrictMode>,
)
