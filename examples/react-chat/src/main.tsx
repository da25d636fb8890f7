import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createClient } from '@lifeline/core'
import { LifelineProvider } from '@lifeline/react'
import { App } from './App.js'
import type { ChatSchema } from './schema.js'

// The browser's own WebSocket through core's `createClient`; `@lifeline/browser` (online and
// offline events, page visibility) can take its place once it is released.
const client = createClient<ChatSchema>({
  url: () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat`,
  startClosed: true,
  socket: { WebSocket, maxDelayMs: 5_000 },
})

const params = new URLSearchParams(location.search)
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <LifelineProvider client={client}>
      <App name={params.get('name') ?? 'guest'} initialRoom={params.get('room') ?? 'lobby'} />
    </LifelineProvider>
  </StrictMode>,
)
