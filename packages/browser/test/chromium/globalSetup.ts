import { createServer as createHttpServer } from 'node:http'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { createMemorySessionStore, createServer } from '@lifeline/server'
import type { LifelineServer } from '@lifeline/server'
import { createFaultProxy, startWsServer } from '@lifeline/test-utils'
import type { FaultProxy } from '@lifeline/test-utils'
import { assertChromium, closeAll, startControlServer } from '@lifeline/test-utils/chromium'
import type { TestProject } from 'vitest/node'
import type { ControlRequest, LabSchema } from './servers.js'

/**
 * Node side of the Chromium tests, on 127.0.0.1 port 0:
 * - a Lifeline server that echoes `say` as `said` and records what it processed, restarted on
 *   the same session store (so a restart loses no session), behind
 * - a fault proxy, which plays a server that died (cut links, refused connects) or a half-open
 *   link (black hole);
 * - a `ws` echo server, for the raw socket;
 * - a page server for the tests that need a top-level page (offline, the back/forward cache, a
 *   frozen page): `/lab.html` runs the preset bundled for the browser with `lab.ts`;
 * - the control link (`@lifeline/test-utils/chromium`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertChromium()
  const started: { close(): Promise<void> }[] = []
  try {
    const lifeline = new RestartableServer()
    await lifeline.start()
    started.push(lifeline)
    const proxy = await createFaultProxy({ targetPort: lifeline.port })
    started.push(proxy)
    const echo = await startWsServer({
      recordMessages: false,
      onConnection: ({ socket }) =>
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
    })
    started.push(echo)
    const pages = await servePages()
    started.push({ close: () => new Promise((resolve) => pages.close(() => resolve())) })
    const control = await startControlServer((request: ControlRequest) =>
      perform(request, lifeline, proxy),
    )
    started.push(control)
    project.provide('chromiumServers', {
      lifelinePort: proxy.port,
      echoPort: echo.port,
      pagesPort: portOf(pages),
      controlPort: control.port,
    })
  } catch (error) {
    await closeAll(started)
    throw error
  }
  return () => closeAll(started)
}

async function perform(request: ControlRequest, lifeline: RestartableServer, proxy: FaultProxy) {
  switch (request.op) {
    case 'restart':
      await lifeline.restart()
      proxy.setTarget(lifeline.port)
      return null
    case 'kill':
      proxy.refuse(true)
      proxy.cut()
      return null
    case 'revive':
      proxy.refuse(false)
      return null
    case 'blackhole':
      proxy.blackhole(request.on)
      return null
    case 'received':
      return lifeline.received.get(request.run) ?? []
    case 'accepted':
      return proxy.counters.accepted
  }
}

/** A Lifeline server that can be closed and started again on the same session store. */
class RestartableServer {
  readonly store = createMemorySessionStore()
  readonly received = new Map<string, number[]>()
  #server: LifelineServer<LabSchema> | undefined

  get port(): number {
    return this.#server?.port ?? 0
  }

  async start(): Promise<void> {
    const server = createServer<LabSchema>({ port: 0, store: this.store })
    server.on('connection', (peer) => {
      peer.on('say', ({ run, n }) => {
        let numbers = this.received.get(run)
        if (!numbers) this.received.set(run, (numbers = []))
        numbers.push(n)
        peer.send('said', { run, n })
      })
    })
    server.handle('ping', () => 'pong' as const)
    await server.ready
    this.#server = server
  }

  async restart(): Promise<void> {
    await this.close()
    await this.start()
  }

  async close(): Promise<void> {
    await this.#server?.close()
    this.#server = undefined
  }
}

const here = fileURLToPath(new URL('.', import.meta.url))

const labHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>lab</title></head>
<body><script type="module" src="/lab.js"></script></body></html>`

/** Serves the lab page with its script bundled for the browser, as an application would ship it. */
async function servePages(): Promise<Server> {
  const bundle = await build({
    entryPoints: [`${here}lab.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  const server = createHttpServer((request, response) => {
    const [type, body] =
      request.url === '/lab.js'
        ? ['text/javascript', script]
        : request.url === '/away.html'
          ? ['text/html', '<!doctype html><title>away</title><p>away</p>']
          : ['text/html', labHtml]
    // No `Cache-Control: no-store`: it would keep the page out of the back/forward cache.
    response.writeHead(200, { 'content-type': `${type}; charset=utf-8` })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

function portOf(server: Server): number {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  return address.port
}
