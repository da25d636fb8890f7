import { startExample } from './server.js'

const example = await startExample({ port: Number(process.env.PORT ?? 8080) })
console.log(`open ${example.url}`)
process.once('SIGINT', () => void example.close())
process.once('SIGTERM', () => void example.close())
