import { closeOnSignals } from '@lifeline/server'
import { startChatServer } from './server.js'

// `pnpm start`: the chat and its page on one port (PORT, else 5174).
const port = Number(process.env.PORT ?? 5174)
// Vite's hot reload only with HOT_RELOAD=1, for editing the page: its client reloads every page
// once a server that went away is back, so a restart of this process dropped what the pages held
// pending, which the chat would otherwise have sent to the new one.
const hotReload = process.env.HOT_RELOAD === '1'
const server = await startChatServer(port, hotReload).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error
  console.error(`port ${port} is in use: set PORT to another one (PORT=0 picks a free port)`)
  process.exit(1)
})
// Stopped by SIGTERM or Ctrl-C, the chat closes: its pages are told 1012 and come back at once
// to the next process, rather than losing their link and waiting out their backoff.
closeOnSignals(server)
console.log(`React chat on ${server.url} (open it in two windows; add ?name=ann&room=lobby)`)
