import { closeOnSignals } from '@lifeline/server'
import { startChatServer } from './server.js'

// `pnpm start`: the chat and its page on one port (PORT, else 5174).
const server = await startChatServer(Number(process.env.PORT ?? 5174))
// Stopped by SIGTERM or Ctrl-C, the chat closes: its pages are told 1012 and come back at once
// to the next process, rather than losing their link and waiting out their backoff.
closeOnSignals(server)
console.log(`React chat on ${server.url} (open it in two windows; add ?name=ann&room=lobby)`)
