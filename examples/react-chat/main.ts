import { startChatServer } from './server.js'

// `pnpm start`: the chat and its page on one port (PORT, else 5174).
const server = await startChatServer(Number(process.env.PORT ?? 5174))
console.log(`React chat on ${server.url} (open it in two windows; add ?name=ann&room=lobby)`)
