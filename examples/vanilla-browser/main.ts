import { startExample } from './server.js'

const port = Number(process.env.PORT ?? 8080)
const example = await startExample({ port }).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error
  console.error(`port ${port} is in use: set PORT to another one (PORT=0 picks a free port)`)
  process.exit(1)
})
console.log(`open ${example.url}`)
process.once('SIGINT', () => void example.close())
process.once('SIGTERM', () => void example.close())
