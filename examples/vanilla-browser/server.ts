/**
 * The example's server: one Node `http` server for the page and, on `/ws`, a Lifeline server
 * that echoes what it is told. `POST /restart` closes the Lifeline server (clients are told
 * 1012), leaves `/ws` down for `downMs`, and starts a new one on the same session store, so
 * every page resumes its session and what it sent meanwhile arrives once.
 */
import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer } from '@lifeline/server'
import type { EchoSchema } from './schema.js'

export interface ExampleOptions {
  /** `0` picks a free port. @default 8080 */
  readonly port?: number
  /** How long a restart leaves `/ws` down. @default 2000 */
  readonly downMs?: number
}

export interface Example {
  readonly url: string
  /** Resolves when the Lifeline server is back; rejects once `close()` has begun. */
  restart(): Promise<void>
  close(): Promise<void>
}

const file = (name: string) => fileURLToPath(new URL(name, import.meta.url))

export async function startExample({ port = 8080, downMs = 2_000 }: ExampleOptions = {}) {
  const html = await readFile(file('index.html'), 'utf8')
  // The page's script, bundled for the browser as an application's build would.
  const bundle = await build({
    entryPoints: [file('page.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  const store = createMemorySessionStore()
  let lifeline: LifelineServer<EchoSchema> | undefined
  let restarting: Promise<void> | undefined
  // Once `close()` has begun, no restart: one asked meanwhile (a click on a keep-alive
  // connection) started a Lifeline server on the closed HTTP server, which nothing closed.
  let closing = false

  // The page's own origins, as its browser sends them: another site's page open in the same
  // browser may neither restart the server (a cross-site POST is sent, only its answer is hidden)
  // nor open the WebSocket as this page. They come from the port listened on, never from the
  // request's Host: a site whose name its DNS points at 127.0.0.1 (DNS rebinding) sends its own
  // name as both Host and Origin.
  const ownOrigins = new Set<string>()
  const fromPage = (origin: string | undefined) => origin !== undefined && ownOrigins.has(origin)
  const http = createHttpServer((request, response) => {
    if (request.method === 'POST' && request.url === '/restart') {
      if (!fromPage(request.headers.origin)) {
        response.writeHead(403).end()
        return
      }
      if (closing) {
        response.writeHead(503).end()
        return
      }
      void restart()
      response.writeHead(202).end()
    } else if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    } else {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
    }
  })

  const start = async () => {
    const server = createServer<EchoSchema>({
      server: http,
      path: '/ws',
      store,
      allowedOrigins: fromPage,
    })
    server.on('connection', (peer) => {
      peer.on('say', (data: unknown) => {
        // What a client sent, whatever the schema says: one with no data or no text (any client
        // can send it) is ignored, where taking it apart threw, logged once a message.
        const text = typeof data === 'object' && data !== null && 'text' in data ? data.text : null
        if (typeof text !== 'string') return
        peer.send('echo', { text, at: new Date().toISOString().slice(11, 19) })
      })
    })
    await server.ready
    lifeline = server
  }

  const restart = () =>
    closing
      ? Promise.reject(new Error('the example is closing'))
      : (restarting ??= (async () => {
          await lifeline?.close()
          lifeline = undefined
          await new Promise((resolve) => setTimeout(resolve, downMs))
          if (!closing) await start()
        })().finally(() => (restarting = undefined)))

  // A port in use rejects (EADDRINUSE) rather than throwing from the server's 'error' event.
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject)
      resolve()
    })
  })
  const listening = (http.address() as AddressInfo).port
  ownOrigins.add(`http://127.0.0.1:${listening}`).add(`http://localhost:${listening}`)
  await start()
  const example: Example = {
    url: `http://127.0.0.1:${listening}/`,
    restart,
    async close() {
      closing = true
      await restarting
      await lifeline?.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
  return example
}
